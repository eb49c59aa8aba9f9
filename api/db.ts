/**
 * Query helpers. Values travel only in `query_params`; the SQL text is a constant of this code or
 * is assembled from constant fragments and whitelisted identifiers (see `rollupTable`).
 */
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { CH_ERROR, clickHouseCode } from '../core/clickhouse.ts';

export type Params = Record<string, unknown>;

/**
 * Bounds on every read the API sends (`buildApp({ limits })`). The API is public: without them one
 * request could scan all history for as long as it takes, and on the embedded engine, which runs
 * parameterized queries one at a time, every other request waits behind it.
 */
export interface QueryLimits {
  /** `max_execution_time` of each read, in seconds (the engine stops the query itself); 0 = none. Default `API_QUERY_TIMEOUT_S` (30). */
  maxExecutionTimeS: number;
  /** `max_memory_usage` of each read, in bytes. Default 2 GB. */
  maxMemoryBytes: number;
}
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxExecutionTimeS: 30, maxMemoryBytes: 2_000_000_000 };

/**
 * The HTTP client's request timeout for a process that serves the API: longer than the reads' own limit,
 * so the server stops a slow read (a 503 naming the limit) before the client gives up on it (a 500, and
 * the server, which does not cancel read-only queries on a closed connection by default, kept running it).
 * The client's default was 60 s, below `API_QUERY_TIMEOUT_S` up to 3600 or 0 (none).
 */
export function apiRequestTimeoutMs(queryTimeoutS: number): number {
  return queryTimeoutS === 0 ? 86_400_000 : Math.max(60_000, (queryTimeoutS + 10) * 1000);
}

/** ClickHouse codes of a read stopped by one of its limits: the request was too heavy, not wrong. */
export const LIMIT_CODES: Record<string, string> = {
  [CH_ERROR.TIMEOUT_EXCEEDED]: 'took longer than the API allows per query (max_execution_time)',
  [CH_ERROR.MEMORY_LIMIT_EXCEEDED]: 'needed more memory than the API allows per query (max_memory_usage)',
};

/**
 * The client with {@link QueryLimits} as settings of every `query` (reads); `command`/`insert`/`exec`
 * (channel writes) are left unbounded. The opt-out, which reads between its deletes and rebuilds, gets
 * the client without this wrapper (`ApiContext.unboundedClient`): stopped halfway it left topics of the
 * user's words, and a retry found no messages and so did not redo them. Over HTTP the server applies them; embedded, chdb does.
 * Cost: two settings per read (on chdb a `SET` each).
 */
export function withQueryLimits(client: ClickHouseClient, limits: QueryLimits): ClickHouseClient {
  const settings: ClickHouseSettings = {
    max_execution_time: limits.maxExecutionTimeS,
    timeout_overflow_mode: 'throw',
    max_memory_usage: String(limits.maxMemoryBytes),
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop !== 'query' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
      return (params: { clickhouse_settings?: ClickHouseSettings }) => v.call(target, { ...params, clickhouse_settings: { ...settings, ...params.clickhouse_settings } });
    },
  });
}

/** Runs a SELECT and returns its rows; `settings` are set on this call only. */
export async function rows<T>(client: ClickHouseClient, query: string, params: Params = {}, settings: ClickHouseSettings = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: settings });
  return rs.json<T>();
}

/** True for "this table does not exist (yet)": derived tables land in later migrations. */
export function isMissingTable(err: unknown): boolean {
  return clickHouseCode(err) === CH_ERROR.UNKNOWN_TABLE;
}

/**
 * Like {@link rows}, but a missing table answers `[]`: endpoints over derived tables answer an empty
 * list until the stage that fills them is deployed, instead of a 500.
 */
export async function rowsOrEmpty<T>(client: ClickHouseClient, query: string, params: Params = {}, settings: ClickHouseSettings = {}): Promise<T[]> {
  try {
    return await rows<T>(client, query, params, settings);
  } catch (err) {
    if (isMissingTable(err)) return [];
    throw err;
  }
}

/**
 * Like {@link rowsOrEmpty} for `SELECT *` of a table whose columns the API does not list: rows as
 * records, and every DateTime/DateTime64 column (also Nullable) as ISO 8601 UTC with milliseconds,
 * as the API writes all times (ClickHouse's JSON writes "2016-09-30 03:02:30", no zone). The column
 * types come with the rows (`...WithNamesAndTypes`); `date_time_output_format` holds for this query only.
 */
