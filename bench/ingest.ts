/**
 * Ingest speed. Prints one JSON object with machine facts and four figures:
 *  1. parse: raw IRC lines -> events on one core (the #xqc recording, repeated);
 *  2. publish: parse + micro-batch + JetStream publish from one process, all PubAcks awaited, against
 *     the nats-server at NATS_URL (default nats://127.0.0.1:4222), into a unique stream deleted after;
 *  3. memory: the same publish path against a private nats-server that is killed mid-run: the producer
 *     blocks on back-pressure, heap stays flat, and everything is published after it restarts.
 * Input: shared/data/irc/xqc-2023-04-01.raw.irc (4,029 PRIVMSG), multiplied: every pass re-uses the
 * lines with ids suffixed by the pass number (so JetStream stores every copy) and the channel renamed
 * to one of `channels` channels.
 *
 *  4. importers: each importer on a real file of its format (raw IRC, Chatty, justlog/rustlog text, GQL, v5),
 *     events per second before the bus.
 *
 *   node bench/ingest.ts [--events 1000000] [--channels 20] [--only parse|publish|memory|importers]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { loadConfig } from '../core/config.ts';
import type { ChatEvent } from '../core/events.ts';
import { IrcLineSplitter } from '../ingest/irc-lines.ts';
import { parseIrcLine } from '../ingest/irc-parser.ts';
import { importFile } from '../ingest/importers/index.ts';
import { connectNats, ensureChatStream, JetStreamPublisher, MicroBatcher } from '../ingest/jetstream.ts';
import { deleteStream } from '../test/support/nats.ts';
import { renderTextLogLine } from '../test/support/text-logs.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const XQC = path.resolve(repoRoot, '..', 'shared', 'data', 'irc', 'xqc-2023-04-01.raw.irc');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const TARGET_EVENTS = arg('events', 1_000_000);
const CHANNELS = arg('channels', 20);
const NATS_URL = process.argv.includes('--nats') ? process.argv[process.argv.indexOf('--nats') + 1] : 'nats://127.0.0.1:4222';

if (!fs.existsSync(XQC)) {
  console.log(JSON.stringify({ skipped: `${XQC} not found (../shared/data is absent)` }));
  process.exit(0);
}
const lines = fs
  .readFileSync(XQC, 'utf8')
  .split('\r\n')
  .filter((l) => l.includes(' PRIVMSG #') || l.includes(' CLEARCHAT #') || l.includes(' USERNOTICE #'));
// Flat copies, as a socket reader would hand them over (split() returns slices of one big string).
const flat = lines.map((l) => (' ' + l).slice(1));

const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) };

// 1. parse
/** Lines/s by wall clock and by this process's CPU time (user + system), which other processes on a shared machine disturb less. */
function rate(n: number, t0: number, c0: NodeJS.CpuUsage) {
  const c = process.cpuUsage(c0);
  return { wall: (n / (performance.now() - t0)) * 1000, cpu: n / ((c.user + c.system) / 1e6) };
}

function summary(runs: Array<{ wall: number; cpu: number }>, linesPerRun: number) {
  const wall = runs.map((r) => r.wall).sort((a, b) => a - b);
  const cpu = runs.map((r) => r.cpu).sort((a, b) => a - b);
  const mid = Math.floor(runs.length / 2);
  return { linesPerSec: Math.round(wall[wall.length - 1]), medianLinesPerSec: Math.round(wall[mid]), cpuMedianLinesPerSec: Math.round(cpu[mid]), runs: runs.length, linesPerRun };
}

/**
 * (a) `strings`: parseIrcLine over lines sliced from the decoded file (two-byte sliced strings, because
 * the file has emoji; what a reader that decodes a whole chunk and slices lines from it hands over).
 * (b) `bytes`: the live TCP reader's path, timed end to end: 64 KB reads -> IrcLineSplitter (split,
 * per-line UTF-8 decode) -> parseIrcLine.
 */
