/** `twichist migrate` leaves a database that derives everything on its own schedule, hype predictions included. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from './harness.ts';

test('migrate applies the schema and loads the shipped hype weights (hype_predictions_mv predicts nothing without them)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-migrate-'));
  try {
    const env = { TWICHIST_DATA_DIR: dir };
    const m = await runCli(['migrate'], env);
    assert.equal(m.code, 0, m.stderr);
    const again = await runCli(['migrate'], env);
    assert.equal(again.code, 0, again.stderr);
    const q = await runCli(['sql', 'SELECT count() AS n, any(version) AS v FROM hype_model', '--format', 'csv'], env);
    assert.equal(q.code, 0, q.stderr);
    const weights = JSON.parse(fs.readFileSync(new URL('../../analytics/hype-weights.json', import.meta.url), 'utf8')) as { version: string };
    assert.match(q.stdout, new RegExp(`^"?n"?,"?v"?\\n1,"?${weights.version}"?`, 'm'), 'one model row, loaded once');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('migrate --repair finishes a migration a killed run left half-applied (what compose.yml\'s one-shot migrator runs)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-migrate-'));
  try {
    const env = { TWICHIST_DATA_DIR: dir };
    assert.equal((await runCli(['migrate', '--to', '42'], env)).code, 0);
    // the first statement of 0043, as a run killed right after it left the database
    const up = fs.readFileSync(new URL('../../clickhouse/migrations/0043_create_topic_window_state.up.sql', import.meta.url), 'utf8');
    const first = up.slice(up.indexOf('CREATE TABLE'), up.indexOf(';', up.indexOf('CREATE TABLE')));
    assert.equal((await runCli(['sql', first], env)).code, 0);
    const m = await runCli(['migrate', '--repair'], env);
    assert.equal(m.code, 0, m.stderr);
    const status = await runCli(['migrate', 'status'], env);
    assert.doesNotMatch(status.stdout, /pending/, status.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