export async function recordsOrEmpty(client: ClickHouseClient, query: string, params: Params = {}): Promise<Array<Record<string, unknown>>> {
  let table: unknown[][];
  try {
    const rs = await client.query({ query, query_params: params, format: 'JSONCompactEachRowWithNamesAndTypes', clickhouse_settings: { date_time_output_format: 'iso' } });
    table = await rs.json<unknown[]>();
  } catch (err) {
    if (isMissingTable(err)) return [];
    throw err;
  }
  const [names = [], types = [], ...data] = table;
  const isTime = types.map((t) => /^(Nullable\()?DateTime(64)?\b/.test(String(t)));
  return data.map((r) => Object.fromEntries(names.map((n, i) => [String(n), isTime[i] && typeof r[i] === 'string' ? iso(Date.parse(r[i])) : r[i]])));
}

interface CacheEntry {
  at: number;
  value: Promise<unknown[]>;
}
interface ClientCache {
  ttlMs: number;
  entries: Map<string, CacheEntry>;
}
/** Per client (one per app and database), so two apps never share answers. */
const caches = new WeakMap<object, ClientCache>();
const CACHE_MAX_ENTRIES = 2000;

/**
 * Sets how long rollup answers are reused for this client (0 = never). Dashboards poll the same
 * panels every few seconds from many browsers; a rollup read costs ~20-100 ms of ClickHouse time
 * (the uniqExact states of a 500-window chart are megabytes), a cached one microseconds. Cost: an
 * answer may be up to `ttlMs` old.
 */
export function configureCache(client: ClickHouseClient, ttlMs: number): void {
  caches.set(client, { ttlMs, entries: new Map() });
}

/** Forgets every cached answer of the client (after a change such as an opt-out). */
export function clearCache(client: ClickHouseClient): void {
  caches.get(client)?.entries.clear();
}

/**
 * {@link rowsOrEmpty} through the client's short-lived cache; identical concurrent requests share
 * one query (the first one's), so a burst of viewers costs one read.
 */
export function cachedRowsOrEmpty<T>(client: ClickHouseClient, query: string, params: Params = {}): Promise<T[]> {
  const cache = caches.get(client);
  if (!cache || cache.ttlMs <= 0) return rowsOrEmpty<T>(client, query, params);
  const key = query + '\u0000' + JSON.stringify(params);
  const now = Date.now();
  const hit = cache.entries.get(key);
  if (hit && now - hit.at < cache.ttlMs) return hit.value as Promise<T[]>;
  const value = rowsOrEmpty<T>(client, query, params);
  if (cache.entries.size >= CACHE_MAX_ENTRIES) {
    for (const [k, e] of cache.entries) if (now - e.at >= cache.ttlMs) cache.entries.delete(k);
    if (cache.entries.size >= CACHE_MAX_ENTRIES) cache.entries.delete(cache.entries.keys().next().value!);
  }
  cache.entries.set(key, { at: now, value });
  value.catch(() => cache.entries.delete(key));
  return value;
}

/** Bucket sizes the rollups exist for. */
export const BUCKETS = ['30s', '1m', '1h', '1d'] as const;
export type Bucket = (typeof BUCKETS)[number];
export const BUCKET_MS: Record<Bucket, number> = { '30s': 30_000, '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };

/** Fixed whitelist: the only way a table name derived from input reaches SQL text. */
const CHAT_TABLES: Record<Bucket, string> = { '30s': 'chat_30s', '1m': 'chat_1m', '1h': 'chat_1h', '1d': 'chat_1d' };
const EMOTE_TABLES: Record<Bucket, string> = { '30s': 'emotes_30s', '1m': 'emotes_1m', '1h': 'emotes_1h', '1d': 'emotes_1d' };

export function rollupTable(kind: 'chat' | 'emotes', bucket: Bucket): string {
  const t = (kind === 'chat' ? CHAT_TABLES : EMOTE_TABLES)[bucket];
  if (!t) throw new Error(`no rollup for bucket ${bucket}`);
  return t;
}

/** SQL for an epoch-ms Int64 parameter as a DateTime64(3). */
export const msParam = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;

/** Epoch ms -> ISO 8601 (UTC, with milliseconds). */
export const iso = (ms: number): string => new Date(ms).toISOString();
