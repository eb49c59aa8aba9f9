/**
 * The clients of one process share the embedded engine but not one chdb connection (core/clickhouse.ts
 * openEmbedded): chdb runs one query at a time per connection, and `up`'s API reads waited behind its
 * `SYSTEM WAIT VIEW` (seconds to minutes) and its enrich inserts. And shutting the engine down closes
 * every connection it opened: chdb refuses another data folder while one of them is open.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createClickHouse, embeddedConnection, shutdownEmbedded } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';

test('a cheap read answers while another call waits for a 5 s refresh, and shutdown closes every connection', { timeout: 60_000 }, async () => {
  const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-pool-')));
  try {
    const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dirs[0], LOG_LEVEL: 'silent' }), { viaControl: false });
    await client.command({ query: 'CREATE TABLE slow (n UInt64) ENGINE = MergeTree ORDER BY n' });
    // 100 one-row blocks, 50 ms each: a 5 s refresh.
    await client.command({ query: 'CREATE MATERIALIZED VIEW slow_mv REFRESH EVERY 1 HOUR TO slow EMPTY AS SELECT number AS n FROM numbers(100) WHERE sleepEachRow(0.05) = 0 SETTINGS max_block_size = 1' });
    await client.command({ query: 'SYSTEM REFRESH VIEW slow_mv' });
    let waited = false;
    const waiting = client.command({ query: 'SYSTEM WAIT VIEW slow_mv' }).then(() => (waited = true));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    // Plain and parameterized, as the API's reads are.
    const rs = await client.query({ query: 'SELECT count() AS n FROM system.tables WHERE name = {name:String}', query_params: { name: 'slow_mv' }, format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), [{ n: 1 }]);
    await client.command({ query: 'SELECT 1' });
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `the read took ${Math.round(ms)} ms: it queued behind SYSTEM WAIT VIEW`);
    assert.equal(waited, false, 'the refresh ended before the read: the test proves nothing');
    await waiting;

    await shutdownEmbedded();
    assert.equal(embeddedConnection(), null);
    // Opens only when no connection to the first folder is left open.
    const other = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dirs[1], LOG_LEVEL: 'silent' }), { viaControl: false });
    await other.command({ query: 'SELECT 1' });
    await shutdownEmbedded();
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});
