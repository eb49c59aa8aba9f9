/**
 * `twichist import <file|dir> [--channel NAME]`: imports chat exports (raw IRC logs, Chatty logs, justlog/rustlog
 * text logs, Twitch GQL / v5 rechat / TwitchDownloader JSON, gzip or plain; format detected from the content). With
 * NATS_URL it publishes to JetStream and returns once every publish is acknowledged; without, it runs
 * the enrich stage in this process and returns once everything is stored. Re-importing a file stores
 * nothing twice (same ids). Bad lines are reported with file:line and written to `dead_letters`; with NATS_URL
 * and embedded ClickHouse that goes through the running `enrich` (the folder's owner), waited for up to 5 minutes,
 * after which they are counted as failed (still printed with file:line).
 * When it returns, the derived tables (bursts, segments, ...) reflect the import too.
 */
import { runImport } from '../../ingest/import-run.ts';
import { settleDerived } from '../derived.ts';
import { channelFlag, parseArgs, UsageError, type Command } from '../command.ts';

export const command: Command = {
  name: 'import',
  summary: 'Import chat exports (raw IRC, Chatty, justlog/rustlog text, GQL/v5/TwitchDownloader JSON) into Twichist, exactly once',
  usage: 'twichist import <file|dir> [--channel NAME]',
  options: [{ flag: '--channel NAME', description: 'channel for formats that do not name it (GQL exports outside <channel>/<vod>/ folders), or to override it' }],
  examples: ['twichist import ./logs/xqc.raw.irc', 'twichist import ./chatty/riotgames/', 'twichist import ./vod/verbose_chat.json.gz --channel arypie', 'NATS_URL=nats://127.0.0.1:4222 twichist import ./exports'],
  async run(args, ctx) {
    const { flags, positional } = parseArgs(args, { channel: 'string' });
    if (positional.length !== 1) throw new UsageError('give exactly one file or directory to import');
    const channel = channelFlag(flags, 'channel');
    const result = await runImport({ target: positional[0], channel, speed: null, config: ctx.config(), logger: ctx.logger().child({ cmd: 'import' }), stdout: ctx.stdout, stderr: ctx.stderr, isTTY: ctx.isTTY });
    if (result.total > 0) await settleDerived({ config: ctx.config(), say: (line) => ctx.stderr.write(line + '\n') });
    return result.failedFiles.length > 0 ? 1 : 0;
  },
};