function benchParse() {
  const ctx = { receivedAt: 1, source: 'live' as const };
  const RUNS = 7;
  const PER_RUN = 400_000;
  for (let i = 0; i < 3; i++) for (const l of flat) parseIrcLine(l, ctx); // warm-up
  const strings: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    while (n < PER_RUN) for (const l of flat) {
      parseIrcLine(l, ctx);
      n++;
    }
    strings.push(rate(n, t0, c0));
  }
  const bytes = Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
  const reads: Buffer[] = [];
  for (let o = 0; o < bytes.length; o += 65536) reads.push(bytes.subarray(o, o + 65536));
  const pass = () => {
    const splitter = new IrcLineSplitter();
    let n = 0;
    for (const chunk of reads) for (const l of splitter.push(chunk)) {
      parseIrcLine(l, ctx);
      n++;
    }
    return n;
  };
  for (let i = 0; i < 3; i++) pass();
  const fromBytes: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    while (n < PER_RUN) n += pass();
    fromBytes.push(rate(n, t0, c0));
  }
  return { strings: summary(strings, PER_RUN), bytes: summary(fromBytes, PER_RUN), loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100) };
}

/** Endless generator of events: pass p, line i -> id suffixed with p, channel renamed. */
function* events(): Generator<ChatEvent> {
  for (let pass = 0; ; pass++) {
    for (let i = 0; i < flat.length; i++) {
      const r = parseIrcLine(flat[i], { receivedAt: Date.now(), source: 'replay' });
      if (!r.ok) continue;
      r.event.id = `${r.event.id}:${pass}`;
      r.event.channel = `bench_${(i + pass) % CHANNELS}`;
      yield r.event;
    }
  }
}

// 2. publish
async function benchPublish() {
  const tag = `twichist_bench_${process.pid}_${Date.now()}`;
  const config = loadConfig({ NATS_URL, NATS_STREAM: tag.toUpperCase(), NATS_SUBJECT_PREFIX: tag });
  // The ingest connection (connectNats), as `twichist ingest` opens it.
  const nc = await connectNats(NATS_URL, 'twichist-bench');
  try {
    await ensureChatStream(nc, config.nats);
    const publisher = new JetStreamPublisher({ nc, subjectPrefix: tag });
    const batcher = new MicroBatcher({ publisher, maxEvents: 200, maxDelayMs: 20, maxInFlight: 64 });
    const gen = events();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let n = 0; n < TARGET_EVENTS; n++) {
      const w = batcher.push(gen.next().value as ChatEvent);
      if (w) await w;
    }
    await batcher.close();
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const cpuSecs = (cpu.user + cpu.system) / 1e6;
    const info = await (await import('@nats-io/jetstream')).jetstreamManager(nc).then((j) => j.streams.info(config.nats.stream));
    return { events: TARGET_EVENTS, seconds: Math.round(secs * 100) / 100, eventsPerSec: Math.round(TARGET_EVENTS / secs), cpuSeconds: Math.round(cpuSecs * 100) / 100, eventsPerCpuSec: Math.round(TARGET_EVENTS / cpuSecs), loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100), acked: batcher.acked, streamMessages: info.state.messages, streamBytes: info.state.bytes, peakInFlight: batcher.peakInFlight, batch: { maxEvents: 200, maxDelayMs: 20, maxInFlight: 64 }, retries: publisher.retries };
  } finally {
    await deleteStream(nc, config.nats.stream);
    await nc.close();
  }
}

// 3. memory with NATS stopped
async function startNats(port: number, dir: string): Promise<ChildProcess> {
  const p = spawn('nats-server', ['-js', '-p', String(port), '-a', '127.0.0.1', '-sd', dir], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try {
      const nc = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 200 });
      await nc.close();
      return p;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('private nats-server did not start');
}

