/**
 * API speed on a large archive: p50/p95/p99 of the timeline, stats, full-text search, moderation-risk and channel-list endpoints
 * under concurrent load on loopback, printed as JSON with the machine's facts.
 *
 *   node bench/api.ts [--messages 10000000] [--data DIR] [--requests 200] [--connections 4] [--quick]
 *
 * Data: the real #xqc capture (../shared/data/irc/xqc-2023-04-01.raw.irc, 4,029 messages, 26
 * timeouts) stored once through the enrich stage, then multiplied inside ClickHouse with
 * INSERT ... SELECT over numbers(): copy k goes to channel `bench_<k % 10>`, shifted by
 * 330 s x floor(k / 10) (the capture spans 5.3 min, so copies follow each other without overlap),
 * with chatter logins renamed per copy group (`<login>_<k % 40>`, so channels do not share one
 * audience). The materialized views fill the rollups as in production. The loaded folder is kept and
 * reused by later runs (`--data`).
 *
 * The API runs in a child process (its own event loop and embedded ClickHouse), autocannon in this
 * one; each endpoint gets a bounded number of requests (`--requests`) and at most 60 s.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : process.argv[i + 1];
}

/** `--quick` (bench/run.ts): 1M messages and fewer requests, for a run of the whole suite. */
const QUICK = process.argv.includes('--quick');
const TARGET = Number(flag('messages', QUICK ? '1000000' : '10000000'));
const DATA = path.resolve(flag('data', path.join(os.tmpdir(), `twichist-bench-api-${TARGET}`)));
const REQUESTS = Number(flag('requests', QUICK ? '60' : '200'));
const CONNECTIONS = Number(flag('connections', '4'));
const CHANNELS = 10;

