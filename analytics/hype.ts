/**
 * Hype prediction: logistic regression on `hype_features` (migration 0034), trained and evaluated with
 * a time split per channel (first 70% of each channel's time span trains, the rest tests), against
 * the naive baseline "burst ahead if the current window's robust z-score is above X" with X tuned on
 * the training split. Both decision thresholds maximise F1 on the training split only.
 *
 * Training: batch gradient descent on standardised features with a small L2 penalty, unweighted
 * classes (the output stays a calibrated probability; rarity of bursts is handled by the tuned
 * threshold). The standardisation is folded back into the weights, so SQL applies them to the raw
 * feature values. A few thousand rows train in milliseconds.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '../core/clickhouse.ts';

/** The order of `hype_features.features` (see migration 0034). */
export const HYPE_FEATURES = [
  'log_rel_volume', 'log_slope', 'log_rel_prev', 'chatters_per_message', 'emotes_per_message',
  'sentiment_mean', 'top_emote_share', 'score_clipped', 'hot_now',
] as const;

export const DEFAULT_WEIGHTS_FILE = path.join(import.meta.dirname, 'hype-weights.json');

export interface HypeRow { channel: string; t: number; features: number[]; score: number; label: number }
export interface LogisticModel { weights: number[]; bias: number }
export interface HypeWeights extends LogisticModel {
  version: string;
  features: string[];
  threshold: number;
  trained_at: string;
  /** How the weights were evaluated (the numbers a reader should quote). */
  eval?: HypeEval;
}
export interface Prf { precision: number; recall: number; f1: number; tp: number; fp: number; fn: number; positives: number; rows: number }
export interface HypeEval {
  channels: string[];
  split: string;
  train: { rows: number; positives: number };
  test: { rows: number; positives: number };
  model: Prf & { threshold: number };
  baseline: Prf & { scoreAbove: number };
  beatsBaseline: boolean;
  verdict: string;
}

export async function fetchHypeRows(client: ClickHouseClient, channels?: string[]): Promise<HypeRow[]> {
  const rs = await client.query({
    query: `SELECT channel, toUInt32(\`window\`) AS t, features, score, label FROM hype_features
            WHERE length({channels:Array(String)}) = 0 OR has({channels:Array(String)}, channel)
            ORDER BY channel, t`,
    query_params: { channels: channels ?? [] },
    format: 'JSONEachRow',
  });
  return rs.json<HypeRow>();
}

/** First `trainShare` of each channel's time span trains, the rest tests (no window is in both). */
export function timeSplit(rows: HypeRow[], trainShare = 0.7): { train: HypeRow[]; test: HypeRow[] } {
  const span = new Map<string, [number, number]>();
  for (const r of rows) {
    const s = span.get(r.channel);
    span.set(r.channel, s ? [Math.min(s[0], r.t), Math.max(s[1], r.t)] : [r.t, r.t]);
  }
  const train: HypeRow[] = [];
  const test: HypeRow[] = [];
  for (const r of rows) {
    const [a, b] = span.get(r.channel)!;
    (r.t < a + trainShare * (b - a) ? train : test).push(r);
  }
  return { train, test };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function predict(m: LogisticModel, x: number[]): number {
  let z = m.bias;
  for (let i = 0; i < x.length; i++) z += m.weights[i] * x[i];
  return sigmoid(z);
}

export function trainLogistic(X: number[][], y: number[], opts: { iters?: number; lr?: number; l2?: number } = {}): LogisticModel {
  const n = X.length;
  const d = X[0]?.length ?? 0;
  const iters = opts.iters ?? 3000;
  const lr = opts.lr ?? 0.5;
  const l2 = opts.l2 ?? 1e-3;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const x of X) for (let j = 0; j < d; j++) mean[j] += x[j] / n;
  for (const x of X) for (let j = 0; j < d; j++) std[j] += (x[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  const Z = X.map((x) => x.map((v, j) => (v - mean[j]) / std[j]));
  const w = new Array<number>(d).fill(0);
  let b = 0;
  for (let it = 0; it < iters; it++) {
    const gw = new Array<number>(d).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let z = b;
      for (let j = 0; j < d; j++) z += w[j] * Z[i][j];
      const err = sigmoid(z) - y[i];
      for (let j = 0; j < d; j++) gw[j] += err * Z[i][j];
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j] -= lr * (gw[j] / n + l2 * w[j]);
    b -= (lr * gb) / n;
  }
  // Fold standardisation in: w·(x - mean)/std + b = (w/std)·x + (b - Σ w·mean/std).
  const weights = w.map((v, j) => v / std[j]);
  const bias = b - w.reduce((s, v, j) => s + (v * mean[j]) / std[j], 0);
  return { weights, bias };
}

export function prf(predicted: boolean[], labels: number[]): Prf {
  let tp = 0, fp = 0, fn = 0, positives = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) positives++;
    if (predicted[i] && labels[i]) tp++;
    else if (predicted[i]) fp++;
    else if (labels[i]) fn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, tp, fp, fn, positives, rows: labels.length };
}

/** The cut on `values` (predict value >= cut) with the best F1 on these labels; ties keep the higher cut. */
export function tuneCut(values: number[], labels: number[]): number {
  const cuts = [...new Set(values)].sort((a, b) => b - a);
  let best = { cut: Infinity, f1: -1 };
  for (const cut of cuts) {
    const f1 = prf(values.map((v) => v >= cut), labels).f1;
    if (f1 > best.f1) best = { cut, f1 };
  }
  return best.cut;
}

/** Trains on the first 70% of each channel, tests on the rest; model and baseline side by side. */
export function evaluateHype(rows: HypeRow[], trainShare = 0.7): { model: HypeWeights; eval: HypeEval } {
  const { train, test } = timeSplit(rows, trainShare);
  const yTrain = train.map((r) => r.label);
  const yTest = test.map((r) => r.label);
  const m = trainLogistic(train.map((r) => r.features), yTrain);
  const threshold = tuneCut(train.map((r) => predict(m, r.features)), yTrain);
  const scoreAbove = tuneCut(train.map((r) => r.score), yTrain);
  const model = { ...prf(test.map((r) => predict(m, r.features) >= threshold), yTest), threshold };
  const baseline = { ...prf(test.map((r) => r.score >= scoreAbove), yTest), scoreAbove };
  const beatsBaseline = model.f1 > baseline.f1;
  const ev: HypeEval = {
    channels: [...new Set(rows.map((r) => r.channel))],
    split: `first ${Math.round(trainShare * 100)}% of each channel's time trains, the rest tests`,
    train: { rows: train.length, positives: yTrain.filter(Boolean).length },
    test: { rows: test.length, positives: yTest.filter(Boolean).length },
    model,
    baseline,
    beatsBaseline,
    verdict: beatsBaseline
      ? `model beats the baseline on test F1 (${model.f1.toFixed(3)} vs ${baseline.f1.toFixed(3)})`
      : `model does NOT beat the baseline on test F1 (${model.f1.toFixed(3)} vs ${baseline.f1.toFixed(3)})`,
  };
  const trainedAt = new Date().toISOString();
  const version = createHash('sha256').update(JSON.stringify([m.weights, m.bias, threshold])).digest('hex').slice(0, 12);
  return { model: { version, features: [...HYPE_FEATURES], weights: m.weights, bias: m.bias, threshold, trained_at: trainedAt, eval: ev }, eval: ev };
}

export function saveWeights(w: HypeWeights, file = DEFAULT_WEIGHTS_FILE): void {
  writeFileSync(file, JSON.stringify(w, null, 2) + '\n');
}
