/**
 * Local control channel for the embedded database. chdb allows one process per data folder, so the
 * long-running process that holds it (`twichist up`, `ingest`, `enrich`, `api`) serves its ClickHouse
 * connection on loopback, and short commands (`sql`, `migrate`, `import`, ...) reach it through a
 * `@clickhouse/client` connection that forwards each call: the analyst never stops the system to
 * query it, and every command still just calls `createClickHouse(config)`.
 *
 * Found through `<dataDir>/control.json` (port, pid, secret), readable by its owner only (0600); every
 * request carries the secret. Listens on 127.0.0.1 only.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseError } from '@clickhouse/client';
import { embeddedConnection, type ChConnection } from './clickhouse.ts';
import type { Logger } from './logger.ts';

const CONTROL_FILE = 'control.json';

interface ControlFile {
  pid: number;
  port: number;
  secret: string;
}

type Op = 'query' | 'exec' | 'command' | 'insert' | 'ping' | 'alive' | 'status';

/** What a running process says about itself to `twichist status` (JSON); see {@link ControlServerOptions.status}. */
export type ProcessReport = Record<string, unknown>;

/** Options of {@link startControlServer}. */
export interface ControlServerOptions {
  dataDir: string;
  logger: Logger;
  /**
   * Answers `twichist status` (the `status` operation): what only this process knows, e.g. the depth of an
   * in-process bus. Without it the operation answers 404 and status says the process reports nothing.
   */
  status?: () => ProcessReport;
}

/** JSON cannot carry Dates; query params may hold them. */
function encodeParams(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(encodeParams);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeParams(v)]));
  return value;
}
function decodeParams(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeParams);
  if (value !== null && typeof value === 'object') {
    if ('$date' in value && Object.keys(value).length === 1) return new Date(Number((value as { $date: number }).$date));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeParams(v)]));
  }
  return value;
}

async function readAll(stream: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  return out;
}

export interface ControlServer {
  port: number;
  close(): Promise<void>;
}

/**
 * {@link startControlServer} when this process holds the embedded folder (it opened it because no other
 * process served it), else null: what the long-running commands (`enrich`, `api`, `ingest`) do, so local
 * commands started after them work through them instead of failing on the folder's lock.
 */
export async function serveHeldFolder(opts: ControlServerOptions): Promise<ControlServer | null> {
  return embeddedConnection() === null ? null : startControlServer(opts);
}

/** Serves this process's embedded ClickHouse to other local twichist processes. */
export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const conn = embeddedConnection();
  if (!conn) throw new Error('startControlServer needs the embedded ClickHouse open in this process');
  const secret = randomBytes(32).toString('hex');
  const expected = Buffer.from(`Bearer ${secret}`);
  const server = http.createServer((req, res) => {
    void handle(conn, req, res, expected, opts);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const file = path.join(opts.dataDir, CONTROL_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ pid: process.pid, port, secret } satisfies ControlFile), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return {
    port,
    close: async () => {
      try {
        const current = JSON.parse(fs.readFileSync(file, 'utf8')) as ControlFile;
        if (current.pid === process.pid) fs.unlinkSync(file);
      } catch {
        // already gone
      }
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function handle(conn: ChConnection, req: http.IncomingMessage, res: http.ServerResponse, expected: Buffer, { logger, status }: ControlServerOptions) {
  const auth = Buffer.from(req.headers.authorization ?? '');
  if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
    res.writeHead(401).end(JSON.stringify({ message: 'bad control secret' }));
    return;
  }
  const op = (req.url ?? '').replace(/^\/ch\//, '') as Op;
  try {
    const body = await readAll(req);
    const nl = body.indexOf('\n');
    const head = JSON.parse(nl === -1 ? body : body.slice(0, nl)) as Record<string, unknown>;
    const values = nl === -1 ? '' : body.slice(nl + 1);
    const params = { ...head, query_params: decodeParams(head.query_params) as Record<string, unknown> | undefined } as Parameters<ChConnection['query']>[0];
    if (op === 'alive') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    } else if (op === 'ping') {
      const r = await conn.ping({ select: true });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: r.success }));
    } else if (op === 'status' && status) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status()));
    } else if (op === 'query' || op === 'exec') {
      const r = op === 'query' ? await conn.query(params) : await conn.exec({ ...params, values: values ? Readable.from([values]) : undefined });
      const summary = 'summary' in r ? r.summary : undefined;
      res.writeHead(200, { 'x-query-id': r.query_id, 'x-summary': JSON.stringify(summary ?? {}) });
      for await (const chunk of r.stream) res.write(chunk);
      res.end();
    } else if (op === 'command' || op === 'insert') {
      const r = op === 'command' ? await conn.command(params) : await conn.insert({ ...params, values });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ query_id: r.query_id, summary: r.summary }));
    } else {
      res.writeHead(404).end(JSON.stringify({ message: `unknown operation ${op}` }));
    }
  } catch (err) {
    const e = err as { message?: string; code?: string; type?: string };
    logger.debug({ err }, 'control request failed');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: e.message ?? String(err), code: e.code ?? '', type: e.type ?? '' }));
  }
}

/** A `@clickhouse/client` connection that forwards every call to the control server. */
class ControlConnection implements ChConnection {
  private readonly base: string;
  private readonly auth: string;
  constructor(port: number, secret: string) {
    this.base = `http://127.0.0.1:${port}/ch/`;
    this.auth = `Bearer ${secret}`;
  }

