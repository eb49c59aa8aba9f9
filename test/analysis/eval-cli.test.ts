/**
 * The eval commands as users run them (`npm run eval:sentiment|eval:moderation -- ...`): `--help` prints the
 * usage and exits 0; bad options, missing arguments and unreadable files print one `error:` line and exit 2,
 * never a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';

const run = (script: string, args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'enrich', 'eval', script), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

for (const [script, missing] of [['sentiment.ts', 'no CSV file given'], ['moderation.ts', 'no log given']] as const) {
  test(`eval ${script}: --help, bad options, missing arguments and unreadable files`, () => {
    const help = run(script, ['--help']);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^usage: npm run eval:/);
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /^error: Unknown option '--bogus'/],
      [[], new RegExp(`^error: ${missing}\\nusage: `)],
      [['/nonexistent/twichist-eval-input'], /^error: ENOENT: no such file or directory/],
    ];
    for (const [args, re] of cases) {
      const r = run(script, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
  });
}
