/**
 * Rebuilds enrich/analysis/emote-lexicon.json and enrich/analysis/sentiment-model.json from
 * scripts/emote-lexicon-hand.json and the unlabelled real chat in ../shared/data. Deterministic: same
 * inputs, same bytes out (fixed corpus order, fixed-seed shuffle, rounded weights).
 *
 *   node scripts/train-sentiment.ts           # rebuild both JSON files
 *   node scripts/train-sentiment.ts --check   # exit 1 unless the committed files are reproduced byte for byte
 *
 * Distant supervision: a message's "seed" polarity is the sum of hand-scored emotes, emoticons, Twitch
 * slang and AFINN words in it. Messages with seed >= 0.3 are positive, <= -0.3 negative, messages with
 * no seed token at all are neutral. From those noisy labels we
 *  1. score emotes that have no hand rule (channel and 7TV emotes) by the polarity of the messages they
 *     appear in (co-occurrence), and
 *  2. train a 3-class softmax regression over the tokens the lexicons do not know.
 * The NLSS rechat VODs are NOT used: the hand-labelled dev set is drawn from them.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../core/rng.ts';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data');
const analysisDir = join(repoRoot, 'enrich', 'analysis');
const lexPath = join(analysisDir, 'emote-lexicon.json');
const modelPath = join(analysisDir, 'sentiment-model.json');
if (!existsSync(data)) { console.error(`no ${data}; training needs ../shared/data`); process.exit(1); }

// --check builds both files in memory and compares them with the committed bytes (nothing is written)
const check = process.argv.includes('--check');
// 0. write the hand part first: lexicon.ts reads the JSON at import. Under --check the committed file is
// read as it is: if its rules differ from the hand file, the final comparison fails, as it should.
const hand = JSON.parse(readFileSync(join(repoRoot, 'scripts', 'emote-lexicon-hand.json'), 'utf8'));
const VERSION = '2026.11.3';
const prev = existsSync(lexPath) ? JSON.parse(readFileSync(lexPath, 'utf8')) : {};
if (!check) writeFileSync(lexPath, JSON.stringify({ version: VERSION, about: hand.about, rules: hand.rules, suffixRules: hand.suffixRules, derived: prev.derived ?? {} }, null, 1) + '\n');
const { HAND_EMOTES } = await import('../enrich/analysis/lexicon.ts');
const { lexical } = await import('../enrich/analysis/sentiment.ts');
const { listSources, readSourceMessages, sourceChannel } = await import('../enrich/eval/chat-sources.ts');
const { channelEmoteSuffix } = await import('../enrich/analysis/tokens.ts');

// 1. corpus: every Chatty log, the arypie VODs, the xqc capture (chat-sources.ts order)
const texts: string[] = [];
const sources: string[] = [];
for (const source of listSources(data)) {
  for (const m of readSourceMessages(data, source)) { texts.push(m.text); sources.push(sourceChannel(source)); }
}
// copy-pasta floods would dominate: keep each distinct text at most 3 times
const seenCount = new Map<string, number>();
const corpus: string[] = [];
const corpusSource: string[] = [];
texts.forEach((raw, i) => {
  const t = raw.trim().replace(/\s+/g, ' ');
  if (!t || t.startsWith('!')) return;
  const n = (seenCount.get(t) ?? 0) + 1;
  seenCount.set(t, n);
  if (n <= 3) { corpus.push(t); corpusSource.push(sources[i]); }
});
console.error(`corpus: ${texts.length} messages, ${corpus.length} after de-duplication`);

// 2. seed labels (hand emotes only, no derived scores, no learned model)
const seedOpts = { emotes: HAND_EMOTES, learned: false } as const;
const parts = { emote: 0, word: 0, hits: 0, learned: 0 };
const seedOf = (t: string, unknown?: string[]) => {
  lexical(t, { ...seedOpts, unknownOut: unknown }, parts);
  return { sum: parts.emote + parts.word, hits: parts.hits };
};

// 3. derived emote scores by co-occurrence
const emoteLike = new Set<string>();
const stv = JSON.parse(readFileSync(join(data, 'emotes', '7tv-emote-set-nymn.json'), 'utf8'));
for (const e of stv.emote_set.emotes) emoteLike.add(e.name);
for (const name of Object.keys(JSON.parse(readFileSync(join(data, 'emotes', 'globalemotes.json'), 'utf8')))) emoteLike.add(name);
const co = new Map<string, { pos: number; neg: number; n: number }>();
for (const t of corpus) {
  const toks = t.split(' ');
  const cands = toks.filter((k) => !HAND_EMOTES.has(k) && (emoteLike.has(k) || channelEmoteSuffix(k) !== ''));
  if (cands.length === 0) continue;
  // polarity of the rest of the message
  const rest = toks.filter((k) => !cands.includes(k)).join(' ');
  const { sum } = seedOf(rest);
  for (const c of new Set(cands)) {
    let s = co.get(c);
    if (!s) co.set(c, (s = { pos: 0, neg: 0, n: 0 }));
    s.n++;
    if (sum >= 0.3) s.pos++; else if (sum <= -0.3) s.neg++;
  }
}
const derived: Record<string, { score: number; n: number }> = {};
for (const [name, s] of [...co.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
  // plain words ("WHAT", "yo") are not emotes even when a 7TV set has them: mixed case only
  if (!/[a-z]/.test(name) || !/[A-Z]/.test(name)) continue;
  if (s.n < 15 || s.pos + s.neg < 8) continue;
  // shrunk towards 0 by a pseudo-count of 5 on each side, and scaled below hand scores (max 0.8)
  const score = Math.round(800 * (s.pos - s.neg) / (s.pos + s.neg + 10)) / 1000;
  if (Math.abs(score) < 0.1) continue;
  derived[name] = { score, n: s.n };
}
console.error(`derived emote scores: ${Object.keys(derived).length}`);

// 4. learned model over unknown tokens
type Ex = { y: number; toks: string[] };
// tokens seen in fewer than MIN_SOURCES of the 8 sources (6 Chatty channels, arypie, xqc) are channel
// names, player names and in-jokes: they separate channels, not sentiments
const MIN_SOURCES = 3;
const tokenSources = new Map<string, Set<string>>();
const pos: Ex[] = [], neg: Ex[] = [], neu: Ex[] = [];
for (let ci = 0; ci < corpus.length; ci++) {
  const t = corpus[ci];
  const unknown: string[] = [];
  const { sum, hits } = seedOf(t, unknown);
  const toks = [...new Set(unknown.filter((k) => k.length > 1 && !/^\d+$/.test(k)))];
  for (const k of toks) { let ss = tokenSources.get(k); if (!ss) tokenSources.set(k, (ss = new Set())); ss.add(corpusSource[ci]); }
  if (toks.length === 0) continue;
  if (sum >= 0.3) pos.push({ y: 2, toks });
  else if (sum <= -0.3) neg.push({ y: 0, toks });
  else if (hits === 0) neu.push({ y: 1, toks });
}
const rnd = mulberry32(42);
const shuffle = <T,>(a: T[]) => { for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; } return a; };
shuffle(neu);
// all neutral examples are kept: the class prior then matches real chat (mostly neutral), so tokens
// push away from neutral only with real evidence
const train = shuffle([...pos, ...neg, ...neu]);
console.error(`distant labels: pos ${pos.length}, neg ${neg.length}, neutral ${neu.length}`);
const df = new Map<string, number>();
for (const ex of train) for (const k of ex.toks) df.set(k, (df.get(k) ?? 0) + 1);
const vocab = [...df.entries()].filter(([k, n]) => n >= 5 && (tokenSources.get(k)?.size ?? 0) >= MIN_SOURCES).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 4000).map(([k]) => k);
const index = new Map(vocab.map((k, i) => [k, i]));
const W = new Float64Array(vocab.length * 3);
const b = new Float64Array(3);
const LR = 0.1, L2 = 1e-3, EPOCHS = 6;
for (let ep = 0; ep < EPOCHS; ep++) {
  let loss = 0;
  for (const ex of train) {
    const ids = ex.toks.map((k) => index.get(k)).filter((i): i is number => i !== undefined);
    if (ids.length === 0) continue;
    const z = [b[0], b[1], b[2]];
    for (const i of ids) for (let c = 0; c < 3; c++) z[c] += W[i * 3 + c];
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e[0] + e[1] + e[2];
    const p = e.map((v) => v / sum);
    loss -= Math.log(p[ex.y] + 1e-12);
    for (let c = 0; c < 3; c++) {
      const g = p[c] - (c === ex.y ? 1 : 0);
      b[c] -= LR * g * 0.1;
      for (const i of ids) W[i * 3 + c] -= LR * (g + L2 * W[i * 3 + c]);
    }
  }
  console.error(`epoch ${ep + 1}: mean loss ${(loss / train.length).toFixed(4)}`);
}
const weights: Record<string, number[]> = {};
const r3 = (x: number) => Math.round(x * 1000) / 1000;
for (let i = 0; i < vocab.length; i++) {
  const w = [W[i * 3], W[i * 3 + 1], W[i * 3 + 2]];
  // centre per token: only differences between classes matter in a softmax
  const mean = (w[0] + w[1] + w[2]) / 3;
  const c = w.map((v) => r3(v - mean));
  if (Math.max(...c.map(Math.abs)) >= 0.05) weights[vocab[i]] = c;
}
const bm = (b[0] + b[1] + b[2]) / 3;
const modelJson = JSON.stringify({
  version: VERSION,
  about: 'Softmax regression over lowercase tokens unknown to the lexicons, trained by scripts/train-sentiment.ts on distant-supervision labels (see docs/sentiment.md). weights[token] = [neg, neu, pos] logits.',
  classes: ['neg', 'neu', 'pos'],
  bias: [r3(b[0] - bm), r3(b[1] - bm), r3(b[2] - bm)],
  weights,
}) + '\n';
const lexJson = JSON.stringify({ version: VERSION, about: hand.about, rules: hand.rules, suffixRules: hand.suffixRules, derived }, null, 1) + '\n';
if (check) {
  const bad = [[lexPath, lexJson], [modelPath, modelJson]].filter(([p, j]) => !existsSync(p) || readFileSync(p, 'utf8') !== j).map(([p]) => p);
  console.error(bad.length === 0 ? 'emote-lexicon.json and sentiment-model.json are reproduced byte for byte' : `differ from what this script builds (run it without --check): ${bad.join(', ')}`);
  process.exit(bad.length === 0 ? 0 : 1);
}
writeFileSync(modelPath, modelJson);
writeFileSync(lexPath, lexJson);
console.error(`wrote ${lexPath} and ${modelPath} (${Object.keys(weights).length} tokens)`);
