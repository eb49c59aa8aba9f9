/**
 * The one way to reach ClickHouse. `CLICKHOUSE_URL` set: `@clickhouse/client` over HTTP. Unset: the
 * same client over chdb's in-process connection, data in `$TWICHIST_DATA_DIR/clickhouse`.
 * Everything else takes the {@link ClickHouseClient} this returns and never knows which it got.
 */
import type { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { Connection } from '@clickhouse/client/dist/common/connection.js';
import type { Config } from './config.ts';
import { makeDirs } from './dirs.ts';

export type { ClickHouseClient };

/** Settings every call carries, so embedded and server answer in the same shapes. */
const COMMON_SETTINGS: ClickHouseSettings = {
  // Counts as JSON numbers on both backends; beyond 2^53 precision is lost, which no count here reaches.
  output_format_json_quote_64bit_integers: 0,
  date_time_input_format: 'best_effort',
};

export interface OpenClickHouseOptions {
  /** Create the database (`ENGINE = Atomic`) when missing. Default true. */
  createDatabase?: boolean;
  /** Per-request timeout for the HTTP backend. */
  requestTimeoutMs?: number;
  /**
   * Embedded only: when another twichist process holds the data folder, go through its control
   * server (default true). False opens the folder directly and fails if it is locked.
   */
  viaControl?: boolean;
  /**
   * Embedded only: never open the folder in this process; without a running twichist process serving
   * it, fail with {@link NoControlServerError}. For short-lived commands that must not hold the folder
   * while the long-running stage that owns it restarts (`import` publishing to JetStream).
   */
  controlOnly?: boolean;
  /**
   * Embedded only: how long to keep trying to open a folder another process holds before failing (ms;
   * default 0, fail at once). For `up`: a short command on a folder nothing serves (`twichist status`,
   * `sql`) holds it for a second or two, and an `up` started meanwhile failed with "Cannot lock file".
   * Costs a second `up` on a served folder this long before it fails the same way.
   */
  lockWaitMs?: number;
}

/** `controlOnly` was asked and no twichist process serves the embedded database of the data folder. */
export class NoControlServerError extends Error {
  constructor(dataDir: string) {
    super(`no running twichist process (enrich, up, api) serves the embedded database in ${dataDir}`);
    this.name = 'NoControlServerError';
  }
}

/** The `@clickhouse/client` connection contract (what chdb implements too). */
export type ChConnection = Connection<Readable>;
type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];

/** chdb's raw insert (`connection.chdb.rawInsert`): the body Buffer goes to the engine as the insert's input. */
type ChdbRawInsert = (params: { table: string; columns?: string[]; format: string; values: Buffer; settings?: ClickHouseSettings }) => Promise<unknown>;

/** The embedded engine of this process, once opened: the control server serves it to other processes. */
let embedded: { path: string; connection: ChConnection; rawInsert: ChdbRawInsert; connections: () => number; close: () => Promise<void> } | null = null;

/**
 * Rows already serialized as JSONCompactEachRow lines (without the final newline), inserted as they are
 * by the clients this module creates: enrich writes the same bytes to its journal, so each row is
 * serialized once instead of twice. Any other client would send it as an object: check
 * {@link acceptsPreEncoded} first.
 */
