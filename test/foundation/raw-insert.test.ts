/**
 * The embedded raw insert enrich uses (core/clickhouse.ts `rawInserter`): rows land in the client's own
 * database, the per-insert settings apply (the dedup token drops an identical retry in the table and
 * its rollups) without sticking to later calls, and a rejected body carries ClickHouse's error code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouseSettings } from '@clickhouse/client';
import { isTransientClickHouseError, rawInserter } from '../../core/clickhouse.ts';
import { testDatabase } from '../support/clickhouse.ts';

const T0 = Date.UTC(2024, 0, 1);
const columns = ['id', 'channel', 'ts', 'received_at', 'source', 'login', 'text'];
const body = (ids: string[]) => Buffer.from(ids.map((id, i) => JSON.stringify([id, 'c', T0 + i, T0, 'replay', 'u', 'hi 🙂']) + '\n').join(''));
const settings = (token: string): ClickHouseSettings => ({ insert_deduplicate: 1, insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1, async_insert: 0 });

async function counts(client: Awaited<ReturnType<typeof testDatabase>>['client']) {
  const rs = await client.query({ query: 'SELECT (SELECT count() FROM messages) AS raw, (SELECT sum(messages) FROM chat_1m) AS rollup', format: 'JSONEachRow' });
  const [r] = await rs.json<{ raw: number; rollup: number }>();
  return { raw: Number(r.raw), rollup: Number(r.rollup) };
}

test('raw inserts go to the client database, honour the token per insert, and do not leak settings', async () => {
  const a = await testDatabase();
  const b = await testDatabase();
  const raw = rawInserter(a.client);
  assert.ok(raw, 'a directly opened embedded client has a raw inserter');
  for (let i = 0; i < 3; i++) await raw('messages', columns, body(['a1', 'a2', 'a3']), settings('tok-1'));
  assert.deepEqual(await counts(a.client), { raw: 3, rollup: 3 }, 'the identical retries were dropped by the table and the rollup');
  assert.deepEqual(await counts(b.client), { raw: 0, rollup: 0 }, 'another database of the same engine is untouched');
  // The token was this insert's only: a later insert without one stores its rows.
  await a.client.insert({ table: 'messages', values: [{ id: 'a4', channel: 'c', ts: T0, received_at: T0, source: 'replay', login: 'u', text: '' }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '' } });
  await raw('messages', columns, body(['a5']), settings(''));
  assert.deepEqual(await counts(a.client), { raw: 5, rollup: 5 });
  const text = await (await a.client.query({ query: "SELECT text FROM messages WHERE id = 'a1'", format: 'JSONEachRow' })).json<{ text: string }>();
  assert.equal(text[0].text, 'hi 🙂', 'UTF-8 bodies arrive intact');
});

test('a body ClickHouse rejects fails with its error code, not as a transient error', async () => {
  const db = await testDatabase();
  const raw = rawInserter(db.client)!;
  await assert.rejects(raw('messages', columns, Buffer.from('["x","c","not a time",0,"replay","u",""]\n'), settings('tok-bad')), (err: unknown) => {
    assert.match(String((err as { code?: unknown }).code), /^\d+$/, 'a numeric ClickHouse code');
    assert.equal(isTransientClickHouseError(err), false);
    return true;
  });
  assert.deepEqual(await counts(db.client), { raw: 0, rollup: 0 });
});

test("a setting an earlier read passed does not reach a later raw insert (chdb keeps it as a session SET; the API's read limits did)", async () => {
  const db = await testDatabase();
  const raw = rawInserter(db.client)!;
  // A read that carries an insert bound, as the API's reads carry max_execution_time: harmless to the SELECT.
  await (await db.client.query({ query: 'SELECT 1', format: 'JSONEachRow', clickhouse_settings: { max_partitions_per_insert_block: '1' } })).json();
  // Rows of two months are two partitions of `messages`: refused if the bound had stuck to the session.
  const twoMonths = Buffer.from([JSON.stringify(['m1', 'c', T0, T0, 'replay', 'u', 'x']), JSON.stringify(['m2', 'c', T0 + 40 * 86_400_000, T0, 'replay', 'u', 'y'])].join('\n') + '\n');
  await raw('messages', columns, twoMonths, settings('tok-months'));
  assert.deepEqual(await counts(db.client), { raw: 2, rollup: 2 });
});
