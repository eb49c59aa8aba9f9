/**
 * `twichist ingest`: the live ingestor alone. Joins TWITCH_CHANNELS and the channels in ClickHouse
 * (`channels` table, re-read every 5 s and on the NATS control subject), drops opted-out users, and
 * publishes to JetStream (NATS_URL) or, without NATS, to an in-process enrich stage. Runs until
 * SIGINT/SIGTERM, then parts, flushes and waits for every event to be acknowledged/stored.
 */
import { channelsFromClickHouse, createOptOutFilter, LiveIngestor } from '../../ingest/live.ts';
import { openPublishPipeline } from '../../ingest/pipeline.ts';
import { serveHeldFolder } from '../../core/control.ts';
import { checkTokenFile } from '../../core/runtime.ts';
import { channelListFlag, parseArgs, type Command } from '../command.ts';

export const command: Command = {
  name: 'ingest',
  summary: 'Archive live Twitch chat (anonymous read-only unless a token is configured)',
  usage: 'twichist ingest [--channels a,b,c]',
  options: [{ flag: '--channels a,b', description: 'channels to join in addition to TWITCH_CHANNELS and the channels table' }],
  examples: ['TWITCH_CHANNELS=xqc,lirik twichist ingest', 'NATS_URL=nats://127.0.0.1:4222 TWITCH_CHANNELS=xqc twichist ingest', 'twichist ingest --channels northernlion'],
  async run(args, ctx) {
    const { flags } = parseArgs(args, { channels: 'string' });
    const base = ctx.config();
    const extra = channelListFlag(flags, 'channels');
    const config = { ...base, twitch: { ...base.twitch, channels: [...new Set([...base.twitch.channels, ...extra])] } };
    checkTokenFile(config);
    const logger = ctx.logger().child({ cmd: 'ingest' });
    const pipeline = await openPublishPipeline(config, logger);
    const client = await pipeline.clickhouse();
    const optOuts = createOptOutFilter(client, logger);
    await optOuts.refresh();
    const ingestor = new LiveIngestor({ config, logger, publisher: pipeline.publisher, isOptedOut: optOuts.isOptedOut, loadChannels: channelsFromClickHouse(client), nc: pipeline.nc });
    // an enrich started after this one works through it instead of failing on the folder's lock; `status` asks it about IRC
    const control = await serveHeldFolder({ dataDir: config.dataDir, logger, status: () => ({ ingest: ingestor.connection }) });
    // Part, flush and wait for the bus, then close what the ingestor needed. Also after a failed start (nothing
    // was received yet): without closing what is open the command printed its error and hung.
    const close = () =>
      ingestor.stop().finally(async () => {
        optOuts.stop();
        await control?.close();
        await pipeline.close();
      });
    try {
      await ingestor.start();
    } catch (err) {
      await close().catch(() => {});
      throw err;
    }
    ctx.stdout.write(`ingesting ${ingestor.channels.join(', ') || '(no channels yet: add some with TWITCH_CHANNELS or the API)'}; Ctrl-C to stop\n`);
    const report = setInterval(() => logger.info({ ...ingestor.stats, joined: ingestor.joinedChannels }, 'ingest progress'), 30_000);
    report.unref();
    const sig = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    ctx.stdout.write(`${sig}: parting, flushing and waiting for the bus\n`);
    clearInterval(report);
    await close();
    ctx.stdout.write(`stopped: ${JSON.stringify(ingestor.stats)}\n`);
    return 0;
  },
};
