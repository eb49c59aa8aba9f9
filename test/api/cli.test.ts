/** `twichist api`: migrates, serves, keeps `twichist sql` working through the control server, stops on SIGTERM. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { REPO_ROOT } from '../support/paths.ts';

it('twichist api serves /health, answers twichist sql meanwhile, and exits 0 on SIGTERM', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-api-cli-'));
  const env = { ...process.env, TWICHIST_DATA_DIR: dir, API_PORT: '0', LOG_LEVEL: 'warn', TWICHIST_ONLINE: 'false', NATS_URL: '', CLICKHOUSE_URL: '' };
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'twichist.ts'), 'api'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line within 120 s: ${out}`)), 120_000);
      child.stdout.on('data', (d) => {
        out += String(d);
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { clickhouse: { ok: boolean } }).clickhouse.ok, true);
    const sql = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'twichist.ts'), 'sql', 'SELECT count() AS n FROM schema_migrations', '--format', 'json'], { env, encoding: 'utf8' });
    assert.equal(sql.status, 0, sql.stderr);
    assert.ok(JSON.parse(sql.stdout.trim().split('\n')[0]).n > 0);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(fs.existsSync(path.join(dir, 'control.json')), false);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
