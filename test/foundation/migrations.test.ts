import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { appliedMigrations, applyRetention, listMigrations, migrateDown, migrateUp, MigrationError, MIGRATIONS_DIR, splitStatements } from '../../clickhouse/migrate.ts';
import { dumpSchema } from '../../clickhouse/schema.ts';
import { createClickHouse } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';
import { testDatabase, testDataDir } from '../support/clickhouse.ts';
import { REPO_ROOT } from '../support/paths.ts';

describe('migrations', () => {
  test('applying twice changes nothing', async () => {
    const { client } = await testDatabase({ migrate: false });
    const first = await migrateUp(client);
    assert.equal(first.length, listMigrations().length);
    const schema = await dumpSchema(client);
    const second = await migrateUp(client);
    assert.deepEqual(second, []);
    assert.equal(await dumpSchema(client), schema);
    assert.equal((await appliedMigrations(client)).length, first.length);
  });

  test('the committed schema.sql equals what the migrations produce', async () => {
    const { client } = await testDatabase();
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'clickhouse', 'schema.sql'), 'utf8');
    assert.equal(await dumpSchema(client), committed, 'clickhouse/schema.sql is stale: run `node clickhouse/dump-schema.ts`');
  });

  test('a later migration can add a lifecycle type: the latest_event projection holds no Enum (it blocked MODIFY COLUMN)', async () => {
    const { client } = await testDatabase();
    const ts = Date.now();
    await client.insert({ table: 'ingest_events', values: [{ id: 'e1', channel: 'c', ts, received_at: ts, source: 'live', event: 'alive', ingestor: 'x' }], format: 'JSONEachRow' });
    const rs = await client.query({ query: "SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'ingest_events' AND name = 'event'", format: 'JSONEachRow' });
    const type = (await rs.json<{ type: string }>())[0].type;
    await client.command({ query: `ALTER TABLE ingest_events MODIFY COLUMN event ${type.replace(/\)$/, ", 'future' = 99)")}` });
    await client.close();
  });

  test('down then up restores the schema, and down leaves no table behind', async () => {
    const { client } = await testDatabase();
    const before = await dumpSchema(client);
    const reverted = await migrateDown(client);
    assert.equal(reverted.length, listMigrations().length);
    const rs = await client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND name != 'schema_migrations'", format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), []);
    await migrateUp(client);
    assert.equal(await dumpSchema(client), before);
  });

  test('a migration interrupted part-way (kill -9 of the first import) is undone and applied again, not stuck at TABLE_ALREADY_EXISTS', async () => {
    const { client } = await testDatabase({ migrate: false });
    const all = listMigrations();
    const m = all.find((f) => f.name === 'create_topic_window_state')!;
    await migrateUp(client, { to: m.version - 1 });
    // the interrupted run: the table created, the view and the backfill not, nothing recorded
    await client.command({ query: splitStatements(fs.readFileSync(m.upPath, 'utf8'))[0] });
    // On a server another process may be migrating: there the repair is asked for (`migrate --repair`), not assumed.
    await assert.rejects(migrateUp(client, { repairInterrupted: false }), /create_topic_window_state\.up\.sql was interrupted in an earlier run.*twichist migrate --repair/);
    const applied = await migrateUp(client);
    assert.deepEqual(applied.map((f) => f.version), all.filter((f) => f.version >= m.version).map((f) => f.version));
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'clickhouse', 'schema.sql'), 'utf8');
    assert.equal(await dumpSchema(client), committed);
    // a down file that names what the interrupted run had not created yet (no IF EXISTS)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-mig-'));
    fs.writeFileSync(path.join(dir, '0001_create_things.up.sql'), 'CREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x;\nCREATE TABLE b (x UInt8) ENGINE = MergeTree ORDER BY x;\n');
    fs.writeFileSync(path.join(dir, '0001_create_things.down.sql'), 'DROP TABLE b;\nDROP TABLE a;\n');
    const t = await testDatabase({ migrate: false });
    await t.client.command({ query: 'CREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x' });
    await migrateUp(t.client, { dir });
    const rs = await t.client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('a', 'b') ORDER BY name", format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), [{ name: 'a' }, { name: 'b' }]);
    assert.deepEqual((await appliedMigrations(t.client)).map((a) => a.version), [1]);
  });

  test('refuses to run when an applied migration file changed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-mig-'));
    fs.writeFileSync(path.join(dir, '0001_create_things.up.sql'), 'CREATE TABLE things (x UInt8) ENGINE = MergeTree ORDER BY x;\n');
    fs.writeFileSync(path.join(dir, '0001_create_things.down.sql'), 'DROP TABLE things;\n');
    const { client } = await testDatabase({ migrate: false });
    await migrateUp(client, { dir });
    fs.appendFileSync(path.join(dir, '0001_create_things.up.sql'), '-- edited\n');
    await assert.rejects(migrateUp(client, { dir }), (e: unknown) => e instanceof MigrationError && /0001_create_things\.up\.sql/.test(e.message));
  });

  test('a database named like a view alias fails with the setting to change, not an unknown identifier', async () => {
    const config = loadConfig({ TWICHIST_DATA_DIR: testDataDir(), CLICKHOUSE_DATABASE: 'p', LOG_LEVEL: 'silent' });
    const client = await createClickHouse(config, { viaControl: false });
    await assert.rejects(migrateUp(client), (e: unknown) => e instanceof MigrationError && /CLICKHOUSE_DATABASE/.test(e.message) && /"p"/.test(e.message));
  });

  test('every migration has a down file and a snake_case verb name', () => {
    for (const m of listMigrations()) {
      assert.ok(m.downPath, `${m.version}_${m.name} has no .down.sql`);
      assert.match(m.name, /^(create|add|alter|drop|rename|change|backfill|modify|set|extend|replace)_[a-z0-9_]+$/, `${m.name} does not start with a verb`);
    }
    assert.ok(fs.existsSync(MIGRATIONS_DIR));
  });

  test('splitStatements keeps semicolons inside lines and drops comment lines', () => {
    assert.deepEqual(splitStatements("-- c\nSELECT 'a;b';\n\nSELECT 2\n;\n"), ["SELECT 'a;b'", 'SELECT 2']);
  });

  test('retention sets and removes a TTL on the raw tables', async () => {
    const { client } = await testDatabase();
    const ttl = async () => {
      const rs = await client.query({ query: "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'messages'", format: 'JSONEachRow' });
      return (await rs.json<{ engine_full: string }>())[0].engine_full;
    };
    await applyRetention(client, 30);
    assert.match(await ttl(), /TTL toDateTime\(ts\) \+ toIntervalDay\(30\)/);
    await applyRetention(client, 0);
    assert.doesNotMatch(await ttl(), /TTL/);
  });
});
