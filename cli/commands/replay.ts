/**
 * `twichist replay <file|dir> [--speed <N>x|max] [--channel NAME] [--new-ids]`: publishes a chat export with its
 * original timing scaled (for demos and load). Events keep their ids unless `--new-ids`, so replaying
 * chat that is already stored adds nothing; `--new-ids` derives fresh ids per run for load tests.
 */
import { runImport } from '../../ingest/import-run.ts';
import { channelFlag, parseArgs, UsageError, type Command } from '../command.ts';

export function parseSpeed(v: string): number | 'max' {
  if (v === 'max') return 'max';
  const n = Number(v.replace(/x$/i, ''));
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--speed must be like 10x, 0.5x or max, not '${v}'`);
  return n;
}

export const command: Command = {
  name: 'replay',
  summary: 'Replay a chat export with its original timing scaled (demos, load tests)',
  usage: 'twichist replay <file|dir> [--speed <N>x|max] [--channel NAME] [--new-ids]',
  options: [
    { flag: '--speed Nx|max', description: 'multiple of the original pace (e.g. 10x), or max for as fast as the bus takes it (default 1x)' },
    { flag: '--channel NAME', description: 'publish into this channel instead of the recorded one' },
    { flag: '--new-ids', description: 'give events fresh ids for this run, so already stored chat is stored again (load tests)' },
  ],
  examples: ['twichist replay ./logs/xqc.raw.irc --speed 10x', 'twichist replay ./chatty/riotgames/riotgames1.log --speed max --channel loadtest --new-ids'],
  async run(args, ctx) {
    const { flags, positional } = parseArgs(args, { speed: 'string', channel: 'string', 'new-ids': 'boolean' });
    if (positional.length !== 1) throw new UsageError('give exactly one file or directory to replay');
    const speed = parseSpeed(typeof flags.speed === 'string' ? flags.speed : '1x');
    const channel = channelFlag(flags, 'channel');
    const result = await runImport({ target: positional[0], channel, speed, newIds: flags['new-ids'] === true, config: ctx.config(), logger: ctx.logger().child({ cmd: 'replay' }), stdout: ctx.stdout, stderr: ctx.stderr, isTTY: ctx.isTTY });
    return result.failedFiles.length > 0 ? 1 : 0;
  },
};
