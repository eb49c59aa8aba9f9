/**
 * Enrich stage speed, printed as JSON with the machine's facts. Not a test: numbers vary with load.
 *
 *   node bench/enrich.ts [--copies 4] [--mode all|single|jetstream|jetstream-split|freshness] [--rate 1000] [--seconds 20] [--batch N] [--repeat 1] [--topics-interval-s S]
 *   --quick (what `npm run bench -- --quick` passes): defaults of --copies 1 and --seconds 5 instead.
 *
 * - single: importer (parse) -> InProcessBus -> enrich (emotes, analyzer) -> embedded ClickHouse.
 * - jetstream: importer -> JetStream publish (ingest's MicroBatcher) -> durable consumer -> enrich -> ClickHouse,
 *   publishing and consuming at the same time; the clock stops when every event is stored and acked.
 * - jetstream-split: the same, with the publisher (parse + JetStream publish) in a child process, as the
 *   full stack runs ingest and enrich (compose.yml); the clock runs from the child's first publish
 *   until every event is stored and acked; CPU figures are the enrich process's.
 * - freshness: a steady `rate` msg/s through JetStream for `seconds`; a poller counts stored rows every
 *   20 ms, so each event's latency is (first poll that saw it) - (its publish time): publish to
 *   queryable, including the poll granularity.
 * single and jetstream also print CPU per event over the timed span: `cpuUsPerEvent` for the whole process
 * (JS thread, GC helpers and ClickHouse's threads) and `mainThreadUsPerEvent` for the JS thread alone
 * (/proc/self/task/<pid>/stat). CPU time is less disturbed by other load than events/s, not immune to it.
 * `--repeat N` runs single, jetstream and jetstream-split N times each (a fresh database and stream per run,
 * the previous run's database dropped so its merges do not run under the next) and reports the median run
 * with every run's events/s in `runs`: back-to-back runs on the 2-core VM swing ±10% (bench/README.md).
 * Load: riotgames1 (Chatty, 43,301 messages + 1,900 bans/timeouts) read `copies` times, each copy
 * under its own channel name (riotgames_1..N) with the same timestamps.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { InProcessBus } from '../core/bus.ts';
import { createClickHouse } from '../core/clickhouse.ts';
import { loadConfig, type Config } from '../core/config.ts';
import type { ChatEvent } from '../core/events.ts';
import { createLogger } from '../core/logger.ts';
import { migrateUp } from '../clickhouse/migrate.ts';
import { createJetStreamConsumer } from '../enrich/consumer.ts';
import { startEnrich } from '../enrich/index.ts';
import { quantile } from '../enrich/metrics.ts';
import { importFile } from '../ingest/importers/index.ts';
import { ensureChatStream, JetStreamPublisher, MicroBatcher } from '../ingest/jetstream.ts';
import { parseArgs } from '../cli/command.ts';

const LOG = path.resolve(import.meta.dirname, '..', '..', 'shared', 'data', 'chatty', 'riotgames', 'riotgames1.log');
const { flags } = parseArgs(process.argv.slice(2), { copies: 'string', mode: 'string', rate: 'string', seconds: 'string', nats: 'string', batch: 'string', repeat: 'string', 'topics-interval-s': 'string', 'child-publish': 'string', 'parent-pid': 'string', quick: 'boolean' });
const copies = Number(flags.copies ?? (flags.quick ? 1 : 4));
const mode = String(flags.mode ?? 'all');
const rate = Number(flags.rate ?? 1000);
const seconds = Number(flags.seconds ?? (flags.quick ? 5 : 20));
const natsUrl = String(flags.nats ?? 'nats://127.0.0.1:4222');
const repeat = Math.max(1, Number(flags.repeat ?? 1));
const logger = createLogger('warn');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-enrich-'));
process.on('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));

function configFor(db: string, extra: Record<string, string> = {}): Config {
  // The split mode's publisher child names the parent's stream and subjects.
  const tag = `twichist_bench_${db}_${flags['parent-pid'] ?? process.pid}`;
  return loadConfig({ ...(flags.batch ? { ENRICH_BATCH_SIZE: String(flags.batch) } : {}), ...(flags['topics-interval-s'] ? { TOPICS_INTERVAL_S: String(flags['topics-interval-s']) } : {}), TWICHIST_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: db, TWICHIST_ONLINE: 'false', LOG_LEVEL: 'warn', NATS_URL: natsUrl, NATS_STREAM: tag.toUpperCase(), NATS_SUBJECT_PREFIX: tag, NATS_CONSUMER: `enrich_${tag}`, ...extra });
}

/** Reads the log `copies` times with the ingest importer (the parse step is inside the timed span). */
async function* events(): AsyncGenerator<ChatEvent[]> {
  for (let k = 1; k <= copies; k++) {
    let batch: ChatEvent[] = [];
    const out: ChatEvent[][] = [];
    await importFile(LOG, (e) => {
      batch.push(e);
      if (batch.length === 200) {
        out.push(batch);
        batch = [];
      }
    }, { channel: `riotgames_${k}`, source: 'import' });
    if (batch.length > 0) out.push(batch);
    yield* out;
  }
}

