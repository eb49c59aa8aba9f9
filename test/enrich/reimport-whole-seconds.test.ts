/**
 * A Chatty log stored by a version before the importers kept a second's file order (every event at its whole
 * second), imported again now (the k-th event of a second k ms into it, same ids): nothing is stored twice, also
 * where a batch's rows of one table start inside a second (a batch cut there; a ban k > 0 into its second, as the
 * store looks per table), whose earlier copies lie just below that first row (enrich/store.ts `storedIds`). The
 * batch boundary is real: the events go to the enrich stage in two bus messages, the second published once the
 * first is stored. Without the store's widened range 4 of the 8 were stored twice. And two files holding the same
 * lines give them different offsets within their second (another viewer's log missed a line; a user's justlog log
 * holds only their lines): the copy stored from one file may lie above the other's rows, also found.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { InProcessBus } from '../../core/bus.ts';
import type { ChatEvent } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { neutralAnalyzer } from '../../enrich/analyzer.ts';
import { EmoteIndex } from '../../enrich/emotes.ts';
import { startEnrich } from '../../enrich/index.ts';
import { importFile } from '../../ingest/importers/index.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';

const LOG = [
  '# Log started: 2016-09-30 09:39:38 +0800',
  '[09:39:38] Joining #modchan..',
  '[09:39:50] <Alpha> one',
  '[09:39:50] <Bravo> two',
  '[09:39:50] <Charlie> three',
  '[09:39:50] BAN: Spammer (600s)',
  '[09:39:50] <Delta> four',
  '[09:39:50] <Echo> five',
  '[09:39:50] BAN: Spammer (600s)',
  '[09:39:51] <Alpha> six',
  '',
].join('\r\n');

let db: TestDatabase | null = null;
let tmp: string | null = null;
after(async () => {
  await db?.client.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Stores each group of events as one bus message, the next published once the previous one is stored. */
async function storeInBatches(groups: ChatEvent[][]) {
  const bus = new InProcessBus();
  const index = new EmoteIndex();
  const stage = startEnrich({
    config: db!.config,
    logger: createLogger('silent'),
    client: db!.client,
    consumer: bus.consumer(),
    analyzer: neutralAnalyzer(),
    emotes: { index, noteChannel: () => {}, close: () => {} },
  });
  const pub = bus.publisher();
  for (const g of groups) {
    await pub.publish('modchan', g);
    await bus.idle();
    await stage.stored();
  }
  await stage.stop();
  const m = stage.metrics;
  return { stored: Object.values(m.eventsOut).reduce((a, b) => a + b, 0), duplicates: m.duplicatesDropped, batches: m.batches };
}

test('a log stored at whole seconds, imported again with its second order: 0 stored, all already stored, a batch cut inside a second', async () => {
  db = await testDatabase({ env: { ENRICH_FLUSH_MS: '20' } });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-reimport-'));
  const file = path.join(tmp, 'modchan.log');
  fs.writeFileSync(file, LOG);
  const events: ChatEvent[] = [];
  await importFile(file, (e) => void events.push(e));
  assert.equal(events.length, 8);
  const second = Date.UTC(2016, 8, 30, 1, 39, 50);
  assert.deepEqual(events.map((e) => e.ts - second), [0, 1, 2, 3, 4, 5, 6, 1000]);

  // what an earlier version stored: the same ids, every event at its whole second
  const old = events.map((e) => ({ ...e, ts: Math.floor(e.ts / 1000) * 1000, received_at: Math.floor(e.ts / 1000) * 1000 }) as ChatEvent);
  assert.deepEqual(await storeInBatches([old]), { stored: 8, duplicates: 0, batches: 1 });

  // the second batch starts at 09:39:50.004 (Delta), and each batch's first ban is k > 0 into the second: the earlier
  // copies of those rows are at .000, below the range of their table's rows in the batch
  const again = await storeInBatches([events.slice(0, 4), events.slice(4)]);
  assert.deepEqual(again, { stored: 0, duplicates: 8, batches: 2 });
  const rs = await db.client.query({ query: 'SELECT (SELECT count() FROM messages) + (SELECT count() FROM mod_actions) AS n', format: 'JSONEachRow' });
  assert.equal(Number((await rs.json<{ n: number }>())[0].n), 8);
});

test("the same lines from two files with different offsets in their second (another viewer's log, a user's log): stored once", async () => {
  db ??= await testDatabase({ env: { ENRICH_FLUSH_MS: '20' } });
  tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-reimport-'));
  const read = async (name: string, text: string) => {
    const file = path.join(tmp!, name);
    fs.writeFileSync(file, text);
    const events: ChatEvent[] = [];
    await importFile(file, (e) => void events.push(e));
    return events;
  };
  // A's log has Alpha's line first in 10:00:00; B's lacks it and has an earlier ban: Bravo's line and the ban are
  // 1 ms lower in B, and each is its table's latest row in B's batch
  const a = await read('a.log', ['# Log started: 2016-09-30 09:59:38 +0800', '[09:59:38] Joining #overlap..', '[10:00:00] <Alpha> one', '[10:00:00] <Bravo> two', '[10:00:00] BAN: Spammer (600s)', ''].join('\r\n'));
  const b = await read('b.log', ['# Log started: 2016-09-30 09:59:35 +0800', '[09:59:35] Joining #overlap..', '[09:59:40] BAN: Early (60s)', '[10:00:00] <Bravo> two', '[10:00:00] BAN: Spammer (600s)', ''].join('\r\n'));
  // justlog text: the channel's day log, then one user's log of it
  const day = await read('day.txt', ['[2016-09-30 03:00:00] #overlap alpha: hi', '[2016-09-30 03:00:00] #overlap bravo: yo', '[2016-09-30 03:00:01] #overlap alpha: more', ''].join('\n'));
  const user = await read('bravo.txt', ['[2016-09-30 02:00:00] #overlap bravo: earlier', '[2016-09-30 03:00:00] #overlap bravo: yo', ''].join('\n'));
  assert.equal(b[1].id, a[1].id);
  assert.ok(b[1].ts < a[1].ts, 'the shared line is lower in B');
  assert.deepEqual(await storeInBatches([a]), { stored: 3, duplicates: 0, batches: 1 });
  assert.deepEqual(await storeInBatches([b]), { stored: 1, duplicates: 2, batches: 1 });
  assert.deepEqual(await storeInBatches([day]), { stored: 3, duplicates: 0, batches: 1 });
  assert.deepEqual(await storeInBatches([user]), { stored: 1, duplicates: 1, batches: 1 });
  const rs = await db.client.query({
    query: "SELECT (SELECT count() FROM messages WHERE channel = 'overlap') AS m, (SELECT count() FROM mod_actions WHERE channel = 'overlap') AS b",
    format: 'JSONEachRow',
  });
  assert.deepEqual((await rs.json<{ m: number | string; b: number | string }>()).map((r) => [Number(r.m), Number(r.b)]), [[6, 2]]);
});
