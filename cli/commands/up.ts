/**
 * `twichist up` (`npm start`): ingest + enrich + API in one process on the embedded ClickHouse and the
 * in-process bus (JetStream when NATS_URL is set). With TWITCH_CHANNELS it archives those channels
 * live; without, it replays the bundled real chat sample (samples/NOTICE) so a new install has data
 * in seconds. SIGTERM/SIGINT stop it in an order that loses nothing (core/runtime.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { preflight, SAMPLE_FILE, startRuntime, type Runtime, type RuntimeSource } from '../../core/runtime.ts';
import { parseArgs, UsageError, type Command } from '../command.ts';
import { createProgress } from '../progress.ts';

/**
 * Default replay speed. 50x plays the 23-minute sample in ~27 s: fast enough that the API has data
 * within seconds, slow enough that the timeline visibly fills in and the live feed has something to show.
 */
const DEFAULT_SPEED = 50;

export const command: Command = {
  name: 'up',
  summary: 'Run Twichist on one machine: ingest + enrich + API, embedded ClickHouse, migrations applied on start',
  usage: 'twichist up [--speed N] [--sample FILE] [--no-replay]',
  options: [
    { flag: '--speed N', description: `replay speed when no channel is followed, times real time (e.g. 500 or 500x; default ${DEFAULT_SPEED}; original timestamps are kept, so a second replay stores nothing twice)` },
    { flag: '--sample FILE', description: 'replay this chat export instead of the bundled sample (any format `twichist import` reads)' },
    { flag: '--no-replay', description: 'never replay the sample: follow TWITCH_CHANNELS and the channels added through the API, or wait for the first one' },
  ],
  examples: [
    'twichist up',
    'TWITCH_CHANNELS=northernlion,lirik twichist up',
    'twichist up --speed 500',
    'twichist up --sample ./exports/rechat-123.json',
    'NATS_URL=nats://127.0.0.1:4222 twichist up',
    'TWICHIST_DATA_DIR=/srv/twichist API_PORT=8080 twichist up',
  ],
  async run(args, ctx) {
    const { flags } = parseArgs(args, { speed: 'string', sample: 'string', 'no-replay': 'boolean' });
    // `50x` as well as `50`: the README and `twichist replay --speed 10x` write speeds that way.
    const speed = flags.speed === undefined ? DEFAULT_SPEED : Number(String(flags.speed).replace(/x$/i, ''));
    if (!Number.isFinite(speed) || speed <= 0) throw new UsageError(`--speed must be a positive number, not '${flags.speed}'`);
    const sample = typeof flags.sample === 'string' ? flags.sample : SAMPLE_FILE;
    if (!fs.existsSync(sample)) throw new UsageError(`--sample: no file at ${sample}`);
    if (typeof flags.sample === 'string') {
      // Before anything starts: a wrong file should not cost a database start-up to find out.
      const { detectFormat } = await import('../../ingest/importers/index.ts');
      if ((await detectFormat(sample)) === null) throw new UsageError(`--sample: ${sample} is not a chat export \`twichist import\` reads (raw IRC, Chatty, justlog/rustlog text, Twitch GQL/v5 VOD JSON, TwitchDownloader JSON)`);
    }
    const config = ctx.config();
    const logger = ctx.logger();
    const out = (line: string) => ctx.stdout.write(line + '\n');

    await preflight(config, { api: true });
    // `auto`: live when TWITCH_CHANNELS or the channels table (channels added through the API) has
    // anything to follow, else the sample. `--no-replay`: live, or idle until a channel is added.
    const source: RuntimeSource = flags['no-replay'] ? { kind: 'live' } : { kind: 'auto', file: sample, speed };

    // Signals before start-up finishes must still stop cleanly, so listen first and act once ready.
    let signalled: ((sig: string) => void) | null = null;
    const stopSignal = new Promise<string>((resolve) => (signalled = resolve));
    const onSignal = (sig: NodeJS.Signals) => {
      if (signalled) {
        signalled(sig);
        signalled = null;
        return;
      }
      // A second Ctrl-C means "now": skip the drain. Only the in-process queue can be lost.
      ctx.stderr.write(`twichist: ${sig} again, exiting without draining\n`);
      process.exit(130);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    let runtime: Runtime | null = null;
    try {
      out(`twichist up: data in ${config.dataDir}`);
      // stdout, not stderr: `up` prints nothing machine-readable, and its status lines belong together.
      // Created at the first event, so rate and ETA do not count the start-up.
      let progress: ReturnType<typeof createProgress> | null = null;
      const onProgress = (done: number, total: number | null) => {
        if (source.kind !== 'auto') return;
        progress ??= createProgress({ out: ctx.stdout, isTTY: ctx.isTTY, label: `replay ${path.basename(source.file)}`, unit: 'events' });
        progress.update({ done, total, count: done });
        if (total !== null && done >= total) progress?.finish();
      };
      runtime = await startRuntime({ config, logger, source, onStep: (step) => out(`  ${step}`), onProgress });
      printWelcome(out, runtime, speed, config.dataDir);
      const rt = runtime;
      let stopping = false;
      void rt.sourceDone.then(
        async ({ events }) => {
          // Stopped part-way: the count is what the shutdown drains into ClickHouse.
          if (stopping) return out(`replay stopped after ${events} events published`);
          await rt.settled();
          const stored = await countMessages(rt);
          out(`replay finished: ${events} events published, ${stored ?? '?'} messages in ClickHouse (all channels, earlier runs included). Still serving; Ctrl-C to stop.`);
          // Analytics views (bursts, chatter features, ...) now rather than at their next schedule.
          // In the background: it can take a while on a busy machine, and nothing waits for it.
          const views = await rt.refreshDerived().catch((err: unknown) => {
            // A shutdown cancels the refresh; that is no failure to report.
            if (!stopping) logger.warn({ err: String(err) }, 'analytics refresh failed; the views refresh on their own schedule');
            return [];
          });
          if (views.length > 0 && !stopping) out(`refreshed ${views.length} analytics view(s)`);
        },
        (err: unknown) => ctx.stderr.write(`twichist: ingest stopped: ${(err as Error).message}\n`),
      );
      const sig = await stopSignal;
      stopping = true;
      out(`${sig}: shutting down (stop ingest, drain bus, flush enrich, stop API, close ClickHouse)`);
      await runtime.stop();
      out('stopped cleanly');
      // Everything is stored and closed, the embedded engine too (runtime.stop). Only when chdb still had
      // an operation running after the stop's 30 s wait is the engine left open, and it would hold the
      // exit until that ends (minutes on a busy machine); exit shortly even then. Unref'd: a normal exit
      // is not delayed.
      setTimeout(() => process.exit(0), 2000).unref();
      return 0;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      await runtime?.stop().catch(() => {});
    }
  },
};

async function countMessages(rt: Runtime): Promise<number | null> {
  try {
    const rs = await rt.client.query({ query: 'SELECT count() AS n FROM messages', format: 'JSONEachRow' });
    const rows = await rs.json<{ n: number }>();
    return Number(rows[0]?.n ?? 0);
  } catch {
    return null;
  }
}

function printWelcome(out: (l: string) => void, rt: Runtime, speed: number, dataDir: string): void {
  const lines = [''];
  if (rt.apiUrl) {
    lines.push(`  API       ${rt.apiUrl}/api/v1/channels`);
    lines.push(`  API docs  ${rt.apiUrl}/docs`);
    lines.push(`  health    ${rt.apiUrl}/health`);
  }
  lines.push('', '  Query from another terminal (same TWICHIST_DATA_DIR):');
  lines.push(`    npx twichist sql "SELECT channel, count() FROM messages GROUP BY channel"`);
  // per channel: summed over the minute alone, two channels' chat read as one
  lines.push(`    npx twichist sql "SELECT window, channel, sum(messages) AS messages FROM chat_1m GROUP BY window, channel ORDER BY window, channel" --format csv`);
  lines.push(`    npx twichist sql "SELECT login, text FROM messages ORDER BY ts DESC LIMIT 10"`);
  if (rt.source === 'replay') lines.push('', `  No channel followed: replaying a real 2016 chat sample at ${speed}x. Set TWITCH_CHANNELS=<login,...> (or POST /api/v1/channels) to archive live chat.`);
  if (rt.source === 'live') lines.push('', '  Archiving live; Ctrl-C stops after storing everything received.');
  if (rt.source === 'none') lines.push('', '  No channel followed yet: add one with TWITCH_CHANNELS=<login,...> or POST /api/v1/channels.');
  lines.push(`  Data: ${dataDir}   Bus: ${rt.bus}`, '');
  out(lines.join('\n'));
}
