/** Test helpers: a per-file embedded data folder, fully migrated per-test databases, row queries. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClickHouse, type ClickHouseClient } from '../../../core/clickhouse.ts';
import { loadConfig } from '../../../core/config.ts';
import { migrateUp } from '../../../clickhouse/migrate.ts';

export * from '../../../analytics/chatty.ts';

/** One embedded data folder per test file (chdb allows one per process); databases per test. */
export function testDataDir(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `twichist-analytics-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh, fully migrated database in the given data folder. */
export async function openTestDatabase(dataDir: string, database: string): Promise<ClickHouseClient> {
  const config = loadConfig({ TWICHIST_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: database, LOG_LEVEL: 'silent' });
  const client = await createClickHouse(config, { viaControl: false });
  await migrateUp(client);
  return client;
}

export async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}
