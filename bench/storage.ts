/**
 * Bytes per chat message on disk. Imports real logs from ../shared/data (the raw #xqc IRC recording,
 * VOD chat JSON, with --all the Chatty 2016 logs) through the same path `twichist import` uses (importer ->
 * in-process bus -> enrich -> ClickHouse) into a fresh embedded ClickHouse, merges every part
 * (`OPTIMIZE ... FINAL`, what background merges converge to), and divides `sum(bytes_on_disk)` of
 * the active parts by the row count. Nothing is multiplied: every message is a distinct real one
 * (duplicated text would compress better than real chat and flatter the figure).
 *
 *   node bench/storage.ts            the #xqc recording and every VOD export (~40k events)
 *   node bench/storage.ts --all      also the 2016 Chatty logs (~120k events)
 *   node bench/storage.ts --quick    the #xqc recording and one VOD only
 *
 * Prints one JSON document on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../core/config.ts';
import { importFile, listImportFiles } from '../ingest/importers/index.ts';
import { openPublishPipeline } from '../ingest/pipeline.ts';

const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');

async function main(quick: boolean, all: boolean): Promise<Record<string, unknown>> {
  if (!fs.existsSync(SHARED)) return { skipped: `no ${SHARED}: the real chat logs are not on this machine` };
  // Default: the live IRC recording (full IRCv3 tags, what live ingest stores) and every VOD export,
  // ~40k messages, enough for a stable figure. --all adds the 2016 Chatty logs (80k messages without
  // tags or Twitch ids), which take minutes more on a busy machine and lower the figure.
  const targets = quick
    ? [path.join(SHARED, 'irc', 'xqc-2023-04-01.raw.irc'), path.join(SHARED, 'vod-json', 'v5-rechat', 'rechat-98355852.json')]
    : [path.join(SHARED, 'irc', 'xqc-2023-04-01.raw.irc'), path.join(SHARED, 'vod-json'), ...(all ? [path.join(SHARED, 'chatty')] : [])];
  const files: Array<{ file: string; format: string }> = [];
  for (const t of targets) files.push(...(await listImportFiles(t)).files);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-storage-'));
  try {
    // Large batches as an import would use them; the part sizes before OPTIMIZE do not change the result.
    const config = loadConfig({ TWICHIST_DATA_DIR: dataDir, ENRICH_BATCH_SIZE: '10000', TWICHIST_ONLINE: 'false', LOG_LEVEL: 'silent' });
    const logger = pino({ level: 'silent' });
    // The pipeline `twichist import` uses: in-process bus + enrich into the embedded database.
    const pipeline = await openPublishPipeline(config, logger, { maxEvents: 1000 });
    const perFormat: Record<string, { files: number; events: number }> = {};
    const t0 = performance.now();
    let events = 0;
    for (const f of files) {
      const stats = await importFile(f.file, (e) => pipeline.batcher.push(e));
      const n = Object.values(stats.events).reduce((a, b) => a + (b ?? 0), 0);
      events += n;
      const pf = (perFormat[stats.format] ??= { files: 0, events: 0 });
      pf.files++;
      pf.events += n;
    }
    await pipeline.settle();
    const importSeconds = (performance.now() - t0) / 1000;
    const client = await pipeline.clickhouse();

    const q = async <T>(query: string) => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
    const tables = await q<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree%'");
    for (const t of tables) await client.command({ query: `OPTIMIZE TABLE \`${t.name}\` FINAL`, clickhouse_settings: { mutations_sync: '2' } });
    const [msg] = await q<{ rows: number; bytes: number; parts: number }>(
      "SELECT sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts FROM system.parts WHERE database = currentDatabase() AND table = 'messages' AND active",
    );
    const [{ n: messages }] = await q<{ n: number }>('SELECT count() AS n FROM messages');
    const [{ bytes: allBytes }] = await q<{ bytes: number }>('SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = currentDatabase() AND active');
    const [{ v: version }] = await q<{ v: string }>('SELECT version() AS v');
    await pipeline.close();
    const per = (b: number) => Math.round((b / Math.max(1, messages)) * 10) / 10;
    return {
      input: { files: files.length, events, per_format: perFormat, multiplied: 'nothing (each message is a distinct real one)', mode: quick ? 'quick' : all ? 'all' : 'default' },
      // Not a throughput figure (bench/enrich.ts measures that): it includes enrich start-up and shares the cores with nothing else only if the machine is idle.
      import: { seconds: Math.round(importSeconds * 10) / 10, path: 'importer -> in-process bus -> enrich -> embedded ClickHouse' },
      messages: { rows: messages, parts_after_optimize: Number(msg.parts), bytes_on_disk: Number(msg.bytes), bytes_per_message: per(Number(msg.bytes)) },
      all_tables: { bytes_on_disk: Number(allBytes), bytes_per_message: per(Number(allBytes)), note: 'every table incl. rollups, mod actions, user names, dead letters; divided by messages' },
      clickhouse: version,
    };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main(process.argv.includes('--quick'), process.argv.includes('--all')).then(
  (doc) => {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    // chdb keeps native handles; the figures are out, so end now instead of waiting on them.
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`bench/storage: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
