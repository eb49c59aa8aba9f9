/**
 * `twichist import` of a folder with bad entries: what can be read is stored, every entry that cannot is named with
 * its reason, the exit code is 1, the summary counts what a broken file gave before its break, and a re-import stores
 * nothing twice. Before, a broken link was passed over without a word (exit 0) and a truncated JSON export imported
 * its first comments as if it were complete.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCli, STACK_LINE, tempDir } from './harness.ts';

const base = tempDir('import-bad-input');
after(() => fs.rmSync(base, { recursive: true, force: true }));

const comment = (id: string, createdAt: string) => ({ _id: id, created_at: createdAt, commenter: { _id: '1', name: 'a', display_name: 'A' }, message: { body: `hello ${id}` } });

test('import of a folder with a broken link, a truncated export and a 1970 time: exit 1, each named, nothing stored twice', async () => {
  const env = { TWICHIST_DATA_DIR: path.join(base, 'data'), TWICHIST_ONLINE: 'false' };
  const dir = path.join(base, 'exports');
  fs.mkdirSync(dir);
  const td = (comments: unknown[]) => JSON.stringify({ streamer: { name: 'demo', id: 1 }, comments });
  fs.writeFileSync(path.join(dir, 'a.json'), td([comment('a1', '2024-05-01T09:00:01Z'), comment('a2', '1970-01-01T00:00:00Z')]));
  const whole = td([comment('b1', '2024-05-01T09:00:02Z'), comment('b2', '2024-05-01T09:00:03Z'), comment('b3', '2024-05-01T09:00:04Z')]);
  fs.writeFileSync(path.join(dir, 'b.json'), whole.slice(0, whole.indexOf('{"_id":"b3"'))); // cut after b2
  fs.symlinkSync(path.join(base, 'gone.json'), path.join(dir, 'c.json'));
  const imp = await runCli(['import', dir], env, 300_000);
  assert.equal(imp.code, 1, imp.stderr);
  assert.doesNotMatch(imp.stderr, STACK_LINE);
  assert.match(imp.stderr, /failed .*c\.json: broken symbolic link/);
  assert.match(imp.stderr, /failed .*b\.json: the JSON ends before .* after 2 elements: the file is truncated/);
  assert.match(imp.stderr, /rejected .*a\.json:#1: time 1970-01-01T00:00:00\.000Z is outside/);
  assert.match(imp.stdout, /imported 2 file\(s\): 3 events read, 3 stored in ClickHouse\n {2}by kind: message 3\n {2}channels: \w+ 3\n {2}rejected: 1 /);
  assert.match(imp.stdout, / {2}FAILED .*c\.json: broken symbolic link/);
  assert.match(imp.stdout, / {2}FAILED .*b\.json: .*truncated/);
  const again = await runCli(['import', dir], env, 300_000);
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stdout, /3 events read, 0 stored in ClickHouse, 3 already stored \(same ids: kept once\)/);
  const q = await runCli(['sql', "SELECT count() AS n, uniqExact(id) AS ids, (SELECT count() FROM dead_letters) AS dead FROM messages WHERE channel = 'demo'", '--format', 'json'], env);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout), { n: 3, ids: 3, dead: 1 });
});

test('import of a path that does not exist says so in words, before opening anything', async () => {
  const missing = path.join(base, 'no-such-export.json');
  const r = await runCli(['import', missing], { TWICHIST_DATA_DIR: path.join(base, 'data-missing') }, 60_000);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_LINE);
  assert.equal(r.stderr, `twichist: ${missing}: no such file or folder\n`);
  assert.ok(!fs.existsSync(path.join(base, 'data-missing')), 'no data folder made for nothing');
});