  private async call(op: Op, params: Record<string, unknown>, values?: unknown): Promise<Response> {
    const { abort_signal, values: _v, ...rest } = params;
    let body = JSON.stringify({ ...rest, query_params: encodeParams(rest.query_params) }) + '\n';
    if (values !== undefined) body += typeof values === 'string' ? values : await readAll(values as AsyncIterable<unknown>);
    const res = await fetch(this.base + op, { method: 'POST', headers: { authorization: this.auth }, body, signal: abort_signal as AbortSignal | undefined });
    if (res.status !== 200) {
      const e = (await res.json().catch(() => ({ message: `control server answered ${res.status}` }))) as { message: string; code: string; type: string };
      throw new ClickHouseError({ message: e.message, code: e.code ?? '', type: e.type ?? '' });
    }
    return res;
  }

  private static result(res: Response) {
    return { query_id: res.headers.get('x-query-id') ?? randomUUID(), response_headers: {}, http_status_code: 200 };
  }

  async ping(): Promise<{ success: true } | { success: false; error: Error }> {
    try {
      await this.call('ping', {});
      return { success: true };
    } catch (error) {
      return { success: false, error: error as Error };
    }
  }
  /** Whether the control server answers (without a ClickHouse query) within `ms`. */
  async alive(ms: number): Promise<boolean> {
    try {
      await this.call('alive', { abort_signal: AbortSignal.timeout(ms) });
      return true;
    } catch {
      return false;
    }
  }
  async query(params: Parameters<ChConnection['query']>[0]) {
    const res = await this.call('query', params as unknown as Record<string, unknown>);
    return { ...ControlConnection.result(res), stream: Readable.fromWeb(res.body as never) };
  }
  async exec(params: Parameters<ChConnection['exec']>[0]) {
    const res = await this.call('exec', params as unknown as Record<string, unknown>, params.values);
    return { ...ControlConnection.result(res), stream: Readable.fromWeb(res.body as never), summary: JSON.parse(res.headers.get('x-summary') ?? '{}') };
  }
  async command(params: Parameters<ChConnection['command']>[0]) {
    const res = await this.call('command', params as unknown as Record<string, unknown>);
    const body = (await res.json()) as { query_id: string; summary: never };
    return { ...ControlConnection.result(res), query_id: body.query_id, summary: body.summary };
  }
  async insert(params: Parameters<ChConnection['insert']>[0]) {
    const res = await this.call('insert', params as unknown as Record<string, unknown>, params.values);
    const body = (await res.json()) as { query_id: string; summary: never };
    return { ...ControlConnection.result(res), query_id: body.query_id, summary: body.summary };
  }
  async close() {}
}

/**
 * How long a live holder's control server may take to answer. The embedded engine runs a query on the
 * holder's JS thread, so the answer waits for the query in progress (a view refresh over a large history
 * takes seconds); a 1 s limit (and a `SELECT 1` as the probe) sent `twichist sql` on a busy `up` to open
 * the folder itself, which failed with "Cannot lock file". A stale file is still found at once: its pid
 * is gone, or nothing listens on its port (connection refused), or something else does (not a 200).
 */
export const CONTROL_ANSWER_MS = 15_000;

/**
 * Returns a connection to the process that holds `dataDir`'s embedded database, or null when none is
 * running (no control file, a dead pid, or no answer from its control server: a stale file from a crash).
 */
export async function connectControl(dataDir: string): Promise<ChConnection | null> {
  const info = runningControl(dataDir);
  if (info === null) return null;
  const conn = new ControlConnection(info.port, info.secret);
  return (await conn.alive(CONTROL_ANSWER_MS)) ? conn : null;
}

/** The control file of a live process other than this one, or null (none, unreadable, or its pid is gone: a crash). */
function runningControl(dataDir: string): ControlFile | null {
  let info: ControlFile;
  try {
    info = JSON.parse(fs.readFileSync(path.join(dataDir, CONTROL_FILE), 'utf8')) as ControlFile;
    if (info.pid === process.pid) return null;
    process.kill(info.pid, 0);
  } catch {
    return null;
  }
  return info;
}

/**
 * For `twichist status`: the pid of the process serving `dataDir` and its {@link ProcessReport} (null when it
 * serves none), or null when none runs (no control file, a dead pid, a refused port or another server on
 * it: a stale file). `busy`: the pid lives and its port took the connection, but no answer came within
 * `timeoutMs`. The same allowance as {@link connectControl} by default: the holder's JS thread runs its embedded
 * queries, so a busy `up` answered a 3 s probe with nothing, and status called it absent and then failed
 * on the folder's lock.
 */
export async function controlStatus(dataDir: string, timeoutMs = CONTROL_ANSWER_MS): Promise<{ pid: number; report: ProcessReport | null; busy: boolean } | null> {
  const info = runningControl(dataDir);
  if (info === null) return null;
  try {
    const res = await fetch(`http://127.0.0.1:${info.port}/ch/status`, { method: 'POST', headers: { authorization: `Bearer ${info.secret}` }, body: '{}', signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 404) return { pid: info.pid, report: null, busy: false };
    return res.status === 200 ? { pid: info.pid, report: (await res.json()) as ProcessReport, busy: false } : null;
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? { pid: info.pid, report: null, busy: true } : null;
  }
}
