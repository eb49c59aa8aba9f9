/** The shape every `cli/commands/*.ts` module exports as `command`. */
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { CHANNEL_LOGIN, CHANNEL_LOGIN_RULE, normalizeChannel, splitChannels } from '../core/channels.ts';

export interface CommandContext {
  /** Parsed lazily: `--help` must work even when the environment is broken. */
  config: () => Config;
  logger: () => Logger;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal (progress bars) or a pipe/file (plain log lines). */
  isTTY: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** One line, e.g. `twichist sql "<query>" [--format table|json|csv]`. */
  usage: string;
  options: Array<{ flag: string; description: string }>;
  examples: string[];
  /** Returns the exit code. Throwing is fine: the loader prints the message as one line and exits 1. */
  run(args: string[], ctx: CommandContext): Promise<number>;
}

/** A failure the user can fix; printed as one line without a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Minimal flag parser: `--name value`, `--name=value`, boolean `--flag`; everything else positional.
 * Unknown flags are an error so typos do not silently fall back to defaults.
 */
export function parseArgs(args: string[], spec: Record<string, 'string' | 'boolean'>): { flags: Record<string, string | boolean>; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    // `-- what it does\nSELECT ...` (an example pasted from clickhouse/README.md into `twichist sql`) is SQL,
    // not an option: a space or a line after the dashes. Anything else is an option, so a typo such as
    // `--dry_run` is still an unknown option rather than a file or a query.
    if (!a.startsWith('--') || /^--\s/.test(a) || a.includes('\n')) {
      positional.push(a);
      continue;
    }
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      flags[name] = true;
    } else if (eq !== -1) {
      flags[name] = a.slice(eq + 1);
    } else {
      if (i + 1 >= args.length) throw new UsageError(`--${name} needs a value`);
      flags[name] = args[++i];
    }
  }
  return { flags, positional };
}

/**
 * A channel flag's value (`--channel '#XQC'` -> `xqc`) read as TWITCH_CHANNELS and the API read it
 * (core/channels.ts); null when the flag is absent. A value that is not a login is a usage error.
 */
export function channelFlag(flags: Record<string, string | boolean>, name: string): string | null {
  const v = flags[name];
  if (typeof v !== 'string') return null;
  const c = normalizeChannel(v);
  if (!CHANNEL_LOGIN.test(c)) throw new UsageError(`--${name} must be ${CHANNEL_LOGIN_RULE}, not '${v}'`);
  return c;
}

/** A channel list flag (`--channels 'a, #B c'` -> `['a', 'b', 'c']`), as {@link channelFlag}; `[]` when absent. */
export function channelListFlag(flags: Record<string, string | boolean>, name: string): string[] {
  const v = flags[name];
  if (typeof v !== 'string') return [];
  const list = splitChannels(v);
  for (const c of list) if (!CHANNEL_LOGIN.test(c)) throw new UsageError(`--${name}: '${c}' is not ${CHANNEL_LOGIN_RULE}`);
  return list;
}

export function formatHelp(c: Command): string {
  const opts = c.options.map((o) => `  ${o.flag.padEnd(28)} ${o.description}`).join('\n');
  const ex = c.examples.map((e) => `  ${e}`).join('\n');
  return `${c.summary}\n\nUsage: ${c.usage}\n\nOptions:\n${opts || '  (none)'}\n  ${'--help'.padEnd(28)} show this help\n\nExamples:\n${ex}\n`;
}
