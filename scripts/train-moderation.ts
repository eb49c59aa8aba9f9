/**
 * Rebuilds enrich/analysis/moderation-model.json: a logistic regression over the moderation features
 * (enrich/analysis/moderation-risk.ts), trained on riotgames1 (LoL Worlds 2016, 43k messages, 1.1k
 * messages followed by a timeout of their author within 60 s). Deterministic: full-batch gradient
 * descent from zero, fixed iterations, rounded weights. Then prints AUC on every other Chatty log
 * with BAN lines, per channel, to check it generalises.
 *
 *   node scripts/train-moderation.ts
 */
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data');
const modelPath = join(repoRoot, 'enrich', 'analysis', 'moderation-model.json');
if (!existsSync(data)) { console.error(`no ${data}; training needs ../shared/data`); process.exit(1); }
const { ModerationState, FEATURE_NAMES, FEATURE_COUNT, modTokens } = await import('../enrich/analysis/moderation-risk.ts');
const { auc } = await import('../enrich/eval/metrics.ts');
const validate = process.argv.includes('--validate');
const { readChatty, banLabels } = await import('../enrich/eval/chatty.ts');

const trainFile = join(data, 'chatty', 'riotgames', 'riotgames1.log');
const { messages, labels } = banLabels(readChatty(trainFile));
const state = new ModerationState();
const X: Float64Array[] = messages.map((m) => Float64Array.from(state.features('riotgames', m.user, m.text, m.ts)));
const N = X.length, d = FEATURE_COUNT;
// --validate: fit on the first 70% of the log (by time), report AUC on the last 30%, write nothing
const n = validate ? Math.floor(N * 0.7) : N;
const toks = messages.map((m) => modTokens(m.text));
// thermometer edges: distinct training quantiles per feature
const QS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995, 0.999];
const edges: number[][] = [];
for (let j = 0; j < d; j++) {
  const sorted = X.slice(0, n).map((x) => x[j]).sort((a, b) => a - b);
  const qs = QS.map((q) => Math.round(sorted[Math.floor(q * (n - 1))] * 10000) / 10000);
  edges.push([...new Set(qs)].filter((e) => e < sorted[n - 1]));
}
const offsets: number[] = [];
let nParams = 0;
for (let j = 0; j < d; j++) { offsets.push(nParams); nParams += edges[j].length; }
// token vocabulary: tokens used by at least 15 distinct users in training, so one spammer's words do not count
const tokUsers = new Map<string, Set<string>>();
for (let i = 0; i < n; i++) for (const t of toks[i]) { let s = tokUsers.get(t); if (!s) tokUsers.set(t, (s = new Set())); if (s.size < 15) s.add(messages[i].user); }
const vocab = [...tokUsers.entries()].filter(([, s]) => s.size >= 15).map(([t]) => t).sort();
const tokIndex = new Map(vocab.map((t, i) => [t, nParams + i]));
const firstTok = nParams;
nParams += vocab.length;
const activeOf = (i: number) => {
  const a: number[] = [];
  const x = X[i];
  for (let j = 0; j < d; j++) for (let k = 0; k < edges[j].length; k++) { if (x[j] > edges[j][k]) a.push(offsets[j] + k); else break; }
  for (const t of toks[i]) { const k = tokIndex.get(t); if (k !== undefined) a.push(k); }
  return Int32Array.from(a);
};
const active: Int32Array[] = X.map((_, i) => activeOf(i));
let pos = 0;
for (let i = 0; i < n; i++) pos += labels[i];
// positives are 2.6%: weight them up so the fit is not dominated by the easy negatives
const wPos = (n - pos) / pos;
const w = new Float64Array(nParams);
let b = 0;
// full-batch Adam, fixed iteration count: deterministic. Token weights get a stronger L2 (many, sparse).
const LR = 0.05, L2 = 3e-3, L2_TOK = 2e-2, ITERS = 600;
const m1 = new Float64Array(nParams + 1), m2 = new Float64Array(nParams + 1);
for (let it = 1; it <= ITERS; it++) {
  const g = new Float64Array(nParams + 1);
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    let z = b;
    for (const k of active[i]) z += w[k];
    const p = 1 / (1 + Math.exp(-z));
    const sw = labels[i] ? wPos : 1;
    const gi = (p - labels[i]) * sw;
    wsum += sw;
    g[nParams] += gi;
    for (const k of active[i]) g[k] += gi;
  }
  for (let k = 0; k <= nParams; k++) {
    const gk = g[k] / wsum + (k < nParams ? (k >= firstTok ? L2_TOK : L2) * w[k] : 0);
    m1[k] = 0.9 * m1[k] + 0.1 * gk;
    m2[k] = 0.999 * m2[k] + 0.001 * gk * gk;
    const step = (LR * (m1[k] / (1 - 0.9 ** it))) / (Math.sqrt(m2[k] / (1 - 0.999 ** it)) + 1e-8);
    if (k < nParams) w[k] -= step; else b -= step;
  }
}
if (validate) {
  const score = (i: number) => { let z = b; for (const k of active[i]) z += w[k]; return z; };
  const noTok = (i: number) => { let z = b; for (const k of active[i]) if (k < firstTok) z += w[k]; return z; };
  const tr = [...Array(n).keys()], te = [...Array(N - n).keys()].map((i) => i + n);
  console.error(`time split 70/30: train auc ${auc(tr.map(score), tr.map((i) => labels[i])).toFixed(4)}, test auc ${auc(te.map(score), te.map((i) => labels[i])).toFixed(4)}, test auc without tokens ${auc(te.map(noTok), te.map((i) => labels[i])).toFixed(4)} (${vocab.length} tokens)`);
  process.exit(0);
}
const r = (x: number) => Math.round(x * 10000) / 10000;
const model = {
  version: '2026.11.1',
  about: 'Additive logistic model (thermometer-coded quantile edges per feature) trained on riotgames1 BAN labels (60 s window, positives weighted by neg/pos) by scripts/train-moderation.ts.',
  features: [...FEATURE_NAMES],
  edges,
  weights: edges.map((e, j) => e.map((_, k) => r(w[offsets[j] + k]))),
  // undo the positive up-weighting so risk is a calibrated probability on riotgames1 (AUC unchanged)
  bias: r(b - Math.log(wPos)),
  tokens: Object.fromEntries(vocab.map((t) => [t, r(w[tokIndex.get(t)!])]).filter(([, v]) => Math.abs(v as number) >= 0.01)),
};
writeFileSync(modelPath, JSON.stringify(model) + '\n');
console.error('per-feature total weight:', Object.fromEntries(FEATURE_NAMES.map((f, j) => [f, r(model.weights[j].reduce((a, x) => a + x, 0))])));

// generalisation: a fresh process, so the model JSON just written is the one imported
const chattyDir = join(data, 'chatty');
for (const ch of readdirSync(chattyDir).sort()) {
  const files = readdirSync(join(chattyDir, ch)).sort().map((f) => join(chattyDir, ch, f));
  const out = execFileSync(process.execPath, [join(repoRoot, 'enrich', 'eval', 'moderation.ts'), ...files], { encoding: 'utf8' });
  const parsed = JSON.parse(out);
  const res = ([] as { file: string; auc: number; toxicityAuc: number; positives: number; messages: number }[]).concat(parsed.logs ?? parsed).filter((x) => x.positives > 0);
  const pooled = parsed.pooled ? ` pooled auc=${parsed.pooled.auc} tox=${parsed.pooled.toxicityAuc} (${parsed.pooled.positives}/${parsed.pooled.messages})` : '';
  console.error(`${ch}:${pooled}; ${res.map((x) => `${x.file.split('/').pop()} auc=${x.auc} (${x.positives}/${x.messages})`).join('; ')}`);
}
