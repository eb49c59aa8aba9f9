/**
 * GQL VOD exports whose `createdAt` is not when messages were sent (ingest/importers/vod-json.ts, `GqlClock`): the
 * import times them from the VOD's start, and importing such a file again never stores a message twice, whether the
 * earlier copy was stored at the export's own time (versions before 2026-11-22) or from another estimate of the
 * start (once without its vod.json, once with it). The exports are synthetic, shaped like the arypie 2021-2024 ones.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCli, tempDir } from './harness.ts';

const base = tempDir('import-vod-times');
after(() => fs.rmSync(base, { recursive: true, force: true }));

/**
 * 40 comments a minute apart in the VOD, all sent "at" 03:00:00.5-03:00:00.7 by their createdAt: hours after the
 * VOD's chat, as the later batches of a 10-hour arypie VOD are from its createdAt (5-10 minutes into the stream).
 */
function writeExport(root: string, channel: string, opts: { offsets: boolean; vodJson: boolean }): string {
  const vod = path.join(root, channel, '2021-01-01_00-00-00_555');
  fs.mkdirSync(vod, { recursive: true });
  const comments = Array.from({ length: 40 }, (_, i) => ({
    id: `${channel}-${i}`,
    createdAt: new Date(Date.UTC(2021, 0, 1, 3, 0, 0, 500 + 5 * i)).toISOString(),
    contentId: '555',
    ...(opts.offsets ? { contentOffsetSeconds: 30 + 60 * i } : {}),
    commenter: { id: '9', login: 'viewer', displayName: 'Viewer' },
    message: { fragments: [{ text: `hello ${i}` }] },
  }));
  fs.writeFileSync(path.join(vod, 'chat.json'), JSON.stringify(comments));
  if (opts.vodJson) fs.writeFileSync(path.join(vod, 'vod.json'), JSON.stringify({ vod_id: '555', created_at: '2021-01-01T00:00:00Z' }));
  return path.join(vod, 'chat.json');
}

test('a retimed GQL export imported again: nothing stored twice, whichever time the earlier copy got', async () => {
  const env = { TWICHIST_DATA_DIR: path.join(base, 'data'), TWICHIST_ONLINE: 'false' };
  // what versions before the retiming stored: every message at its createdAt (they read no offsets)
  const old = await runCli(['import', writeExport(path.join(base, 'old'), 'demo', { offsets: false, vodJson: false })], env, 300_000);
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stdout, /40 events read, 40 stored in ClickHouse\n/);
  const now = await runCli(['import', writeExport(path.join(base, 'new'), 'demo', { offsets: true, vodJson: true })], env, 300_000);
  assert.equal(now.code, 0, now.stderr);
  assert.match(now.stdout, /40 events read, 0 stored in ClickHouse, 40 already stored \(same ids: kept once\)/);
  assert.match(now.stdout, /\n {2}note .*chat\.json: 40 messages timed at the VOD's start 2021-01-01T00:00:00\.000Z \(vod\.json's created_at\) plus contentOffsetSeconds/);

  // imported without its vod.json (start estimated: 02:59:30.5), then with it (00:00:00)
  const file = writeExport(path.join(base, 'new'), 'demo2', { offsets: true, vodJson: false });
  const first = await runCli(['import', file], env, 300_000);
  assert.match(first.stdout, /40 events read, 40 stored in ClickHouse\n/);
  fs.writeFileSync(path.join(path.dirname(file), 'vod.json'), JSON.stringify({ vod_id: '555', created_at: '2021-01-01T00:00:00Z' }));
  const second = await runCli(['import', file], env, 300_000);
  assert.match(second.stdout, /40 events read, 0 stored in ClickHouse, 40 already stored/);
  // a piece too short to tell the clocks apart (one comment, 20 minutes in) is not retimed: stored at its createdAt
  // it would be a second copy 20 minutes from the first; it is found all the same
  const piece = path.join(base, 'piece', 'demo2', '2021-01-01_00-00-00_555', 'chat.json');
  fs.mkdirSync(path.dirname(piece), { recursive: true });
  fs.writeFileSync(piece, JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8')).slice(20, 21)));
  const short = await runCli(['import', piece], env, 300_000);
  assert.match(short.stdout, /1 events read, 0 stored in ClickHouse, 1 already stored/);

  const q = await runCli(
    ['sql', "SELECT channel, count() AS n, uniqExact(id) AS ids, toString(min(ts)) AS first, toString(max(ts)) AS last, countIf(mapContains(tags, 'twichist/export-created-at')) AS tagged FROM messages GROUP BY channel ORDER BY channel", '--format', 'json'],
    env,
  );
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(q.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
    { channel: 'demo', n: 40, ids: 40, first: '2021-01-01 03:00:00.500', last: '2021-01-01 03:00:00.695', tagged: 40 },
    { channel: 'demo2', n: 40, ids: 40, first: '2021-01-01 03:00:00.500', last: '2021-01-01 03:39:00.500', tagged: 40 },
  ]);
});
