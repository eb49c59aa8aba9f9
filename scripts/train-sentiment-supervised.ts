/**
 * Trains enrich/analysis/sentiment-supervised.json: a 3-class softmax regression over the lexicon's
 * dense features (enrich/analysis/sentiment.ts `denseFeatures`: lexicon score, emote/word positive and
 * negative sums, distant model, question, '!', mention, length, caps, unknown emote) plus tokens (words
 * lower-cased, emotes by exact name), on the TUNING parts (row index % 10 < 7) of the three hand-labelled
 * dev sets. Held-out rows are never read here.
 *
 *   node scripts/train-sentiment-supervised.ts            # rebuild the JSON
 *   node scripts/train-sentiment-supervised.ts --check    # exit 1 unless the committed JSON is reproduced byte for byte
 *   node scripts/train-sentiment-supervised.ts --cv       # leave-one-set-out grid (model selection)
 *
 * Deterministic: full-batch Adam from zero weights, fixed iteration count, fixed row and token order,
 * weights rounded to 3 decimals. The multi-channel set resolves its texts from ../shared/data, so
 * training needs that folder.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isHeldOut, type LabelledRow } from '../enrich/eval/csv.ts';
import { classMetrics, type Label3 } from '../enrich/eval/metrics.ts';
import { loadLabelledRows, SHARED_DATA } from '../enrich/eval/sentiment.ts';
import { DENSE_FEATURES, denseFeatures, lexical, lexiconScore, newLexicalParts, POSITIVE_THRESHOLD, NEGATIVE_THRESHOLD } from '../enrich/analysis/sentiment.ts';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const outPath = join(repoRoot, 'enrich', 'analysis', 'sentiment-supervised.json');
const VERSION = '2026.11.3';
const { values: args } = parseArgs({ options: { check: { type: 'boolean', default: false }, cv: { type: 'boolean', default: false } } });
if (!existsSync(SHARED_DATA)) { console.error(`no ${SHARED_DATA}: the multi-channel dev set's texts live there`); process.exit(1); }

/** Shipped hyper-parameters (chosen by --cv, docs/sentiment.md). */
const SHIPPED: Hyper = { l2Dense: 3e-2, l2Tokens: 3e-3, minRows: 3, minSets: 1, blend: 0.75, iterations: 400 };
interface Hyper { l2Dense: number; l2Tokens: number; minRows: number; minSets: number; blend: number; iterations: number }

interface Example { set: number; y: number; x: Float64Array; lex: number; toks: string[] }
const SETS = ['sentiment-dev-polar.csv', 'sentiment-dev.csv', 'sentiment-dev-multi.csv'];
const examples: Example[] = [];
SETS.forEach((f, set) => {
  const { rows } = loadLabelledRows(readFileSync(join(repoRoot, 'test', 'fixtures', f), 'utf8'));
  rows.forEach((r: LabelledRow, i: number) => {
    if (isHeldOut(i)) return;
    const toks: string[] = [];
    // the supervised model is not applied here: lexical() only accumulates its token logits, which
    // combine() reads; the features below are the lexicon's alone
    const p = lexical(r.message, { tokensOut: toks }, newLexicalParts());
    const lex = lexiconScore(p);
    examples.push({ set, y: r.sentiment + 1, x: Float64Array.from(denseFeatures(p, lex, new Float64Array(DENSE_FEATURES.length))), lex, toks: [...new Set(toks)] });
  });
});

interface Model { bias: number[]; dense: Float64Array; vocab: string[]; tok: Float64Array }

function fit(train: Example[], h: Hyper): Model {
  const rowsOf = new Map<string, number>(), setsOf = new Map<string, Set<number>>();
  for (const e of train) for (const t of e.toks) {
    rowsOf.set(t, (rowsOf.get(t) ?? 0) + 1);
    let s = setsOf.get(t); if (!s) setsOf.set(t, (s = new Set())); s.add(e.set);
  }
  const vocab = [...rowsOf.keys()].filter((t) => rowsOf.get(t)! >= h.minRows && setsOf.get(t)!.size >= h.minSets).sort();
  const index = new Map(vocab.map((t, i) => [t, i]));
  const ids = train.map((e) => e.toks.map((t) => index.get(t)).filter((i): i is number => i !== undefined));
  const D = DENSE_FEATURES.length, V = vocab.length, n = train.length;
  // parameters: bias(3) | dense(D*3) | tokens(V*3); Adam on the mean cross-entropy + L2
  const P = 3 + D * 3 + V * 3;
  const w = new Float64Array(P), g = new Float64Array(P), m1 = new Float64Array(P), m2 = new Float64Array(P);
  const lr = 0.05, b1 = 0.9, b2 = 0.999;
  for (let it = 1; it <= h.iterations; it++) {
    g.fill(0);
    for (let r = 0; r < n; r++) {
      const e = train[r];
      const z = [w[0], w[1], w[2]];
      for (let j = 0; j < D; j++) { const xj = e.x[j]; if (xj !== 0) for (let c = 0; c < 3; c++) z[c] += xj * w[3 + j * 3 + c]; }
      for (const i of ids[r]) for (let c = 0; c < 3; c++) z[c] += w[3 + D * 3 + i * 3 + c];
      const mx = Math.max(z[0], z[1], z[2]);
      const ez = z.map((v) => Math.exp(v - mx));
      const sum = ez[0] + ez[1] + ez[2];
      for (let c = 0; c < 3; c++) {
        const d = (ez[c] / sum - (c === e.y ? 1 : 0)) / n;
        g[c] += d;
        for (let j = 0; j < D; j++) { const xj = e.x[j]; if (xj !== 0) g[3 + j * 3 + c] += d * xj; }
        for (const i of ids[r]) g[3 + D * 3 + i * 3 + c] += d;
      }
    }
    for (let k = 3; k < 3 + D * 3; k++) g[k] += h.l2Dense * w[k];
    for (let k = 3 + D * 3; k < P; k++) g[k] += h.l2Tokens * w[k];
    for (let k = 0; k < P; k++) {
      m1[k] = b1 * m1[k] + (1 - b1) * g[k];
      m2[k] = b2 * m2[k] + (1 - b2) * g[k] * g[k];
      w[k] -= (lr * (m1[k] / (1 - b1 ** it))) / (Math.sqrt(m2[k] / (1 - b2 ** it)) + 1e-8);
    }
  }
  return { bias: [w[0], w[1], w[2]], dense: w.slice(3, 3 + D * 3), vocab, tok: w.slice(3 + D * 3) };
}

