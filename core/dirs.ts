/**
 * `mkdir -p` that fails instead of hanging. Node's `fs.mkdirSync(dir, { recursive: true })` (and
 * `fs.promises.mkdir`; seen on Node 24.21) never returns when a parent exists but cannot hold the child
 * and answers ENOENT, as every path under `/proc` and a dangling symbolic link do: it steps back to the
 * parent (EEXIST) and forward again, for ever. `TWICHIST_DATA_DIR=/proc/twichist` hung every command
 * at start-up that way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config.ts';

/**
 * Creates `dir` and its missing parents one at a time, from the nearest one that exists, and throws the
 * first error (an existing `dir` that is not a folder: EEXIST, as `mkdir -p`).
 * @param setting the variable the folder comes from (`TWICHIST_DATA_DIR`): a failure is then a
 *   {@link ConfigError} naming it and the fix, which the CLI prints as one line.
 */
export function makeDirs(dir: string, setting: string | null = null): void {
  const target = path.resolve(dir);
  try {
    const missing: string[] = [];
    for (let d = target; !fs.existsSync(d); d = path.dirname(d)) {
      missing.push(d);
      if (path.dirname(d) === d) break;
    }
    for (const d of missing.reverse()) {
      try {
        fs.mkdirSync(d);
      } catch (err) {
        // created meanwhile by another process, or a dangling link (whose child then fails with ENOENT)
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    if (!fs.statSync(target).isDirectory()) fs.mkdirSync(target);
  } catch (err) {
    if (setting === null) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([{ setting, problem: `cannot create ${e.path ?? target} (${e.code ?? e.message}); set ${setting} to a folder this user can write, or fix its permissions` }]);
  }
}