async function benchMemory() {
  const port = 14222 + (process.pid % 1000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-nats-'));
  let server = await startNats(port, dir);
  const url = `nats://127.0.0.1:${port}`;
  const config = loadConfig({ NATS_URL: url, NATS_STREAM: 'TWICHIST_BENCH_MEM', NATS_SUBJECT_PREFIX: 'twichist_bench_mem' });
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const maxEvents = 200;
  const maxInFlight = 64;
  try {
    await ensureChatStream(nc, config.nats);
    const publisher = new JetStreamPublisher({ nc, subjectPrefix: 'twichist_bench_mem', timeoutMs: 1000, maxBackoffMs: 500 });
    const batcher = new MicroBatcher({ publisher, maxEvents, maxDelayMs: 20, maxInFlight });
    const gen = events();
    const total = 400_000;
    const heap: Array<{ t: number; pushed: number; heapMiB: number; inFlight: number; phase: string }> = [];
    let phase = 'running';
    let pushed = 0;
    const t0 = performance.now();
    const sampler = setInterval(() => {
      heap.push({ t: Math.round(performance.now() - t0), pushed, heapMiB: Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10, inFlight: batcher.inFlightCount, phase });
    }, 250);
    const killer = (async () => {
      while (pushed < 100_000) await new Promise((r) => setTimeout(r, 20));
      server.kill('SIGKILL');
      phase = 'nats stopped';
      await new Promise((r) => setTimeout(r, 5000));
      server = await startNats(port, dir);
      phase = 'nats restarted';
    })();
    for (; pushed < total; pushed++) {
      const w = batcher.push(gen.next().value as ChatEvent);
      if (w) await w;
    }
    await killer;
    await batcher.close();
    clearInterval(sampler);
    const stopped = heap.filter((h) => h.phase === 'nats stopped');
    const info = await (await import('@nats-io/jetstream')).jetstreamManager(nc).then((j) => j.streams.info(config.nats.stream));
    return {
      events: total,
      ceilingEvents: `(maxInFlight ${maxInFlight} + ${CHANNELS} open channel batches) x ${maxEvents} = ${(maxInFlight + CHANNELS) * maxEvents}`,
      pushedWhenStopped: stopped[0]?.pushed ?? null,
      pushedAfter5sStopped: stopped[stopped.length - 1]?.pushed ?? null,
      heapMiBWhileStopped: stopped.length ? { min: Math.min(...stopped.map((h) => h.heapMiB)), max: Math.max(...stopped.map((h) => h.heapMiB)) } : null,
      heapMiBPeak: Math.max(...heap.map((h) => h.heapMiB)),
      maxInFlightSeen: batcher.peakInFlight,
      retries: publisher.retries,
      acked: batcher.acked,
      streamMessagesAfterRestart: info.state.messages,
      samples: heap.filter((_, i) => i % 4 === 0),
    };
  } finally {
    await nc.close().catch(() => {});
    server.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// 4. importers
/**
 * Each importer on a real file of its format, events to a sink that drops them (file read, gunzip, parse,
 * ids): the import rate before the bus. The justlog/rustlog text is the #xqc recording rendered as rustlog
 * writes it (test/support/text-logs.ts; no such log is in shared/data), in a temp file.
 */
async function benchImporters() {
  const shared = path.dirname(path.dirname(XQC));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-importers-'));
  try {
    const rendered: string[] = [];
    await importFile(XQC, (e) => {
      const line = renderTextLogLine(e, 'rustlog');
      if (line !== null) rendered.push(line);
    });
    const text = path.join(tmp, 'xqc-rustlog.txt');
    fs.writeFileSync(text, rendered.join('\r\n') + '\r\n');
    const files = [
      XQC,
      path.join(shared, 'chatty', 'riotgames', 'riotgames1.log'),
      text,
      path.join(shared, 'vod-json', 'gql-verbose', 'arypie', '2021-11-10_15-41-56_1201462028', 'verbose_chat.json.gz'),
      path.join(shared, 'vod-json', 'v5-rechat', 'rechat-84065913.json'),
    ];
    const out: Record<string, unknown> = {};
    for (const file of files) {
      const runs: Array<{ wall: number; cpu: number }> = [];
      let n = 0;
      let format = '';
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        const stats = await importFile(file, () => {});
        n = Object.values(stats.events).reduce((a, b) => a + (b ?? 0), 0);
        format = stats.format;
        if (r > 0) runs.push(rate(n, t0, c0)); // the first run warms up
      }
      const med = (k: 'wall' | 'cpu') => Math.round(runs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]);
      out[format] = { file: file === text ? 'shared/data/irc/xqc-2023-04-01.raw.irc rendered as rustlog text (temp file)' : `shared/${path.relative(path.dirname(shared), file)}`, events: n, medianEventsPerSec: med('wall'), cpuMedianEventsPerSec: med('cpu'), runs: runs.length };
    }
    return out;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const want = (name: string) => only === null || only === name;
const parse = want('parse') ? benchParse() : null;
const publish = want('publish') ? await benchPublish().catch((err: unknown) => ({ error: String(err) })) : null;
const memory = want('memory') ? await benchMemory().catch((err: unknown) => ({ error: String(err) })) : null;
const importers = want('importers') ? await benchImporters().catch((err: unknown) => ({ error: String(err) })) : null;
console.log(
  JSON.stringify(
    {
      bench: 'ingest',
      machine,
      input: { file: 'shared/data/irc/xqc-2023-04-01.raw.irc', chatLines: flat.length, multiplied: `passes over the file with ids suffixed per pass, channels renamed to ${CHANNELS} channels` },
      parse,
      publish,
      memory,
      importers,
    },
    null,
    2,
  ),
);
process.exit(0);
