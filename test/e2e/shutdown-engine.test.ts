/**
 * `up`'s shutdown leaves nothing running inside the embedded engine and closes it before the process exits.
 * Exiting with a view refresh or a query still running on chdb's threads crashed `up` in chdb's exit
 * teardown (SIGSEGV after "stopped cleanly"; seen in 2 of about 30 exits right after a replay, when `up`
 * refreshes every view). The crash itself is a race, so this checks the state that rules it out: stopped
 * in the middle of refreshDerived(), the runtime has no chdb operation in flight and no engine open.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { embeddedConnection } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { startRuntime } from '../../core/runtime.ts';

test('stopped while every view refreshes, the runtime cancels the refreshes, waits for chdb and closes the engine', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-shutdown-'));
  try {
    const config = loadConfig({ TWICHIST_DATA_DIR: dir, LOG_LEVEL: 'silent' });
    // Only the engine and two slow refreshable views of our own (400 one-row blocks, 50 ms each: 20 s): the
    // migrations' views would make the same point at ten times the set-up time.
    const rt = await startRuntime({ config, logger: createLogger('silent'), source: { kind: 'none' }, migrate: false, enrich: false, api: false });
    await rt.client.command({ query: 'CREATE DATABASE IF NOT EXISTS {db:Identifier} ENGINE = Atomic', query_params: { db: config.clickhouse.database } });
    for (const v of ['a', 'b']) {
      await rt.client.command({ query: `CREATE TABLE slow_${v} (n UInt64) ENGINE = MergeTree ORDER BY n` });
      await rt.client.command({ query: `CREATE MATERIALIZED VIEW slow_${v}_mv REFRESH EVERY 1 HOUR TO slow_${v} EMPTY AS SELECT number AS n FROM numbers(400) WHERE sleepEachRow(0.05) = 0 SETTINGS max_block_size = 1` });
    }
    const refreshing = rt.refreshDerived();
    // Let the first refresh start.
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    await rt.stop();
    // Cancelled, not waited out: a stop behind the refresh's SYSTEM WAIT VIEW took the refresh's 20 s.
    assert.ok(Date.now() - t0 < 8000, `stop() took ${Date.now() - t0} ms: it waited for the refresh`);
    assert.equal(embeddedConnection(), null, 'the embedded engine is still open after stop()');
    // The refresh loop ends instead of starting the next view.
    const views = await refreshing.catch(() => [] as string[]);
    assert.ok(!views.includes('slow_b_mv'), `the second view refreshed after stop(): ${views.join(', ')}`);
    const { drainPending } = (await import('chdb')) as unknown as { drainPending: () => Promise<void> };
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([drainPending().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 1000)))]);
    clearTimeout(timer);
    assert.ok(drained, 'a chdb operation is still running after stop()');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
