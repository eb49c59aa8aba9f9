/** `twichist sql` and the control server: run as real child processes, as a user would. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../support/paths.ts';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'twichist.ts');

function cli(args: string[], env: Record<string, string>) {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'error' }, cwd: REPO_ROOT }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('twichist sql', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-sql-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('answers a query in table, json and csv', async () => {
    const env = { TWICHIST_DATA_DIR: dir };
    assert.equal((await cli(['migrate'], env)).code, 0);
    const table = await cli(['sql', "SELECT 1 AS one, 'héllo 🎉' AS s"], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /one\s+│ s/);
    assert.match(table.stdout, /1\s+│ héllo 🎉/);
    assert.match(table.stdout, /\(1 row\)/);
    const json = await cli(['sql', 'SELECT count() AS n FROM messages', '--format', 'json'], env);
    assert.deepEqual(JSON.parse(json.stdout), { n: 0 });
    const csv = await cli(['sql', 'SELECT number AS n FROM numbers(2)', '--format=csv'], env);
    assert.equal(csv.stdout, '"n"\n0\n1\n');
  });

  test('reports a bad query in one line without a stack trace', async () => {
    const r = await cli(['sql', 'SELEC 1'], { TWICHIST_DATA_DIR: dir });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^twichist: ClickHouse error 62 \(SYNTAX_ERROR\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const missing = await cli(['sql', 'SELECT * FROM no_such_table'], { TWICHIST_DATA_DIR: dir });
    assert.match(missing.stderr, /UNKNOWN_TABLE/);
    const usage = await cli(['sql', 'SELECT 1', '--format', 'xml'], { TWICHIST_DATA_DIR: dir });
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /--format must be table, json or csv/);
  });

  test('a bad setting stops with the setting named', async () => {
    const r = await cli(['sql', 'SELECT 1'], { TWICHIST_DATA_DIR: dir, CLICKHOUSE_URL: 'not a url' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /configuration error: CLICKHOUSE_URL/);
  });

  test('queries go through the process holding the embedded database', async () => {
    // A holder process: opens the folder, serves it, inserts a row, waits.
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      import { createClickHouse } from ${JSON.stringify(path.join(REPO_ROOT, 'core/clickhouse.ts'))};
      import { startControlServer } from ${JSON.stringify(path.join(REPO_ROOT, 'core/control.ts'))};
      import { loadConfig } from ${JSON.stringify(path.join(REPO_ROOT, 'core/config.ts'))};
      import { createLogger } from ${JSON.stringify(path.join(REPO_ROOT, 'core/logger.ts'))};
      const config = loadConfig({ TWICHIST_DATA_DIR: ${JSON.stringify(dir)} });
      const client = await createClickHouse(config, { viaControl: false });
      await client.command({ query: 'CREATE TABLE IF NOT EXISTS held (x UInt32, s String) ENGINE = MergeTree ORDER BY x' });
      await client.insert({ table: 'held', values: [{ x: 7, s: 'ünïcode ✓' }], format: 'JSONEachRow' });
      await startControlServer({ dataDir: config.dataDir, logger: createLogger('silent') });
      console.log('ready');
      setInterval(() => {}, 1000);
    `], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        holder.once('exit', (c) => reject(new Error(`holder exited ${c}`)));
      });
      const mode = fs.statSync(path.join(dir, 'control.json')).mode & 0o777;
      assert.equal(mode, 0o600, 'the control secret must be readable by its owner only');
      const r = await cli(['sql', "SELECT x, s FROM held WHERE x = 7", '--format', 'json'], { TWICHIST_DATA_DIR: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { x: 7, s: 'ünïcode ✓' });
      const bad = await cli(['sql', 'SELECT nope FROM held'], { TWICHIST_DATA_DIR: dir });
      assert.match(bad.stderr, /UNKNOWN_IDENTIFIER/);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // The holder died without cleaning up: its control file is stale and must be ignored.
    assert.ok(fs.existsSync(path.join(dir, 'control.json')));
    const r = await cli(['sql', 'SELECT count() AS n FROM held', '--format', 'json'], { TWICHIST_DATA_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { n: 1 });
  });

  test('a holder busy for seconds (its JS thread held, as by a long embedded query) still serves', async () => {
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      import { createClickHouse } from ${JSON.stringify(path.join(REPO_ROOT, 'core/clickhouse.ts'))};
      import { startControlServer } from ${JSON.stringify(path.join(REPO_ROOT, 'core/control.ts'))};
      import { loadConfig } from ${JSON.stringify(path.join(REPO_ROOT, 'core/config.ts'))};
      import { createLogger } from ${JSON.stringify(path.join(REPO_ROOT, 'core/logger.ts'))};
      const config = loadConfig({ TWICHIST_DATA_DIR: ${JSON.stringify(dir)} });
      await createClickHouse(config, { viaControl: false });
      await startControlServer({ dataDir: config.dataDir, logger: createLogger('silent') });
      console.log('ready');
      // busy 2.5 s of every 2.6 s: a request waits up to 2.5 s for an answer
      setInterval(() => { const t = Date.now(); while (Date.now() - t < 2500); }, 100);
    `], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        holder.once('exit', (c) => reject(new Error(`holder exited ${c}`)));
      });
      // with a 1 s answer limit the command took the holder for dead and failed on the folder's lock
      const r = await cli(['sql', 'SELECT count() AS n FROM held', '--format', 'json'], { TWICHIST_DATA_DIR: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { n: 1 });
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
  });
});
