/**
 * The provisioned files as Grafana loads them: generated files up to date, dashboards with unique
 * panel ids, a valid grid, the provisioned datasource on every query, every referenced variable
 * defined; the datasource and alerting files well formed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { generatedFiles } from '../../grafana/build/index.ts';
import { DATASOURCE_UID, PROVISIONING, interpolateProvisioning, loadAlertRules, loadDashboards, provisionedQueries } from './support/provisioned.ts';

test('generated provisioning files are up to date (run: node grafana/build/index.ts)', () => {
  for (const [rel, text] of generatedFiles()) {
    assert.equal(fs.readFileSync(path.join(PROVISIONING, rel), 'utf8'), text, `grafana/provisioning/${rel} is stale`);
  }
});

test('six dashboards with unique uids and titles', () => {
  const all = loadDashboards().map((d) => d.dashboard);
  assert.equal(all.length, 6);
  assert.equal(new Set(all.map((d) => d.uid)).size, all.length);
  assert.equal(new Set(all.map((d) => d.title)).size, all.length);
});

for (const { file, dashboard } of loadDashboards()) {
  test(`${file}: panel ids unique, grid positions valid and not overlapping`, () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate panel id');
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      assert.ok(Number.isInteger(x) && Number.isInteger(y) && w > 0 && h > 0 && x >= 0 && y >= 0, `${p.title}: bad gridPos`);
      assert.ok(x + w <= 24, `${p.title}: x + w = ${x + w} > 24`);
      for (let cx = x; cx < x + w; cx++) {
        for (let cy = y; cy < y + h; cy++) {
          const key = `${cx},${cy}`;
          assert.ok(!cells.has(key), `${p.title} overlaps ${cells.get(key)} at ${key}`);
          cells.set(key, p.title);
        }
      }
      if (p.type !== 'row') {
        assert.ok(p.title && (p as unknown as { description?: string }).description, `${p.title}: needs a title and a description`);
      }
    }
  });

  test(`${file}: every query uses the provisioned datasource`, () => {
    for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.equal(p.datasource?.uid, DATASOURCE_UID, `${p.title}: panel datasource`);
      assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
      for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, DATASOURCE_UID, `${p.title}: target ${t.refId}`);
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) assert.equal(v.datasource?.uid, DATASOURCE_UID, `variable ${v.name}`);
    for (const a of dashboard.annotations.list.filter((a) => a.target)) assert.equal(a.datasource?.uid, DATASOURCE_UID, `annotation ${a.name}`);
  });

  test(`${file}: every variable a query uses is defined, and channel defaults to All`, () => {
    const defined = new Set(dashboard.templating.list.map((v) => v.name));
    for (const q of provisionedQueries().filter((q) => q.dashboard === file)) {
      for (const m of q.sql.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)) {
        const name = m[1] ?? m[2];
        if (name.startsWith('__')) continue; // plugin macros and Grafana built-ins
        assert.ok(defined.has(name), `${q.where}: uses $${name}, which the dashboard does not define`);
      }
    }
    const channel = dashboard.templating.list.find((v) => v.name === 'channel');
    assert.ok(channel?.multi && channel.includeAll, 'channel is multi-value with All');
  });
}

test('datasource: the plugin, fixed uid, read-only user and password from the environment, database twichist', () => {
  const text = fs.readFileSync(path.join(PROVISIONING, 'datasources', 'clickhouse.yaml'), 'utf8');
  const env = { CLICKHOUSE_HOST: 'clickhouse', GRAFANA_CLICKHOUSE_USER: 'grafana', GRAFANA_CLICKHOUSE_PASSWORD: 'secret', CLICKHOUSE_DATABASE: 'twichist' };
  const doc = parse(interpolateProvisioning(text, env)) as { datasources: Array<Record<string, any>> };
  const ds = doc.datasources[0];
  assert.equal(ds.type, 'grafana-clickhouse-datasource');
  assert.equal(ds.uid, DATASOURCE_UID);
  assert.equal(ds.jsonData.username, 'grafana');
  assert.equal(ds.jsonData.defaultDatabase, 'twichist');
  assert.equal(ds.secureJsonData.password, 'secret');
  assert.ok(!/password:\s*[^$\s]/.test(text), 'no literal password in the file');
  const users = fs.readFileSync(path.join(PROVISIONING, '..', '..', 'deploy', 'clickhouse', 'users.d', 'twichist.xml'), 'utf8');
  assert.match(users, /<grafana>[\s\S]*from_env="GRAFANA_CLICKHOUSE_PASSWORD"[\s\S]*<profile>grafana_readonly<\/profile>/);
  assert.match(users, /<grafana_readonly>[\s\S]*<readonly>2<\/readonly>/);
});

test('alerting: four rules on the provisioned datasource, webhook contact point and policy from the environment', () => {
  const rules = loadAlertRules();
  assert.deepEqual(rules.map((r) => r.uid).sort(), ['twichist-chat-burst', 'twichist-emote-burst', 'twichist-ingest-stalled', 'twichist-toxicity-surge']);
  for (const r of rules) {
    const sql = r.data.find((d) => d.datasourceUid === DATASOURCE_UID)?.model.rawSql ?? '';
    assert.ok(sql.includes('$__'), `${r.title}: macros survive provisioning interpolation ($$ escaped)`);
    assert.ok(!sql.includes('$__conditionalAll'), `${r.title}: $__conditionalAll is expanded in the browser only`);
  }
  const doc = parse(fs.readFileSync(path.join(PROVISIONING, 'alerting', 'twichist.yaml'), 'utf8')) as Record<string, any>;
  assert.equal(doc.contactPoints[0].receivers[0].type, 'webhook');
  assert.equal(doc.contactPoints[0].receivers[0].settings.url, '${TWICHIST_ALERT_WEBHOOK_URL}');
  assert.equal(doc.policies[0].receiver, doc.contactPoints[0].name);
  // Labels survive interpolation: the summary must not lose its $labels.
  assert.match(interpolateProvisioning(doc.groups[0].rules[0].annotations.summary, {}), /\$labels\.emote/);
});