export class PreEncodedRows {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
const PRE_ENCODED = Symbol.for('twichist.acceptsPreEncodedRows');
const JSON_HANDLING = {
  parse: JSON.parse,
  stringify: (v: unknown): string => (v instanceof PreEncodedRows ? v.text : JSON.stringify(v)),
};
function markPreEncoded(client: ClickHouseClient): ClickHouseClient {
  Object.defineProperty(client, PRE_ENCODED, { value: true });
  return client;
}
/** True for clients from {@link createClickHouse} (also through a Proxy): they insert {@link PreEncodedRows} verbatim. */
export function acceptsPreEncoded(client: ClickHouseClient): boolean {
  return (client as unknown as Record<symbol, unknown>)[PRE_ENCODED] === true;
}

/**
 * Inserts a JSONCompactEachRow body (UTF-8, every line ending in a newline) into `columns` of `table`,
 * with `settings` for this insert only. Resolves when the engine finished the insert; rejects with an
 * error whose `code` is ClickHouse's error code (as {@link isTransientClickHouseError} expects).
 */
export type RawInsert = (table: string, columns: string[], body: Buffer, settings: ClickHouseSettings) => Promise<void>;
/** Where a client carries its {@link RawInsert}; a Proxy around the client (tests' fault injection) may wrap it. */
export const RAW_INSERT = Symbol.for('twichist.rawInsert');

/**
 * The embedded engine's raw insert for a client that opened it directly, else null (HTTP, or through
 * another process's control server: use `client.insert` with {@link PreEncodedRows}).
 * Why: `client.insert` on chdb becomes one query text `SET ...; INSERT ... FORMAT ...\n<body>`, built
 * by string concatenation on the JS thread and then split into statements by the engine, which scans
 * the whole body. The raw path hands the Buffer over as the insert's input with the settings in the
 * INSERT's own SETTINGS clause. Measured on chdb 3.4 (11,000 `messages` rows, with every view below
 * it): ~200 ms instead of ~350-570 ms per insert, and ~10-20 ms less JS-thread time.
 */
export function rawInserter(client: ClickHouseClient): RawInsert | null {
  return ((client as unknown as Record<symbol, unknown>)[RAW_INSERT] as RawInsert | undefined) ?? null;
}

/** chdb's errors carry `clickhouseCode`; the rest of Twichist reads ClickHouse's code from `code`. */
function withClickHouseCode(err: unknown): unknown {
  const e = err as { message?: unknown; clickhouseCode?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = e?.clickhouseCode ?? /Code: (\d+)\./.exec(message)?.[1];
  // No ClickHouse code (closed session, engine gone): left as it is, which counts as transient.
  if (code === undefined || code === null) return err;
  return Object.assign(new Error(message, { cause: err }), { code: String(code) });
}

/**
 * Opens the configured ClickHouse with the configured database as the default for unqualified names.
 * - `CLICKHOUSE_URL` set: the HTTP client.
 * - Embedded, data folder free: chdb in this process.
 * - Embedded, data folder held by a running twichist process (embedded ClickHouse allows one process
 *   per folder; a second fails with "Cannot lock file .../status"): the same client over that
 *   process's loopback control server (`core/control.ts`), so `sql`, `migrate` and `import` work
 *   without stopping the system.
 */
export async function createClickHouse(config: Config, opts: OpenClickHouseOptions = {}): Promise<ClickHouseClient> {
  const { url, user, password, database, embeddedPath } = config.clickhouse;
  const createDatabase = opts.createDatabase ?? true;
  if (url !== null) {
    // The client's own logger prints every failed request with a stack trace on stderr; the error is
    // thrown to the caller anyway, and the CLI turns it into one line (cli/errors.ts).
    const common = { url, username: user, password, request_timeout: opts.requestTimeoutMs ?? 60_000, clickhouse_settings: COMMON_SETTINGS, log: { level: ClickHouseLogLevel.OFF } };
    if (createDatabase) {
      const boot = createClient(common);
      try {
        await boot.command({ query: `CREATE DATABASE IF NOT EXISTS ${database} ENGINE = Atomic` });
      } finally {
        await boot.close();
      }
    }
    return markPreEncoded(createClient({ ...common, database, json: JSON_HANDLING }));
  }
  if (embedded === null && (opts.viaControl ?? true)) {
    const { connectControl } = await import('./control.ts');
    const remote = await connectControl(config.dataDir);
    if (remote) return embeddedClient(remote, database, createDatabase);
  }
  if (opts.controlOnly && embedded === null) throw new NoControlServerError(config.dataDir);
  const client = await embeddedClient(await openEmbedded(embeddedPath, opts.lockWaitMs ?? 0), database, createDatabase);
  const raw = embedded!.rawInsert;
  const rawInsert: RawInsert = async (table, columns, body, settings) => {
    try {
      // Qualified name: the raw path does not run the `USE <db>` that withDatabase puts before each call.
      // COMMON_SETTINGS too, as every other call carries them; no abort signal, so the promise
      // settles only when the engine is done (store.ts relies on that for timed-out attempts).
      await raw({ table: `${database}.${table}`, columns, format: 'JSONCompactEachRow', values: body, settings: { ...COMMON_SETTINGS, ...settings } });
    } catch (err) {
      throw withClickHouseCode(err);
    }
  };
  // configurable: a Proxy around the client may then answer with a wrapped function (a Proxy must
  // return a non-configurable, read-only property's own value).
  Object.defineProperty(client, RAW_INSERT, { value: rawInsert, configurable: true });
  return client;
}

async function embeddedClient(conn: ChConnection, database: string, createDatabase: boolean): Promise<ClickHouseClient> {
  if (createDatabase) {
    await conn.command({ query: `CREATE DATABASE IF NOT EXISTS ${database} ENGINE = Atomic` });
  }
  return markPreEncoded(createClient({ connection: withDatabase(conn, database) as unknown as ClientConnection, clickhouse_settings: COMMON_SETTINGS, json: JSON_HANDLING }));
}

/**
 * The embedded engine has one session per process and `USE` is session state, so two clients on
 * different databases (tests, the control server's callers) would switch each other's default.
 * Each call therefore starts with its own `USE <db>;` (chdb runs the statements of one call together).
 */
function withDatabase(conn: ChConnection, database: string): ChConnection {
  const use = <P extends { query: string }>(p: P): P => ({ ...p, query: `USE ${database}; ${p.query}` });
  return {
    ping: (p) => conn.ping(p),
    query: (p) => conn.query(use(p)),
    insert: (p) => conn.insert(use(p)),
    command: (p) => conn.command(use(p)),
    exec: (p) => conn.exec(use(p)),
    close: () => conn.close(),
  };
}

/** The embedded connection this process holds, or null (for the control server). */
export function embeddedConnection(): ChConnection | null {
  return embedded?.connection ?? null;
}

/**
 * Closes this process's embedded engine, which releases the data folder's lock (clients' `close()` leave it
 * open for the others). For a short command that must not keep the folder from a `twichist up` started
 * meanwhile: every client of this process is unusable after.
 */
export async function closeEmbedded(): Promise<void> {
  const e = embedded;
  embedded = null;
  await e?.close();
}

/**
 * Shuts this process's embedded engine down before the process exits (`up`'s last step). Exiting with a view
 * refresh or a query still running on chdb's threads crashed the process in chdb's exit teardown: SIGSEGV after
 * "stopped cleanly", 2 of about 30 `up`s stopped right after their replay (when `up` refreshes every view).
 * So: cancel running refreshes (`SYSTEM STOP VIEWS`: the views are safe to cancel, as a kill is, and the
 * stopped state is not kept, so the next start refreshes on schedule), wait up to `waitMs` for chdb's
 * operations still in flight, then close the engine. Cost: a refresh cut short is redone at the next start.
 */
export async function shutdownEmbedded(waitMs = 30_000): Promise<void> {
  const e = embedded;
  if (!e) return;
  // On a connection of its own: with every pooled one busy (one of them in SYSTEM WAIT VIEW) it would queue.
  const { createChdbConnection } = await import('chdb/connection');
  let side: ReturnType<typeof createChdbConnection> | null = null;
  try {
    side = createChdbConnection({ path: e.path });
    await createClient({ connection: side as unknown as ClientConnection, clickhouse_settings: COMMON_SETTINGS }).command({ query: 'SYSTEM STOP VIEWS' });
  } catch {
    // Uncancelled refreshes only make the drain longer; closing the engine is what must still happen.
  } finally {
    await side?.close().catch(() => {});
  }
  const { drainPending } = (await import('chdb')) as unknown as { drainPending: () => Promise<void> };
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    drainPending().then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), waitMs))),
  ]);
  clearTimeout(timer);
  // Still running after the wait: closing now would pull the engine from under it; leave it to the exit.
  if (drained) await closeEmbedded();
}

