/** compose.yml validates with `docker-compose config` (no engine needed); skipped without the binary. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/paths.ts';

const COMPOSE = path.join(REPO_ROOT, 'compose.yml');
const binary = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const missing = binary.error ? 'skipped: docker-compose is not installed (apt-get install -y docker-compose; .ci/run installs it)' : false;

test('compose.yml validates with docker-compose config', { skip: missing }, () => {
  const r = spawnSync('docker-compose', ['-f', COMPOSE, 'config', '-q'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('compose.yml: pinned images, healthchecks and start-up order', () => {
  const doc = parse(fs.readFileSync(COMPOSE, 'utf8'), { merge: true }) as { services: Record<string, any> };
  const s = doc.services;
  assert.match(s.nats.image, /^nats:\d+\.\d+\.\d+/);
  assert.ok(s.nats.command.includes('-js'));
  assert.match(s.clickhouse.image, /^clickhouse\/clickhouse-server:2[56]\.\d+/);
  assert.match(s.grafana.image, /^grafana\/grafana:\d+\.\d+\.\d+$/);
  assert.match(s.grafana.environment.GF_INSTALL_PLUGINS, /^grafana-clickhouse-datasource \d+\.\d+\.\d+$/);
  for (const name of ['nats', 'clickhouse', 'grafana', 'ingest', 'enrich', 'api']) assert.ok(s[name].healthcheck, `${name} has a healthcheck`);
  assert.deepEqual(s.migrate.command, ['migrate', '--repair'], 'the one migrator may finish what a killed run left half-applied');
  for (const name of ['ingest', 'enrich', 'api']) {
    assert.equal(s[name].depends_on.migrate.condition, 'service_completed_successfully', `${name} waits for migrate`);
    assert.equal(s[name].environment.CLICKHOUSE_URL, 'http://clickhouse:8123');
    assert.equal(s[name].environment.NATS_URL, 'nats://nats:4222');
    // the API lists followed channels (and 404s unknown ones) from the same list ingest joins
    assert.equal(s[name].environment.TWITCH_CHANNELS, '${TWITCH_CHANNELS:-}', `${name} sees TWITCH_CHANNELS`);
  }
  assert.equal(s.migrate.depends_on.clickhouse.condition, 'service_healthy');
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /FROM node:24-slim AS deps/);
  assert.match(dockerfile, /npm ci --omit=dev/);
  assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/twichist.ts"\]/);
});
