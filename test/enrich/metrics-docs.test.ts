/** docs/api.md names every Prometheus metric the enrich stage exposes, with its type (the table under `GET /metrics`). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createMetrics, toPrometheus } from '../../enrich/metrics.ts';
import { REPO_ROOT } from '../support/paths.ts';

test('every twichist_enrich_* metric is in the docs/api.md table with its type, and the table names no other', () => {
  const exposed = [...toPrometheus(createMetrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
  const documented = [...doc.matchAll(/^\s*\| `(twichist_enrich_\w+)(?:\{[^}]*\})?` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  assert.ok(exposed.length >= 16, exposed.join('\n'));
  assert.deepEqual(documented, exposed);
});
