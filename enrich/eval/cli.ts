/**
 * Argument handling of the eval commands (`npm run eval:sentiment`, `npm run eval:moderation`): `--help` prints
 * the usage and exits 0; a bad option, a missing argument or a failure (a file that cannot be read) prints one
 * `error:` line (and the usage, for argument errors) and exits 2. No stack trace: these are user errors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../cli/command.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
export interface EvalArgs { values: Record<string, string | boolean | undefined>; positionals: string[] }

/** `main` throws the CLI's {@link UsageError} for a usage error found after parsing (no file given): printed with the usage. */
export async function runEvalCli(usage: string, options: Options, main: (args: EvalArgs) => void | Promise<void>): Promise<void> {
  let args: EvalArgs;
  try {
    const parsed = parseArgs({ allowPositionals: true, options: { ...options, help: { type: 'boolean', short: 'h', default: false } } });
    args = { values: parsed.values as EvalArgs['values'], positionals: parsed.positionals };
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (args.values.help) {
    console.log(usage);
    return;
  }
  try {
    await main(args);
  } catch (err) {
    console.error(err instanceof UsageError ? `error: ${err.message}\n${usage}` : `error: ${(err as Error).message ?? String(err)}`);
    process.exit(2);
  }
}