function predict(mod: Model, e: Example, blend: number): number {
  const index = new Map(mod.vocab.map((t, i) => [t, i]));
  const z = [...mod.bias];
  for (let j = 0; j < e.x.length; j++) for (let c = 0; c < 3; c++) z[c] += e.x[j] * mod.dense[j * 3 + c];
  for (const t of e.toks) { const i = index.get(t); if (i !== undefined) for (let c = 0; c < 3; c++) z[c] += mod.tok[i * 3 + c]; }
  const mx = Math.max(...z);
  const ez = z.map((v) => Math.exp(v - mx));
  const s = ez[0] + ez[1] + ez[2];
  return (1 - blend) * e.lex + blend * (ez[2] - ez[0]) / s;
}

const label = (s: number): Label3 => (s >= POSITIVE_THRESHOLD ? 1 : s <= NEGATIVE_THRESHOLD ? -1 : 0);
const fmt = (m: { accuracy: number; macroF1: number }) => `${m.accuracy.toFixed(4)} / ${m.macroF1.toFixed(4)}`;

if (args.cv) {
  // leave one set out: fit on the other two sets' tuning parts, score the left-out set's tuning part.
  // This is the honest estimate for a channel the model has never seen.
  const lexOnly = SETS.map((_, s) => classMetrics(examples.filter((e) => e.set === s).map((e) => (e.y - 1) as Label3), examples.filter((e) => e.set === s).map((e) => label(e.lex))));
  console.log(`lexicon alone          ${lexOnly.map(fmt).join(' | ')}  mean F1 ${(lexOnly.reduce((a, m) => a + m.macroF1, 0) / 3).toFixed(4)}`);
  const grid: Hyper[] = [];
  for (const l2Tokens of [1e-3, 3e-3, 1e-2, 1e9])
    for (const minSets of [1, 2])
      for (const l2Dense of [1e-3, 1e-2, 3e-2]) grid.push({ ...SHIPPED, l2Tokens, minSets, l2Dense });
  for (const h of grid) {
    const fits = SETS.map((_, s) => fit(examples.filter((e) => e.set !== s), h));
    for (const blend of [0.5, 0.75, 1]) {
      const ms = SETS.map((_, s) => {
        const test = examples.filter((e) => e.set === s);
        return classMetrics(test.map((e) => (e.y - 1) as Label3), test.map((e) => label(predict(fits[s], e, blend))));
      });
      console.log(`${JSON.stringify({ ...h, blend })}  ${ms.map(fmt).join(' | ')}  mean F1 ${(ms.reduce((a, m) => a + m.macroF1, 0) / 3).toFixed(4)}`);
    }
  }
  process.exit(0);
}

const mod = fit(examples, SHIPPED);
const r3 = (x: number) => Math.round(x * 1000) / 1000 + 0;
const tokens: Record<string, number[]> = {};
mod.vocab.forEach((t, i) => {
  const c = [mod.tok[i * 3], mod.tok[i * 3 + 1], mod.tok[i * 3 + 2]];
  const mean = (c[0] + c[1] + c[2]) / 3;
  const v = c.map((x) => r3(x - mean));
  if (Math.max(...v.map(Math.abs)) >= 0.01) tokens[t] = v;
});
const bm = (mod.bias[0] + mod.bias[1] + mod.bias[2]) / 3;
const json = JSON.stringify({
  version: VERSION,
  about: 'Softmax regression over the lexicon\'s dense features and tokens, trained on the hand-labelled dev sets\' tuning parts by scripts/train-sentiment-supervised.ts (docs/sentiment.md). denseWeights[i] and tokens[t] are [neg, neu, pos] logits; score = (1 - blend) * lexicon + blend * (P(pos) - P(neg)).',
  dense: DENSE_FEATURES,
  bias: mod.bias.map((b) => r3(b - bm)),
  denseWeights: DENSE_FEATURES.map((_, j) => { const c = [0, 1, 2].map((k) => mod.dense[j * 3 + k]); const mean = (c[0] + c[1] + c[2]) / 3; return c.map((x) => r3(x - mean)); }),
  tokens,
  blend: SHIPPED.blend,
  positiveThreshold: POSITIVE_THRESHOLD,
  negativeThreshold: NEGATIVE_THRESHOLD,
}, null, 0) + '\n';
if (args.check) {
  const same = existsSync(outPath) && readFileSync(outPath, 'utf8') === json;
  console.error(same ? `${outPath} is reproduced byte for byte` : `${outPath} differs from what this script builds: run it without --check`);
  process.exit(same ? 0 : 1);
}
writeFileSync(outPath, json);
console.error(`wrote ${outPath}: ${examples.length} tuning rows, ${Object.keys(tokens).length} tokens`);
