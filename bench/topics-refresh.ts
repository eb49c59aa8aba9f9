/**
 * Topics: what one refresh of a single 5-minute window costs as `messages` gains monthly partitions
 * (enrich/topics/refresh.ts; enrich's timer and `twichist analytics --topics` call it per window range).
 * A refresh used to end with an `ALTER TABLE messages UPDATE topic_id` mutation, whose cost grew with
 * the number of parts of `messages`; this measures that a refresh no longer depends on them.
 *
 * For each count of `--partitions` (default 10,40,120): a fresh database with one channel holding one
 * synthetic message per month over that many months (a sparse import), then `--repeat` (5) refreshes of
 * the newest message's window, as the CLI runs them (waiting for the deletes), and as enrich's timer
 * does (`wait: false`). Median ms each, plus the mutations of `messages` in system.mutations (1: the
 * projection migration 0045 materializes; each refresh used to add one).
 *
 *   node bench/topics-refresh.ts [--partitions 10,40,120] [--repeat 5] [--root DIR]
 *
 * `--root` runs another checkout's refreshTopics (e.g. the commit before) against the same data.
 * Prints one JSON document on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from '../cli/command.ts';

const { flags } = parseArgs(process.argv.slice(2), { partitions: 'string', repeat: 'string', root: 'string' });
const PARTITIONS = String(flags.partitions ?? '10,40,120').split(',').map(Number);
const REPEAT = Number(flags.repeat ?? 5);
const ROOT = path.resolve(typeof flags.root === 'string' ? flags.root : path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const load = (rel: string) => import(pathToFileURL(path.join(ROOT, rel)).href);

const { migrateUp } = await load('clickhouse/migrate.ts');
const { createClickHouse } = await load('core/clickhouse.ts');
const { loadConfig } = await load('core/config.ts');
const { refreshTopics } = await load('enrich/topics/refresh.ts');

const median = (ms: number[]) => Math.round([...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-topics-refresh-'));
const results: Array<Record<string, unknown>> = [];
try {
  for (const partitions of PARTITIONS) {
    const database = `bench_topics_refresh_${partitions}`;
    const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: database, LOG_LEVEL: 'warn' }), { viaControl: false });
    try {
      await migrateUp(client);
      // One message per month, newest in Jan 2026: `partitions` monthly partitions of `messages`, one part each.
      const newest = Date.UTC(2026, 0, 15, 20, 0, 0);
      const values = Array.from({ length: partitions }, (_, i) => {
        const d = new Date(newest);
        d.setUTCMonth(d.getUTCMonth() - i);
        const ts = d.toISOString().replace('T', ' ').replace('Z', '');
        return { id: `m${i}`, channel: 'sparse', ts, received_at: ts, source: 'bench', login: 'viewer', text: `pizza time ${i}`, enrich_version: 'bench' };
      });
      await client.insert({ table: 'messages', values, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '', max_partitions_per_insert_block: '1000' } });
      const timed = async (wait: boolean) => {
        const ms: number[] = [];
        for (let i = 0; i < REPEAT; i++) {
          const t0 = performance.now();
          await refreshTopics(client, { database, channel: 'sparse', since: new Date(newest), until: new Date(newest + 300_000), contextMs: 1_800_000, wait });
          ms.push(performance.now() - t0);
        }
        return median(ms);
      };
      const waitMs = await timed(true);
      const timerMs = await timed(false);
      const [{ n }] = (await (await client.query({
        query: "SELECT count() AS n FROM system.mutations WHERE database = {db:String} AND table = 'messages'",
        query_params: { db: database },
        format: 'JSONEachRow',
      })).json()) as Array<{ n: number | string }>;
      results.push({ partitions, refresh_wait_ms_p50: waitMs, refresh_nowait_ms_p50: timerMs, messages_mutations: Number(n) });
      console.error(JSON.stringify(results.at(-1)));
    } finally {
      await client.close();
    }
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ root: ROOT, repeat: REPEAT, cpus: os.cpus().length, results }, null, 2));
