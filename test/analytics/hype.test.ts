/**
 * Hype prediction, evaluated on real chat (the chattiest Chatty logs, see HYPE_LOGS): the first 70% of
 * each log's time trains, the rest tests; the model (logistic regression) and the naive baseline
 * ("burst ahead if the current window's score > X", X tuned on train) are both scored on the test
 * part. The test asserts that the numbers are computed; whether the model beats the baseline is
 * printed as it is (`node analytics/hype-eval.ts` prints the same report).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { HYPE_LOGS, runHypeEval } from '../../analytics/hype-eval.ts';
import { loadHypeModel } from '../../analytics/hype-model.ts';
import { predict } from '../../analytics/hype.ts';
import { refreshDerived } from '../../analytics/refresh.ts';
import { CHATTY_DIR, openTestDatabase, rows, sharedDataSkip, testDataDir } from './support/db.ts';

const files = HYPE_LOGS.map((f) => path.join(CHATTY_DIR, f));
const skip = files.every(existsSync) ? false : sharedDataSkip(files.find((f) => !existsSync(f)));
const data = testDataDir('hype');
after(() => data.cleanup());

test('hype model versus baseline on a time split of real logs; SQL predictions match TypeScript', { skip }, async () => {
  const client = await openTestDatabase(data.dir, 'hype');
  const { model, eval: ev } = await runHypeEval(client, files);
  console.log(JSON.stringify(ev));
  console.log(`hype: ${ev.verdict}`);
  assert.equal(ev.channels.length, files.length);
  assert.ok(ev.train.positives > 0 && ev.test.positives > 0, 'both splits hold bursts');
  for (const r of [ev.model, ev.baseline]) {
    for (const v of [r.precision, r.recall, r.f1]) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1);
    assert.equal(r.tp + r.fn, ev.test.positives);
    assert.equal(r.rows, ev.test.rows);
  }
  assert.equal(ev.beatsBaseline, ev.model.f1 > ev.baseline.f1);

  // The weights applied in SQL give the probabilities the TypeScript model gives.
  assert.equal(await loadHypeModel(client, model), true);
  await refreshDerived(client, { skipHypeModel: true, views: ['hype_predictions_mv'] });
  const sample = await rows<{ probability: number; features: number[] }>(client,
    "SELECT p.probability AS probability, f.features AS features FROM hype_predictions AS p INNER JOIN hype_features AS f ON f.channel = p.channel AND f.`window` = p.`window` WHERE p.channel = 'riotgames1' ORDER BY p.`window` LIMIT 50");
  assert.equal(sample.length, 50);
  for (const s of sample) assert.ok(Math.abs(s.probability - predict(model, s.features)) < 1e-9);
});
