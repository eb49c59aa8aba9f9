/** refineWithModels with a stand-in runtime: the blend weights, toxicity = max, moderation risk re-scored, the budget. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ModelRuntime } from '../../enrich/models/index.ts';
import { refineWithModels } from '../../enrich/refine.ts';
import type { PendingRow } from '../../enrich/rows.ts';
import { sampleMessage } from '../support/events.ts';

const log = pino({ level: 'silent' });

function runtime(sentiment: Array<{ negative: number; neutral: number; positive: number }>, toxicity: number[], delayMs = 0): ModelRuntime {
  const later = <T>(v: T) => new Promise<T>((r) => setTimeout(() => r(v), delayMs));
  return {
    available: { sentiment: 'stand-in', toxicity: 'stand-in', embeddings: null },
    sentiment: () => later(sentiment),
    toxicity: () => later(toxicity),
    embed: () => Promise.reject(new Error('no embeddings')),
    close: async () => {},
  };
}

function row(text: string, sentiment: number, toxicity: number, modRiskWith?: (t: number) => number): PendingRow {
  return {
    table: 'messages', kind: 'message', id: text, channel: 'c', ts: 0, receivedAt: 0, raw: null, event: { ...sampleMessage, text },
    row: { text, sentiment, sentiment_label: 0, toxicity, mod_risk: 0.1, enrich_version: 'v' },
    modRiskWith,
  };
}

test('2-label models blend at 0.35, 3-label at 0.5; toxicity is the max; moderation risk is re-scored with it', async () => {
  const rows = [row('a', 0.2, 0.6, (t) => t / 2), row('b', 0.2, 0.1, (t) => t / 2), row('c', -0.4, 0)];
  const n = await refineWithModels(runtime([
    { negative: 0.1, neutral: 0, positive: 0.9 }, // SST-2 style: no neutral class
    { negative: 0.1, neutral: 0.2, positive: 0.7 },
    { negative: 0.8, neutral: 0.1, positive: 0.1 },
  ], [0.3, 0.9, 0.05]), rows, 1000, log);
  assert.equal(n, 3);
  assert.ok(Math.abs(Number(rows[0].row.sentiment) - (0.65 * 0.2 + 0.35 * 0.8)) < 1e-9);
  assert.ok(Math.abs(Number(rows[1].row.sentiment) - (0.5 * 0.2 + 0.5 * 0.6)) < 1e-9);
  assert.equal(rows[2].row.sentiment_label, -1);
  assert.deepEqual(rows.map((r) => r.row.toxicity), [0.6, 0.9, 0.05]);
  assert.deepEqual(rows.map((r) => r.row.mod_risk), [0.3, 0.45, 0.1], 'rows without modRiskWith keep their risk');
  assert.ok(rows.every((r) => r.row.enrich_version === 'v+model'));
});

test('a model slower than the budget leaves the lexicon scores', async () => {
  const rows = [row('a', 0.2, 0.6, (t) => t / 2)];
  const n = await refineWithModels(runtime([{ negative: 0, neutral: 0, positive: 1 }], [1], 500), rows, 20, log);
  assert.equal(n, 0);
  assert.deepEqual([rows[0].row.sentiment, rows[0].row.toxicity, rows[0].row.mod_risk, rows[0].row.enrich_version], [0.2, 0.6, 0.1, 'v']);
});
