/**
 * Embedded ClickHouse for tests: one data folder per test file (chdb allows one per process, and
 * node --test runs each file in its own process), one fresh database per call.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.ts';
import { loadConfig, type Config } from '../../core/config.ts';
import { migrateUp } from '../../clickhouse/migrate.ts';

let dataDir: string | null = null;

/** The data folder shared by every database of this test process; removed at exit. */
export function testDataDir(): string {
  if (dataDir === null) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-test-'));
    const dir = dataDir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return dataDir;
}

export interface TestDatabase {
  config: Config;
  client: ClickHouseClient;
  database: string;
}

/**
 * A fresh database in this process's embedded ClickHouse, migrated unless `migrate: false`.
 * @param env extra environment for `loadConfig` (e.g. NATS_URL).
 */
export async function testDatabase(opts: { migrate?: boolean; env?: Record<string, string> } = {}): Promise<TestDatabase> {
  const database = `t_${randomBytes(6).toString('hex')}`;
  const config = loadConfig({ TWICHIST_DATA_DIR: testDataDir(), CLICKHOUSE_DATABASE: database, LOG_LEVEL: 'silent', ...opts.env });
  const client = await createClickHouse(config, { viaControl: false });
  if (opts.migrate ?? true) await migrateUp(client);
  return { config, client, database };
}
