/**
 * Mistakes on the command line stop with one line saying what to do (exit 1, as every twichist error; no stack trace), before anything
 * is read: more than one SQL statement in `twichist sql`, a reversed time range in `twichist analytics topics`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseArgs } from '../../cli/command.ts';
import { firstKeyword, singleStatement } from '../../cli/commands/sql.ts';
import { runCli, STACK_LINE, tempDir } from './harness.ts';

const base = tempDir('usage-errors');
after(() => fs.rmSync(base, { recursive: true, force: true }));
const env = { TWICHIST_DATA_DIR: path.join(base, 'data') };

async function expectUsageError(args: string[], message: RegExp) {
  const r = await runCli(args, env, 60_000);
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK_LINE);
  assert.match(r.stderr, message);
}

test('sql: one statement per call; a trailing ; and ; inside quotes or comments are fine', async () => {
  assert.equal(singleStatement('SELECT 1;'), 'SELECT 1');
  assert.equal(singleStatement("SELECT ';' AS a, `x;y` -- ; a comment\n"), "SELECT ';' AS a, `x;y` -- ; a comment");
  assert.equal(singleStatement("SELECT 'it\\'s; here' /* ; */"), "SELECT 'it\\'s; here' /* ; */");
  assert.equal(singleStatement('SELECT 1; SELECT 2'), null);
  await expectUsageError(['sql', 'SELECT 1; SELECT 2'], /one statement per call/);
  const ok = await runCli(['sql', 'SELECT 41 + 1 AS answer;', '--format', 'json'], env, 60_000);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, '{"answer":42}\n');
});

test('sql: a query pasted with its comment, as clickhouse/README.md writes them, prints its rows', async () => {
  // Was "unknown option -- what it asks ..." (the argument starts with --), and behind a /* */ comment the
  // SELECT ran as a command and printed OK.
  assert.deepEqual(parseArgs(['-- the answer\nSELECT 42', '--format', 'csv'], { format: 'string' }), { flags: { format: 'csv' }, positional: ['-- the answer\nSELECT 42'] });
  assert.throws(() => parseArgs(['--formt', 'csv'], { format: 'string' }), /unknown option --formt/);
  assert.throws(() => parseArgs(['--dry_run'], { format: 'string' }), /unknown option --dry_run/);
  assert.equal(firstKeyword('-- a\n  /* b */\n-- c\nSELECT 1'), 'SELECT 1');
  assert.equal(firstKeyword('-- only a comment'), '');
  for (const sql of ['-- the answer\nSELECT 41 + 1 AS answer', '/* the answer */ SELECT 41 + 1 AS answer', 'FROM system.one SELECT 41 + 1 AS answer']) {
    const r = await runCli(['sql', sql, '--format', 'json'], env, 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '{"answer":42}\n', sql);
  }
  await expectUsageError(['sql', '-- nothing but a comment'], /give the SQL to run/);
});

test('sql: a database nothing was stored in says so and where, not only "Maybe you meant system.merges?"', async () => {
  // What `twichist sql` from another folder than `npm start` meets: the default ./data is another folder.
  const r = await runCli(['sql', 'SELECT count() FROM messages'], env, 60_000);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_LINE);
  assert.match(r.stderr, /UNKNOWN_TABLE.*No Twichist tables in the embedded database in .*data[/\\]clickhouse: .*twichist up.*TWICHIST_DATA_DIR/);
});

test('up: --speed takes 500x as well as 500, as replay does; anything else is a usage error', async () => {
  // A missing --sample is the next check, so reaching it means the speed was accepted (nothing starts).
  await expectUsageError(['up', '--speed', '500x', '--sample', path.join(base, 'missing.json')], /--sample: no file at/);
  await expectUsageError(['up', '--speed', 'fast', '--sample', path.join(base, 'missing.json')], /--speed must be a positive number, not 'fast'/);
});

test('analytics topics: --since after --until (or after now) is a usage error, not an empty run', async () => {
  await expectUsageError(['analytics', 'topics', '--since', '2016-09-30T03:00:00Z', '--until', '2016-09-30T01:00:00Z'], /--since must be before --until/);
  await expectUsageError(['analytics', 'topics', '--since', '2999-01-01T00:00:00Z'], /--since must be before now/);
});

test('analytics topics: a --channel that is not a login is a usage error, as for import, replay and ingest', async () => {
  // It was passed on as typed (so `#RiotGames` matched no stored channel either: test/foundation/channel-names.test.ts).
  await expectUsageError(['analytics', 'topics', '--channel', 'not a login!'], /--channel must be a Twitch login.*not 'not a login!'/);
});

test('analytics topics: a --channel with nothing stored and not followed is named on stderr, exit 1, as the API\'s 404; a followed one runs', async () => {
  // It printed "topics: 0 in 0 windows of 1 channel(s)" and exited 0: a typo looked like a quiet channel.
  const migrated = { TWICHIST_DATA_DIR: path.join(base, 'migrated') };
  assert.equal((await runCli(['migrate'], migrated, 120_000)).code, 0);
  const r = await runCli(['analytics', 'topics', '--channel', 'nosuch'], migrated, 60_000);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^twichist: unknown channel nosuch: not followed and nothing stored for it; check the spelling/);
  const followed = await runCli(['analytics', 'topics', '--channel', 'nosuch'], { ...migrated, TWITCH_CHANNELS: 'nosuch' }, 60_000);
  assert.equal(followed.code, 0, followed.stderr);
  assert.match(followed.stdout, /^topics: 0 in 0 windows/);
});
