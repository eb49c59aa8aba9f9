/**
 * API latency in the single-process default while the same process's embedded ClickHouse is busy:
 * p50/p99 of `GET /api/v1/channels` (a cheap read: two small parameterized queries) on loopback,
 * (1) idle, (2) while a `SYSTEM WAIT VIEW` waits for a 5 s refresh (what `up`'s refreshDerived() does for
 * every view), (3) while raw inserts run back to back (what enrich does under load). Printed as JSON with
 * the machine's facts and the number of chdb connections the process ended up with.
 *
 *   node bench/pool.ts [--seconds 10] [--rows 50000]
 *
 * One process, as `twichist up`: the API, the refresh wait and the inserts share the embedded engine.
 * Inserts go to a plain MergeTree table (no views), `--rows` JSONCompactEachRow rows per insert.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { buildApp } from '../api/app.ts';
import { migrateUp } from '../clickhouse/migrate.ts';
import { closeEmbedded, createClickHouse, embeddedConnectionCount, rawInserter } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';

const require = createRequire(import.meta.url);

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : process.argv[i + 1];
}
const SECONDS = Number(flag('seconds', '10'));
const ROWS = Number(flag('rows', '50000'));

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
  return { requests: s.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: Math.round(s[s.length - 1] * 10) / 10 };
};

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-pool-'));
  try {
    const config = loadConfig({ TWICHIST_DATA_DIR: dir, TWICHIST_ONLINE: 'false', LOG_LEVEL: 'silent' });
    const client = await createClickHouse(config, { viaControl: false });
    process.stderr.write('migrating\n');
    await migrateUp(client);
    await client.command({ query: 'CREATE TABLE bench_slow (n UInt64) ENGINE = MergeTree ORDER BY n' });
    // 100 one-row blocks, 50 ms each: a 5 s refresh.
    await client.command({ query: 'CREATE MATERIALIZED VIEW bench_slow_mv REFRESH EVERY 1 HOUR TO bench_slow EMPTY AS SELECT number AS n FROM numbers(100) WHERE sleepEachRow(0.05) = 0 SETTINGS max_block_size = 1' });
    await client.command({ query: 'CREATE TABLE bench_ins (ts DateTime64(3), channel String, login String, text String) ENGINE = MergeTree ORDER BY (channel, ts)' });
    const app = await buildApp({ config, logger: createLogger('silent'), client, rateLimit: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/channels`;
    const get = async () => {
      const t0 = performance.now();
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`GET /api/v1/channels answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      return performance.now() - t0;
    };
    /** Sequential GETs until `until` settles (at least one). */
    const readWhile = async (until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => (done = true));
      const ms: number[] = [];
      do ms.push(await get()); while (!done);
      return ms;
    };
    for (let i = 0; i < 20; i++) await get();

    process.stderr.write('idle\n');
    const idle = stats(await readWhile(new Promise((r) => setTimeout(r, SECONDS * 1000))));

    process.stderr.write('refresh wait\n');
    const refresh = async () => {
      const t0 = performance.now();
      await client.command({ query: 'SYSTEM REFRESH VIEW bench_slow_mv' });
      await client.command({ query: 'SYSTEM WAIT VIEW bench_slow_mv' });
      return performance.now() - t0;
    };
    const refreshRun = refresh();
    await new Promise((r) => setTimeout(r, 200));
    const duringRefresh = stats(await readWhile(refreshRun));
    const refreshMs = Math.round(await refreshRun);

    process.stderr.write('inserts\n');
    const lines: string[] = [];
    for (let i = 0; i < ROWS; i++) lines.push(JSON.stringify([1700000000000 + i, `c${i % 10}`, `user${i % 997}`, `message number ${i} with some words in it`]));
    const body = Buffer.from(lines.join('\n') + '\n');
    const raw = rawInserter(client)!;
    const insertMs: number[] = [];
    let stopInserts = false;
    const inserting = (async () => {
      while (!stopInserts) {
        const t0 = performance.now();
        await raw('bench_ins', ['ts', 'channel', 'login', 'text'], body, {});
        insertMs.push(performance.now() - t0);
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const duringInserts = stats(await readWhile(new Promise((r) => setTimeout(r, SECONDS * 1000))));
    stopInserts = true;
    await inserting;

    await app.close();
    const connections = embeddedConnectionCount();
    await closeEmbedded();
    const pkg = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
    process.stdout.write(JSON.stringify({
      bench: 'pool',
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 1e9), node: process.version, chdb: pkg('chdb') },
      endpoint: 'GET /api/v1/channels',
      chdb_connections: connections,
      idle,
      during_refresh_wait: { ...duringRefresh, refresh_ms: refreshMs },
      during_inserts: { ...duringInserts, rows_per_insert: ROWS, inserts: insertMs.length, insert_ms: stats(insertMs).p50_ms },
    }, null, 2) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