/** CPU seconds of the main (JS) thread so far, from /proc: the process total also holds ClickHouse's threads. */
function mainThreadCpuS(): number | null {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // fields 14 and 15 (utime, stime) in clock ticks (100/s on Linux); after the ')' they are at index 11 and 12
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU per event over a timed span: the whole process (JS + ClickHouse threads) and the JS thread alone. */
function cpuMeter() {
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpuS();
  return (events: number) => {
    const c = process.cpuUsage(c0);
    const m1 = mainThreadCpuS();
    return {
      cpuUsPerEvent: +((c.user + c.system) / events).toFixed(1),
      mainThreadUsPerEvent: m0 === null || m1 === null ? null : +(((m1 - m0) * 1e6) / events).toFixed(1),
    };
  };
}

async function stored(config: Config): Promise<number> {
  const client = await createClickHouse(config);
  const rs = await client.query({ query: 'SELECT (SELECT count() FROM messages) + (SELECT count() FROM mod_actions) AS n', format: 'JSONEachRow' });
  return Number((await rs.json<{ n: number }>())[0].n);
}

async function single(db: string) {
  const config = configFor(db);
  const client = await createClickHouse(config, { viaControl: false });
  await migrateUp(client);
  const bus = new InProcessBus(256);
  const stage = startEnrich({ config, logger, client, consumer: bus.consumer() });
  const pub = bus.publisher();
  const cpu = cpuMeter();
  const t0 = performance.now();
  let n = 0;
  for await (const b of events()) {
    n += b.length;
    await pub.publish(b[0].channel, b);
  }
  await bus.idle();
  const s = (performance.now() - t0) / 1000;
  const usage = cpu(n);
  await stage.stop();
  return { events: n, seconds: +s.toFixed(2), eventsPerSecond: Math.round(n / s), ...usage, stored: await stored(config), batches: stage.metrics.batches, meanBatch: Math.round(stage.metrics.batchSize.sum / stage.metrics.batches), insertMsTotal: Math.round(stage.metrics.insertLatencyMs.sum) };
}

/** A migrated database, a stream and durable consumer of its own, the stage on it, and a publisher. */
async function jetStreamStage(db: string, maxDelayMs: number) {
  const config = configFor(db);
  const client = await createClickHouse(config, { viaControl: false });
  await migrateUp(client);
  const nc = await connect({ servers: natsUrl });
  await ensureChatStream(nc, config.nats);
  const consumer = await createJetStreamConsumer({ config, logger, connection: nc });
  const stage = startEnrich({ config, logger, client, consumer });
  const publisher = new JetStreamPublisher({ nc, subjectPrefix: config.nats.subjectPrefix });
  const batcher = new MicroBatcher({ publisher, maxEvents: 200, maxDelayMs });
  return { config, client, nc, stage, batcher };
}

/** Publishes every event through a MicroBatcher; returns the count. */
async function publishAll(batcher: MicroBatcher): Promise<number> {
  let n = 0;
  for await (const b of events()) for (const e of b) {
    n++;
    await batcher.push(e);
  }
  await batcher.close();
  return n;
}

/** Child of `jetstream-split`: the ingest side alone, on the parent's stream. */
async function childPublish(db: string): Promise<void> {
  const config = configFor(db);
  const nc = await connect({ servers: natsUrl });
  const batcher = new MicroBatcher({ publisher: new JetStreamPublisher({ nc, subjectPrefix: config.nats.subjectPrefix }), maxEvents: 200, maxDelayMs: 5 });
  process.send!({ started: Date.now() });
  const n = await publishAll(batcher);
  await nc.close();
  process.send!({ published: n, at: Date.now() });
}

async function jetstreamRun(db: string, split = false) {
  const { config, nc, stage, batcher } = await jetStreamStage(db, 5);
  const cpu = cpuMeter();
  let t0 = performance.now();
  let n: number;
  let published: number;
  if (split) {
    await batcher.close();
    const child = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--child-publish', db, '--parent-pid', String(process.pid)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const done = await new Promise<{ published: number; at: number; started: number }>((resolve, reject) => {
      let started = 0;
      child.on('message', (m: { started?: number; published?: number; at?: number }) => {
        if (m.started) {
          started = m.started;
          t0 = performance.now() - (Date.now() - m.started);
        } else resolve({ published: m.published!, at: m.at!, started });
      });
      child.once('exit', (code) => code !== 0 && reject(new Error(`publisher exited with ${code}`)));
    });
    n = done.published;
    published = (done.at - done.started) / 1000;
  } else {
    n = await publishAll(batcher);
    published = (performance.now() - t0) / 1000;
  }
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(config.nats.stream, config.nats.consumer);
    if (info.num_pending + info.num_ack_pending === 0 && stage.metrics.busAcked > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const s = (performance.now() - t0) / 1000;
  const usage = cpu(n);
  await stage.stop();
  await jsm.streams.delete(config.nats.stream);
  await nc.close();
  return { events: n, seconds: +s.toFixed(2), eventsPerSecond: Math.round(n / s), ...usage, publisher: split ? 'child process' : 'this process', publishSeconds: +published.toFixed(2), stored: await stored(config), batches: stage.metrics.batches, meanBatch: Math.round(stage.metrics.batchSize.sum / stage.metrics.batches) };
}

