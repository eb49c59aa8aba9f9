/** Rewrites clickhouse/schema.sql from a fresh, throw-away embedded database migrated to the latest version. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClickHouse } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { migrateUp } from './migrate.ts';
import { dumpSchema } from './schema.ts';

export const SCHEMA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schema.sql');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-schema-'));
try {
  const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dir, CLICKHOUSE_DATABASE: 'twichist' }), { viaControl: false });
  await migrateUp(client);
  fs.writeFileSync(SCHEMA_FILE, await dumpSchema(client));
  await client.close();
  console.log(`wrote ${SCHEMA_FILE}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
