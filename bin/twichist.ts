#!/usr/bin/env node
/**
 * `twichist <command>`: loads every module in cli/commands/ and dispatches. Failures print one line
 * (the reason, and for configuration errors the setting and its fix) and exit non-zero.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatHelp, type Command, type CommandContext } from '../cli/command.ts';
import { describeError } from '../cli/errors.ts';
import { loadConfig, type Config } from '../core/config.ts';
import { createLogger, type Logger } from '../core/logger.ts';

const commandsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'commands');

async function loadCommands(): Promise<Map<string, Command>> {
  const out = new Map<string, Command>();
  for (const f of fs.readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).sort()) {
    const mod = (await import(pathToFileURL(path.join(commandsDir, f)).href)) as { command?: Command };
    if (mod.command) out.set(mod.command.name, mod.command);
  }
  return out;
}

function mainHelp(commands: Map<string, Command>): string {
  const lines = [...commands.values()].map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n');
  return `twichist: archive, enrich, analyze and visualize Twitch chat\n\nUsage: twichist <command> [options]\n\nCommands:\n${lines}\n\nRun 'twichist <command> --help' for a command's options and examples.\n`;
}

async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp(commands));
    return name ? 0 : 1;
  }
  const command = commands.get(name);
  if (!command) {
    process.stderr.write(`twichist: unknown command '${name}'. Run 'twichist --help' for the list.\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(formatHelp(command));
    return 0;
  }
  let config: Config | null = null;
  let logger: Logger | null = null;
  const ctx: CommandContext = {
    config: () => (config ??= loadConfig()),
    logger: () => (logger ??= createLogger(ctx.config().logLevel)),
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stdout.isTTY),
  };
  return command.run(args, ctx);
}

main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`twichist: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  )
  // A command that opened the embedded engine (import, analytics, sql, migrate, ...) closes it before the
  // exit, as `up` does: a scheduled view refresh still running then could crash chdb's exit teardown.
  // No-op when none was opened (the module import costs ~30 ms then).
  .then(async () => {
    const { shutdownEmbedded } = await import('../core/clickhouse.ts');
    await shutdownEmbedded().catch(() => {});
  });