async function freshness() {
  // Live ingest publishes small batches quickly: 20 ms micro-batches, as ingest's default.
  const { config, client, nc, stage, batcher } = await jetStreamStage('fresh', 20);
  const source: ChatEvent[] = [];
  for await (const b of events()) {
    for (const e of b) if (e.kind === 'message') source.push(e);
    if (source.length >= rate * seconds) break;
  }
  const total = Math.min(source.length, rate * seconds);
  const publishedAt = new Float64Array(total);
  const seenAt = new Float64Array(total);
  let seen = 0;
  let polling = true;
  const poller = (async () => {
    while (polling || seen < total) {
      const rs = await client.query({ query: "SELECT count() AS n FROM messages WHERE channel = 'fresh'", format: 'JSONEachRow' });
      const n = Number((await rs.json<{ n: number }>())[0].n);
      const now = performance.now();
      for (; seen < n && seen < total; seen++) seenAt[seen] = now;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const now = Date.now();
    publishedAt[i] = performance.now();
    void batcher.push({ ...source[i], channel: 'fresh', id: `fresh-${i}`, ts: now, received_at: now } as ChatEvent);
  }
  await batcher.close();
  polling = false;
  await poller;
  await stage.stop();
  await jetstreamManager(nc).then((j) => j.streams.delete(config.nats.stream));
  await nc.close();
  const lat = Array.from({ length: total }, (_, i) => seenAt[i] - publishedAt[i]).sort((a, b) => a - b);
  const q = (p: number) => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]);
  return { rate, seconds, events: total, publishToQueryableMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: Math.round(lat[lat.length - 1]) }, lagHistogramP99Ms: quantile(stage.metrics.lagMs, 0.99), batches: stage.metrics.batches, pollEveryMs: 20 };
}

const out: Record<string, unknown> = {
  bench: 'enrich',
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), loadAvg1m: os.loadavg()[0], node: process.version, platform: `${os.platform()} ${os.release()}` },
  load: { file: 'chatty/riotgames/riotgames1.log', copies, multipliedBy: `${copies} copies, each under its own channel name (riotgames_1..${copies}), same timestamps`, config: { batchSize: configFor('x').enrich.batchSize, flushMs: configFor('x').enrich.flushMs } },
};
if (flags['child-publish']) {
  await childPublish(String(flags['child-publish']));
  process.exit(0);
}
/** `run` `repeat` times on databases `<db>`, `<db>_2`, ...: the median run by events/s, and every run's rate. */
async function repeated<T extends { eventsPerSecond: number }>(db: string, run: (db: string) => Promise<T>): Promise<T & { runs?: number[] }> {
  const results: T[] = [];
  for (let k = 1; k <= repeat; k++) {
    const name = k === 1 ? db : `${db}_${k}`;
    results.push(await run(name));
    if (repeat > 1) {
      const client = await createClickHouse(configFor(name), { viaControl: false });
      await client.command({ query: `DROP DATABASE IF EXISTS ${name} SYNC` });
    }
  }
  if (repeat === 1) return results[0];
  const sorted = [...results].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], runs: results.map((r) => r.eventsPerSecond) };
}

if (mode === 'all' || mode === 'single') out.singleProcess = await repeated('single', single);
if (mode === 'all' || mode === 'jetstream') out.jetstream = await repeated('jetstream', (db) => jetstreamRun(db));
if (mode === 'all' || mode === 'jetstream-split') out.jetstreamSplit = await repeated('jetsplit', (db) => jetstreamRun(db, true));
if (mode === 'all' || mode === 'freshness') out.freshness = await freshness();
out.loadAvg1mAfter = os.loadavg()[0];
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
process.exit(0);
