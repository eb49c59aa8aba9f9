/**
 * The one way to reach ClickHouse. `CLICKHOUSE_URL` set: `@clickhouse/client` over HTTP. Unset: the
 * same client over chdb's in-process connection, data in `$TWICHIST_DATA_DIR/clickhouse`.
 * Everything else takes the {@link ClickHouseClient} this returns and never knows which it got.
 */
import fs from 'node:fs';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { Config } from './config.ts';

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
}

/**
 * Opens the configured ClickHouse with the configured database as the default for unqualified names.
 * The embedded backend allows one data folder per process; a second process on the same folder fails
 * with "Cannot lock file .../status" (the control server in `core/control.ts` exists for that).
 */
export async function createClickHouse(config: Config, opts: OpenClickHouseOptions = {}): Promise<ClickHouseClient> {
  const { url, user, password, database, embeddedPath } = config.clickhouse;
  const createDatabase = opts.createDatabase ?? true;
  if (url !== null) {
    const common = { url, username: user, password, request_timeout: opts.requestTimeoutMs ?? 60_000, clickhouse_settings: COMMON_SETTINGS };
    if (createDatabase) {
      const boot = createClient(common);
      try {
        await boot.command({ query: `CREATE DATABASE IF NOT EXISTS ${database} ENGINE = Atomic` });
      } finally {
        await boot.close();
      }
    }
    return createClient({ ...common, database });
  }
  fs.mkdirSync(embeddedPath, { recursive: true });
  // Imported lazily: the server path must not load the 500 MB engine library.
  const { createChdbConnection } = await import('chdb/connection');
  // chdb types the connection against its own copy of @clickhouse/client-common; the shapes are the same.
  const connection = createChdbConnection({ path: embeddedPath }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
  const client = createClient({ connection, clickhouse_settings: COMMON_SETTINGS });
  if (createDatabase) await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database} ENGINE = Atomic` });
  // The embedded session keeps `USE` (and every SET) for later queries; that is what makes unqualified names work.
  await client.command({ query: `USE ${database}` });
  return withoutStickySettings(client);
}

/**
 * chdb applies `clickhouse_settings` as session `SET`s that outlive the call: an insert that passed
 * `insert_deduplication_token` would make the next insert without one a silent "duplicate" (measured:
 * the row was dropped). This wrapper makes every call carry every setting any earlier call changed,
 * reset to its default unless the call sets it, so settings behave per call as they do over HTTP.
 * Cost: one `system.settings` lookup the first time a setting name is seen, and a few `SET`s per call.
 */
function withoutStickySettings(client: ClickHouseClient): ClickHouseClient {
  const defaults = new Map<string, string>();
  const learn = async (names: string[]) => {
    const unknown = names.filter((n) => !defaults.has(n) && !(n in COMMON_SETTINGS));
    if (unknown.length === 0) return;
    // Reserve the names first so concurrent calls do not look them up twice.
    for (const n of unknown) defaults.set(n, '');
    const rs = await client.query({
      query: 'SELECT name, default FROM system.settings WHERE name IN {names:Array(String)}',
      query_params: { names: unknown },
      format: 'JSONEachRow',
      clickhouse_settings: Object.fromEntries(defaults),
    });
    for (const row of await rs.json<{ name: string; default: string }>()) defaults.set(row.name, row.default);
  };
  const patch = <P extends { clickhouse_settings?: ClickHouseSettings }>(fn: (p: P) => Promise<unknown>) =>
    async (params: P) => {
      const own = params.clickhouse_settings ?? {};
      await learn(Object.keys(own));
      return fn({ ...params, clickhouse_settings: { ...Object.fromEntries(defaults), ...own } });
    };
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'query' || prop === 'insert' || prop === 'command' || prop === 'exec') return patch(value.bind(target));
      return value.bind(target);
    },
  });
}

/** ClickHouse error codes we act on (see `ClickHouseError.code`). */
export const CH_ERROR = {
  UNKNOWN_TABLE: '60',
  SYNTAX_ERROR: '62',
  TIMEOUT_EXCEEDED: '159',
  TOO_MANY_PARTS: '252',
  MEMORY_LIMIT_EXCEEDED: '241',
  UNKNOWN_DATABASE: '81',
  TOO_MANY_SIMULTANEOUS_QUERIES: '202',
  CANNOT_PARSE_INPUT: '27',
  TYPE_MISMATCH: '53',
} as const;

/**
 * True when retrying the same request later may succeed (server busy, network, timeouts); false when
 * the request itself is wrong and would fail again (syntax, types, unknown table).
 */
export function isTransientClickHouseError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  if (/^\d+$/.test(code)) {
    return [CH_ERROR.TIMEOUT_EXCEEDED, CH_ERROR.TOO_MANY_PARTS, CH_ERROR.MEMORY_LIMIT_EXCEEDED, CH_ERROR.TOO_MANY_SIMULTANEOUS_QUERIES, '209', '210', '425', '999', '242'].includes(code);
  }
  // Node network errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, socket hang up) and request timeouts.
  return true;
}
