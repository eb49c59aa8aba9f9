/**
 * Migration 0057 partitions the burst row tables by month (burst_window_rows by `window`, burst_rows by `start`)
 * on a database that already holds 0053's rows: every row (versions, tombstones, markers) is carried over, so no
 * refresh recomputes history afterwards, and the migration may be killed after any of its statements and run
 * again (as the next start does) without losing a row. Its down file carries them back the same way.
 * Data: riotgames1 (real chat), then the same log a month later, each refreshed by 0053's views.
 * Then migration 0058 (new scoring rules) on those carried-over rows: the first refresh rescores every stored hour
 * (the views equal the full-history queries of its rules), and its down file brings 0057's rules back the same way.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { refreshDerived } from '../../analytics/refresh.ts';
import { listMigrations, migrateDown, migrateUp, splitStatements } from '../../clickhouse/migrate.ts';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';
import { chTime, insertRows, readChattyLog, RIOT_LOG, rows, sharedDataSkip, testDataDir } from './support/db.ts';
import { referenceQueries, windows0030 } from './support/burst-reference.ts';

const skip = sharedDataSkip(RIOT_LOG);
const MONTH = 30 * 86_400_000;
const TABLES = { burst_window_rows: 'toYYYYMM(window)', burst_rows: 'toYYYYMM(start)' } as const;

describe('migration 0057 carries the burst rows over into monthly partitions', { skip }, () => {
  const data = testDataDir('burst-partitions');
  const m = listMigrations().find((f) => f.name === 'replace_burst_row_tables_partitioned_by_month')!;
  let client: ClickHouseClient;
  /** Count and order-independent hash of every stored row, and of what the views give. */
  const fingerprint = async () => Object.fromEntries(await Promise.all(
    ['burst_window_rows', 'burst_rows', 'burst_windows', 'bursts'].map(async (t) => [t, (await rows(client, `SELECT count() AS n, groupBitXor(cityHash64(*)) AS h FROM ${t}`))[0]]),
  ));
  const partitionKeys = async () => Object.fromEntries((await rows<{ name: string; partition_key: string }>(client,
    "SELECT name, partition_key FROM system.tables WHERE database = currentDatabase() AND name IN ('burst_window_rows', 'burst_rows')")).map((r) => [r.name, r.partition_key]));
  let stored: Record<string, unknown>;

  before(async () => {
    client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: data.dir, CLICKHOUSE_DATABASE: 'burst_partitions', LOG_LEVEL: 'silent' }), { viaControl: false });
    await migrateUp(client, { to: m.version - 1 });
    const log = readChattyLog(RIOT_LOG);
    const later = (x: { id: string; ts: string }) => ({ ...x, id: `later-${x.id}`, ts: chTime(Date.parse(`${x.ts.replace(' ', 'T')}Z`) + MONTH), received_at: chTime(Date.parse(`${x.ts.replace(' ', 'T')}Z`) + MONTH) });
    // Two refreshes, so the rows carry two versions: a recomputation from empty tables would give them all one.
    await insertRows(client, log.messages, log.mods);
    await refreshDerived(client, { views: ['burst_windows_mv', 'bursts_mv'] });
    await insertRows(client, log.messages.map(later), log.mods.map(later));
    await refreshDerived(client, { views: ['burst_windows_mv', 'bursts_mv'] });
    stored = await fingerprint();
  });
  after(() => data.cleanup());

  test('0053 stored rows of two months', async () => {
    assert.deepEqual(await partitionKeys(), { burst_window_rows: '', burst_rows: '' });
    const [n] = await rows<{ windows: number; bursts: number; tombstones: number }>(client,
      "SELECT (SELECT count() FROM burst_windows) AS windows, (SELECT count() FROM bursts) AS bursts, (SELECT countIf(deleted = 1) FROM burst_window_rows) AS tombstones");
    assert.ok(Number(n.windows) > 1000 && Number(n.bursts) > 10, JSON.stringify(n));
  });

  const statements = splitStatements(fs.readFileSync(m.upPath, 'utf8'));
  for (let cut = 0; cut <= statements.length; cut++) {
    test(`killed after ${cut} of ${statements.length} statements, applied again at the next start, then undone`, async () => {
      for (const s of statements.slice(0, cut)) await client.command({ query: s });
      assert.deepEqual((await migrateUp(client, { to: m.version })).map((f) => f.version), [m.version]);
      // the refreshes run once when created; nothing changed, so they must write no row
      await refreshDerived(client, { views: ['burst_windows_mv', 'bursts_mv'] });
      assert.deepEqual(await partitionKeys(), TABLES);
      assert.deepEqual(await fingerprint(), stored);
      await migrateDown(client, { to: m.version - 1 });
      assert.deepEqual(await partitionKeys(), { burst_window_rows: '', burst_rows: '' });
      assert.deepEqual(await fingerprint(), stored);
    });
  }

  /** Both directions of EXCEPT ALL (at most 5 rows each) between the views and full-history queries. */
  async function assertViewsEqual(what: string, ref: { windows: string; bursts: string }): Promise<void> {
    for (const [view, expected] of [['SELECT * FROM burst_windows', ref.windows], ['SELECT * EXCEPT detected_at FROM bursts', `SELECT * EXCEPT detected_at FROM (${ref.bursts})`]]) {
      const extra = await rows(client, `SELECT * FROM (${view} EXCEPT ALL ${expected}) ORDER BY ALL LIMIT 5`);
      const missing = await rows(client, `SELECT * FROM (${expected} EXCEPT ALL ${view}) ORDER BY ALL LIMIT 5`);
      assert.deepEqual({ extra, missing }, { extra: [], missing: [] }, `${what}: ${view}`);
    }
  }

  test('0058 rescores every carried-over hour by its rules at the first refresh; its down file by 0057\'s', async () => {
    const next = listMigrations().find((f) => f.version === m.version + 1)!;
    assert.equal(next.name, 'replace_burst_windows_view_start_and_chatters');
    await migrateUp(client, { to: m.version });
    await assertViewsEqual('0057', referenceQueries(windows0030()));
    assert.deepEqual((await migrateUp(client, { to: next.version })).map((f) => f.version), [next.version]);
    await refreshDerived(client, { views: ['burst_windows_mv', 'bursts_mv'] });
    await assertViewsEqual('0058', referenceQueries());
    await migrateDown(client, { to: m.version });
    await refreshDerived(client, { views: ['burst_windows_mv', 'bursts_mv'] });
    await assertViewsEqual('0058 undone', referenceQueries(windows0030()));
    await migrateDown(client, { to: m.version - 1 });
  });
});