/** Child: load (once) and serve. */
async function serve(): Promise<void> {
  const { loadConfig } = await import('../core/config.ts');
  const { createClickHouse } = await import('../core/clickhouse.ts');
  const { createLogger } = await import('../core/logger.ts');
  const { migrateUp } = await import('../clickhouse/migrate.ts');
  const { buildApp } = await import('../api/app.ts');
  const { rows } = await import('../api/db.ts');
  const config = loadConfig({ TWICHIST_DATA_DIR: DATA, TWICHIST_ONLINE: 'false', LOG_LEVEL: 'warn' });
  const client = await createClickHouse(config, { viaControl: false });
  await migrateUp(client);
  const count = async () => (await rows<{ n: number }>(client, "SELECT count() AS n FROM messages WHERE startsWith(channel, 'bench_')"))[0].n;
  let loadSeconds: number | null = null;
  if ((await count()) < TARGET) {
    const t0 = performance.now();
    await load(config, client);
    loadSeconds = Math.round((performance.now() - t0) / 100) / 10;
  }
  // As `twichist up` and `import` do: the derived tables (chatter counts, bursts, audience) are settled
  // before serving, so the figures are not taken while their first full refresh runs. Their periodic
  // refreshes (30 s / 5 min) do run during the measurement, as in production.
  const { refreshDerived } = await import('../analytics/refresh.ts');
  const t1 = performance.now();
  await refreshDerived(client);
  const refreshSeconds = Math.round((performance.now() - t1) / 100) / 10;
  const [{ version }] = await rows<{ version: string }>(client, 'SELECT version() AS version');
  const [span] = await rows<{ lo: number; hi: number }>(client, "SELECT toUnixTimestamp64Milli(min(ts)) AS lo, toUnixTimestamp64Milli(max(ts)) AS hi FROM messages WHERE channel = 'bench_3'");
  const app = await buildApp({ config, logger: createLogger('warn'), client, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  // The same API without the rollup answer cache, on another port: a distinct client object, since
  // the cache is kept per client.
  const bare = new Proxy(client, { get: (t, p) => { const v = Reflect.get(t, p); return typeof v === 'function' ? v.bind(t) : v; } });
  const uncached = await buildApp({ config, logger: createLogger('warn'), client: bare, rateLimit: false, cacheTtlMs: 0 });
  await uncached.listen({ host: '127.0.0.1', port: 0 });
  const portOf = (a: typeof app) => (a.server.address() as { port: number }).port;
  process.send!({ port: portOf(app), uncachedPort: portOf(uncached), messages: await count(), loadSeconds, refreshSeconds, clickhouse: version, span });
}

/** Copies of the xqc rows of `table` for copy numbers [from, from + n): renamed channel and user, shifted time. */
function copyQuery(table: 'messages' | 'mod_actions', loginColumn: 'login' | 'target_login') {
  return (params: Record<string, unknown>) => ({
    query: `INSERT INTO ${table}
      SELECT * REPLACE (
        concat(id, ':', toString(k)) AS id,
        concat('bench_', toString(k % {channels:UInt32})) AS channel,
        ts + toIntervalSecond(330 * intDiv(k, {channels:UInt32})) AS ts,
        received_at + toIntervalSecond(330 * intDiv(k, {channels:UInt32})) AS received_at,
        concat(${loginColumn}, '_', toString(k % 40)) AS ${loginColumn})
      FROM (SELECT * EXCEPT (inserted_at) FROM ${table} WHERE channel = 'xqc') AS m
      CROSS JOIN (SELECT number AS k FROM numbers({from:UInt64}, {n:UInt64})) AS c`,
    query_params: params,
    clickhouse_settings: { insert_deduplication_token: '' },
  });
}

/** The real capture through enrich, then copies made inside ClickHouse. */
async function load(config: import('../core/config.ts').Config, client: import('../core/clickhouse.ts').ClickHouseClient): Promise<void> {
  const { readXqc, storeEvents, xqcMissing } = await import('../test/api/support/load.ts');
  const missing = xqcMissing();
  if (missing) throw new Error(missing);
  const { rows } = await import('../api/db.ts');
  if ((await rows<{ n: number }>(client, "SELECT count() AS n FROM messages WHERE channel = 'xqc'"))[0].n === 0) await storeEvents(config, client, readXqc());
  const [{ n: base }] = await rows<{ n: number }>(client, "SELECT count() AS n FROM messages WHERE channel = 'xqc'");
  const copies = Math.ceil(TARGET / base);
  await client.command({ query: "ALTER TABLE messages DELETE WHERE startsWith(channel, 'bench_') SETTINGS mutations_sync = 2" });
  const chunk = 100;
  for (let from = 0; from < copies; from += chunk) {
    const params = { from, n: Math.min(chunk, copies - from), channels: CHANNELS };
    await client.command(copyQuery('messages', 'login')(params));
    await client.command(copyQuery('mod_actions', 'target_login')(params));
    process.stderr.write(`loaded copies ${from + params.n}/${copies}\n`);
  }
  await client.command({ query: 'OPTIMIZE TABLE messages FINAL' }).catch(() => {});
}

interface Row {
  endpoint: string;
  paths: string[];
  requests: number;
  non2xx: number;
  errors: number;
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  limit_p95_ms: number;
  within_limit: boolean;
}

async function measure(port: number, endpoint: string, paths: string[], limit: number): Promise<Row> {
  const autocannon = require('autocannon') as (o: object, cb: (err: Error | null, r: any) => void) => void;
  const hdr = require('hdr-histogram-js') as { build(o: object): any };
  const real = hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 120_000, numberOfSignificantValueDigits: 3 });
  // autocannon destroys its histograms when done; keep ours readable afterwards.
  const latencies = new Proxy(real, { get: (t, p) => (p === 'destroy' ? () => {} : Reflect.get(t, p)) });
  const result = await new Promise<any>((resolve, reject) =>
    autocannon(
      { url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, amount: REQUESTS, duration: 60, timeout: 30, requests: paths.map((p) => ({ method: 'GET', path: p })), histograms: { latencies } },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
  const p95 = real.getValueAtPercentile(95);
  return {
    endpoint,
    paths: paths.slice(0, 3),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    rps: result.requests.average,
    p50_ms: real.getValueAtPercentile(50),
    p95_ms: p95,
    p99_ms: real.getValueAtPercentile(99),
    max_ms: real.maxValue,
    limit_p95_ms: limit,
    within_limit: p95 <= limit && result.non2xx === 0,
  };
}

async function main(): Promise<void> {
  const child: ChildProcess = fork(SELF, ['--child-serve', ...process.argv.slice(2)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const info = await new Promise<{ port: number; uncachedPort: number; messages: number; loadSeconds: number | null; refreshSeconds: number; clickhouse: string; span: { lo: number; hi: number } }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as never));
      child.once('exit', (code) => reject(new Error(`API process exited with ${code}`)));
    });
    const ch = Array.from({ length: CHANNELS }, (_, i) => `bench_${i}`);
    const hour = 3_600_000;
    const from = Math.ceil(info.span.lo / hour) * hour;
    const results: Row[] = [];
    const run = async (name: string, paths: string[], limit: number, port = info.port) => results.push(await measure(port, name, paths, limit));
    const rollupReads: Array<[string, string[]]> = [
      ['timeline 1m (default range: 500 buckets)', ch.map((c) => `/api/v1/analytics/${c}/timeline?bucket=1m`)],
      ['timeline 30s (6 h range)', ch.map((c) => `/api/v1/analytics/${c}/timeline?bucket=30s&from=${from}&to=${from + 6 * hour}`)],
      ['timeline 1h (whole channel)', ch.map((c) => `/api/v1/analytics/${c}/timeline?bucket=1h&from=${from - hour}&to=${from + 24 * hour}`)],
      ['channel stats (all time)', ch.map((c) => `/api/v1/channels/${c}/stats`)],
      ['channel stats (12 h, hour-aligned)', ch.map((c) => `/api/v1/channels/${c}/stats?from=${from}&to=${from + 12 * hour}`)],
      ['moderation stats 1m', ch.map((c) => `/api/v1/moderation/stats?channel=${c}&bucket=1m`)],
    ];
    // Without the cache: every request reads ClickHouse. With it (the default, 2 s): what dashboards polling the same panels see.
    for (const [name, paths] of rollupReads) await run(`${name}, uncached`, paths, 50, info.uncachedPort);
    for (const [name, paths] of rollupReads) await run(`${name}, cached 2 s`, paths, 50);
    await run('search, one channel', ch.map((c, i) => `/api/v1/messages?channel=${c}&q=${['dansgame', 'lul', 'kreygasm', 'british', 'food'][i % 5]}&limit=100`), 300);
    await run('search, all channels', ['dansgame', 'lul', 'kreygasm', 'british', 'food'].map((w) => `/api/v1/messages?q=${w}&limit=100`), 300);
    await run('search, two words, all channels', ['/api/v1/messages?q=uk%20food&limit=100', '/api/v1/messages?q=chat%20pov&limit=100'], 300);
    // per-channel count and newest message over all history: the channel_summary projection (migration 0045), a scan before
    await run('channel list (API, justlog)', ['/api/v1/channels', '/channels'], 300);
    // every message of the channel's last 24 h (here: all of its ~1M) joined with its author's next ban/timeout, AUC and top 50
    await run('moderation risk (default 24 h)', ch.map((c) => `/api/v1/moderation/risk?channel=${c}`), 1000);
    const cpus = os.cpus();
    process.stdout.write(
      JSON.stringify(
        {
          bench: 'api',
          machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memory_gb: Math.round(os.totalmem() / 2 ** 30), loadavg_1m_at_end: os.loadavg()[0], node: process.version, platform: `${os.platform()} ${os.release()}`, clickhouse: `chdb ${info.clickhouse} (embedded, in the API process)` },
          data: {
            messages: info.messages,
            multiplied: `real #xqc capture (4,029 messages, 26 timeouts) x ${Math.ceil(TARGET / 4029)} copies over ${CHANNELS} channels (bench_0..bench_${CHANNELS - 1}), shifted 330 s per copy, logins renamed <login>_<k % 40>`,
            load_seconds: info.loadSeconds,
            derived_refresh_seconds: info.refreshSeconds,
            data_dir: DATA,
          },
          load: { tool: 'autocannon', connections: CONNECTIONS, requests_per_endpoint: REQUESTS, max_seconds_per_endpoint: 60, target: 'loopback HTTP, API in a child process' },
          results,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    child.kill('SIGTERM');
  }
}

if (process.argv.includes('--child-serve')) {
  serve().catch((err: unknown) => {
    process.stderr.write(`bench API process failed: ${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`bench/api: ${String((err as Error).message ?? err)}\n`);
    process.exitCode = 1;
  });
}