/** chdb's open, retried for `lockWaitMs` while it fails (another process holds the folder's lock). */
async function createChdb(dir: string, lockWaitMs: number) {
  const { createChdbConnection } = await import('chdb/connection');
  const until = Date.now() + lockWaitMs;
  for (;;) {
    try {
      return createChdbConnection({ path: dir });
    } catch (err) {
      if (Date.now() >= until) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Most chdb connections this process opens on its data folder. chdb runs one query at a time per
 * connection, so with one connection an API read waited behind `up`'s `SYSTEM WAIT VIEW` (seconds to
 * minutes) or an enrich insert; connections on the same folder share the engine and its data and run in
 * parallel (bench/pool.ts). Opened only when every open one is busy, so short commands keep one. Cost per
 * extra connection: ~0.3 ms to open and its own session state; each running call still holds one of
 * libuv's threads, as before. Not a fix for every wait: chdb runs parameterized queries (query_params)
 * one at a time in the whole process, on any connection.
 */
const MAX_EMBEDDED_CONNECTIONS = 4;

/** The embedded engine's connections and how many calls each is running. */
interface Pool {
  members: { conn: ChConnection; chdb: Awaited<ReturnType<typeof createChdb>>; running: number }[];
  closed: boolean;
}

async function openEmbedded(dir: string, lockWaitMs: number): Promise<ChConnection> {
  // chdb binds one data folder per process; every client of this process shares the one pool of connections.
  if (embedded) {
    if (embedded.path !== dir) throw new Error(`embedded ClickHouse is already open at ${embedded.path}; one data folder per process`);
    return embedded.connection;
  }
  // Every command that opens the embedded database comes here; only `up` runs the preflight's data folder check.
  makeDirs(dir, 'TWICHIST_DATA_DIR');
  // Imported lazily (in createChdb): the server path must not load the engine library. The first
  // connection takes the folder's lock (waiting lockWaitMs); more on the same folder open at once.
  const first = await createChdb(dir, lockWaitMs);
  const { createChdbConnection } = await import('chdb/connection');
  // The settings calls have changed, with their defaults, over every connection: the raw insert bypasses the
  // wrapper, so it puts them in its own SETTINGS clause. Without that an API read's max_execution_time (a
  // session SET on chdb) applied to the next enrich insert of the same connection. One map for all: a
  // connection resets settings only another one changed, a few `SET`s more per call.
  const changed = new Map<string, string>();
  const pool: Pool = { members: [], closed: false };
  const add = (c: typeof first) => {
    const m: Pool['members'][number] = { conn: withoutStickySettings(c as unknown as ChConnection, changed), chdb: c, running: 0 };
    pool.members.push(m);
    return m;
  };
  add(first);
  // An idle connection, else a new one, else the least busy. Session state (SET, temporary tables) stays
  // per call: each call carries its own `USE` and settings, and nothing here keeps state across calls.
  const pick = () => {
    let best = pool.members[0];
    for (const m of pool.members) {
      if (m.running === 0) return m;
      if (m.running < best.running) best = m;
    }
    if (!pool.closed && pool.members.length < MAX_EMBEDDED_CONNECTIONS) {
      try {
        return add(createChdbConnection({ path: dir }));
      } catch {
        // No further connection (the engine refused it): queue on the least busy one, as with a single connection.
      }
    }
    return best;
  };
  const on = async <T>(fn: (m: Pool['members'][number]) => Promise<T>): Promise<T> => {
    const m = pick();
    m.running++;
    try {
      return await fn(m);
    } finally {
      m.running--;
    }
  };
  // close() of one client must not close the engine under the others; closeEmbedded does.
  const shared: ChConnection = {
    ping: (p) => on((m) => m.conn.ping(p)),
    query: (p) => on((m) => m.conn.query(p)),
    insert: (p) => on((m) => m.conn.insert(p)),
    command: (p) => on((m) => m.conn.command(p)),
    exec: (p) => on((m) => m.conn.exec(p)),
    close: async () => {},
  };
  embedded = {
    path: dir,
    connection: shared,
    connections: () => pool.members.length,
    rawInsert: (p) => on((m) => m.chdb.chdb.rawInsert({ ...p, settings: { ...Object.fromEntries(changed), ...p.settings } } as never)),
    close: async () => {
      pool.closed = true;
      for (const m of pool.members) await m.chdb.close();
    },
  };
  return shared;
}

/** How many chdb connections this process has open on its data folder (0 when none; bench/pool.ts reports it). */
export function embeddedConnectionCount(): number {
  return embedded?.connections() ?? 0;
}

/**
 * chdb applies `clickhouse_settings` as session `SET`s that outlive the call: an insert that passed
 * `insert_deduplication_token` made the next insert without one a silent "duplicate" (measured: the
 * row was dropped). This wrapper makes every call carry every setting any earlier call changed, reset
 * to its default unless the call sets it, so settings behave per call as they do over HTTP.
 * Cost: one `system.settings` lookup the first time a setting name is seen, and a few `SET`s per call.
 */
function withoutStickySettings(conn: ChConnection, defaults = new Map<string, string>()): ChConnection {
  const learn = async (names: string[]) => {
    const unknown = names.filter((n) => !defaults.has(n) && !(n in COMMON_SETTINGS));
    if (unknown.length === 0) return;
    const rs = await conn.query({
      query: 'SELECT name, default FROM system.settings WHERE name IN {names:Array(String)} FORMAT JSONEachRow',
      query_params: { names: unknown },
      clickhouse_settings: Object.fromEntries(defaults),
    });
    let text = '';
    for await (const chunk of rs.stream) text += chunk;
    for (const line of text.split('\n')) {
      if (!line) continue;
      const row = JSON.parse(line) as { name: string; default: string };
      defaults.set(row.name, row.default);
    }
  };
  const withDefaults = async <P extends { clickhouse_settings?: ClickHouseSettings }>(params: P): Promise<P> => {
    const own = params.clickhouse_settings ?? {};
    await learn(Object.keys(own));
    return { ...params, clickhouse_settings: { ...Object.fromEntries(defaults), ...own } };
  };
  return {
    ping: (p) => conn.ping(p),
    query: async (p) => conn.query(await withDefaults(p)),
    insert: async (p) => conn.insert(await withDefaults(p)),
    command: async (p) => conn.command(await withDefaults(p)),
    exec: async (p) => conn.exec(await withDefaults(p)),
    close: () => conn.close(),
  };
}

/** ClickHouse error codes we act on (see `ClickHouseError.code`). */
export const CH_ERROR = {
  UNKNOWN_IDENTIFIER: '47',
  TABLE_ALREADY_EXISTS: '57',
  UNKNOWN_TABLE: '60',
  UNKNOWN_DATABASE: '81',
  TIMEOUT_EXCEEDED: '159',
  MEMORY_LIMIT_EXCEEDED: '241',
} as const;

/** ClickHouse's error code of `err` (`ClickHouseError.code`, a numeric string), or '' when it has none. */
export function clickHouseCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/** Codes where the same request may succeed later: timeouts, network, overload, a read-only replica. */
const TRANSIENT_CODES = new Set([
  CH_ERROR.TIMEOUT_EXCEEDED,
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  CH_ERROR.MEMORY_LIMIT_EXCEEDED,
  '242', // TABLE_IS_READ_ONLY
  '252', // TOO_MANY_PARTS
  '425', // SYSTEM_ERROR
  '999', // KEEPER_EXCEPTION
]);

/**
 * True when retrying the same request later may succeed (server busy, network, timeouts); false when
 * the request itself is wrong and would fail again (syntax, types, unknown table).
 */
export function isTransientClickHouseError(err: unknown): boolean {
  const code = clickHouseCode(err);
  if (/^\d+$/.test(code)) return TRANSIENT_CODES.has(code);
  // Node network errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, socket hang up) and request timeouts.
  return true;
}
