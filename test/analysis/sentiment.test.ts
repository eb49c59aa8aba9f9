import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scoreSentiment, createAnalyzer, blendSentiment, ANALYZER_VERSION } from '../../enrich/analysis/index.ts';
import { evalSentimentCsv, SHARED_DATA } from '../../enrich/eval/sentiment.ts';
import { parseCsv } from '../../enrich/eval/csv.ts';
import { resolvePointerCsv } from '../../enrich/eval/chat-sources.ts';
import { combine, lexical, lexiconScore } from '../../enrich/analysis/sentiment.ts';
import supervised from '../../enrich/analysis/sentiment-supervised.json' with { type: 'json' };

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const haveData = existsSync(SHARED_DATA);
const noData = haveData ? false : `skipped: ${SHARED_DATA} is absent (the multi-channel set's texts and the training corpus live there)`;

test('emote lexicon drives known cases without emoteNames', () => {
  assert.equal(scoreSentiment('OMEGALUL').label, 1);
  assert.equal(scoreSentiment('KEKW').label, 1);
  assert.equal(scoreSentiment('PogChamp').label, 1);
  assert.equal(scoreSentiment('Sadge').label, -1);
  assert.equal(scoreSentiment('PepeHands').label, -1);
  assert.equal(scoreSentiment('BibleThump').label, -1);
  assert.equal(scoreSentiment('ResidentSleeper').label, -1);
  assert.equal(scoreSentiment('Kappa').label, 0);
  // channel emote by the <prefix><Suffix> rule
  assert.equal(scoreSentiment('lionNice').label, 1);
  assert.equal(scoreSentiment('xyzCry').label, -1);
});

test('words: negation, intensifiers, slang, elongation, contrast', () => {
  assert.equal(scoreSentiment('good').label, 1);
  assert.equal(scoreSentiment('not good').label, -1);
  assert.equal(scoreSentiment("this isn't bad").label >= 0, true);
  assert.ok(scoreSentiment('so good').score > scoreSentiment('good').score);
  assert.equal(scoreSentiment('gg wp').label, 1);
  assert.equal(scoreSentiment('hahahahaha').label, 1);
  assert.equal(scoreSentiment('noooooo').label, -1);
  assert.equal(scoreSentiment('boring').label, -1);
  assert.equal(scoreSentiment('L').label, -1);
  assert.equal(scoreSentiment('P A B L O').label, 0, 'spelled-out letters are not an L');
  assert.equal(scoreSentiment('that was fucking insane').label, 1, 'profanity as intensifier');
  assert.equal(scoreSentiment('is K8 streaming after this?').label, 0);
  // the emote is the writer's reaction: a negator before it does not flip it
  assert.equal(scoreSentiment('no baer FeelsBadMan').label, -1);
});

test('emoteNames and extraEmoteScores', () => {
  // an unknown emote the caller recognised is not read as an English word
  assert.equal(scoreSentiment('ugh', ['ugh']).label, 0);
  const a = createAnalyzer({ extraEmoteScores: { myChanHappy: 0.9, myChanBoo: -0.9 } });
  const base = { channel: 'c', userId: '1', login: 'u', ts: 0, emoteNames: [] };
  assert.equal(a.analyze({ ...base, text: 'myChanHappy' }).sentimentLabel, 1);
  assert.equal(a.analyze({ ...base, text: 'myChanBoo', ts: 1000 }).sentimentLabel, -1);
  const r = a.analyze({ ...base, text: 'OMEGALUL', ts: 2000 });
  assert.ok(r.sentiment >= -1 && r.sentiment <= 1 && r.toxicity >= 0 && r.toxicity <= 1 && r.modRisk >= 0 && r.modRisk <= 1);
  assert.match(ANALYZER_VERSION, /^lex-/);
});

test('blendSentiment mixes model probabilities', () => {
  assert.equal(blendSentiment(0, [0, 0, 1], 1).label, 1);
  assert.equal(blendSentiment(0.8, [1, 0, 0], 0).label, 1);
  assert.equal(blendSentiment(0.8, [1, 0, 0], 0.5).label, 0, 'lexicon and model disagree: neutral');
  assert.equal(blendSentiment(-0.2, [1, 0, 0], 0.5).label, -1);
});

test('CSV reader: header, quotes, escaped quotes, CRLF', () => {
  const rows = parseCsv('sentiment,message\r\n1,"a, b"\r\n-1,"say ""hi"""\r\n0,plain\r\n');
  assert.deepEqual(rows, [['sentiment', 'message'], ['1', 'a, b'], ['-1', 'say "hi"'], ['0', 'plain']]);
});

test('eval:sentiment CLI prints accuracy, macro-F1 and confusion for a small CSV', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twichist-sent-'));
  try {
    const file = join(dir, 'small.csv');
    // 4 rows the analyzer gets right, 1 it gets wrong (gold 1, predicted 0)
    writeFileSync(file, 'sentiment,message\r\n1,OMEGALUL\r\n-1,"Sadge, so sad"\r\n0,"is the stream ""live""?"\r\n-1,not good\r\n1,the chair\r\n');
    const out = execFileSync(process.execPath, [join(repoRoot, 'enrich', 'eval', 'sentiment.ts'), file], { encoding: 'utf8' });
    const r = JSON.parse(out);
    assert.equal(r.n, 5);
    assert.equal(r.twichist.accuracy, 0.8);
    assert.deepEqual(r.twichist.confusion, { '-1': { '-1': 2, '0': 0, '1': 0 }, '0': { '-1': 0, '0': 1, '1': 0 }, '1': { '-1': 0, '0': 1, '1': 1 } });
    assert.ok(r.baselines.englishLexicon.accuracy >= 0 && r.baselines.emoteLexicon.accuracy >= 0);
    const table = execFileSync(process.execPath, [join(repoRoot, 'enrich', 'eval', 'sentiment.ts'), file, '--table'], { encoding: 'utf8' });
    assert.match(table, /twichist\s+accuracy 0\.8000/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dev set: held-out 30% stays above the measured floor', () => {
  const csv = readFileSync(join(repoRoot, 'test', 'fixtures', 'sentiment-dev.csv'), 'utf8');
  const all = evalSentimentCsv(csv, 'all');
  assert.ok(all.n >= 1000, 'dev set has at least 1,000 labelled rows');
  const held = evalSentimentCsv(csv, 'heldout');
  // measured 2026-11-22: accuracy 0.8232, macro-F1 0.7213 (docs/sentiment.md; 0.8232 / 0.7164 before
  // the multi-channel set and the supervised model); floors just under
  assert.ok(held.twichist.accuracy >= 0.81, `held-out accuracy ${held.twichist.accuracy}`);
  assert.ok(held.twichist.macroF1 >= 0.71, `held-out macro-F1 ${held.twichist.macroF1}`);
  // and better than both baselines on macro-F1
  assert.ok(held.twichist.macroF1 > held.baselines.englishLexicon.macroF1);
  assert.ok(held.twichist.macroF1 > held.baselines.emoteLexicon.macroF1);
});

test('polar dev set: held-out 30% stays above the measured floor', () => {
  const csv = readFileSync(join(repoRoot, 'test', 'fixtures', 'sentiment-dev-polar.csv'), 'utf8');
  const all = evalSentimentCsv(csv, 'all');
  assert.ok(all.n >= 600, 'polar dev set has at least 600 labelled rows');
  const held = evalSentimentCsv(csv, 'heldout');
  // measured 2026-11-22: accuracy 0.7128, macro-F1 0.7148 (docs/sentiment.md; 0.6718 / 0.6758 before the
  // multi-channel set's lexicon fixes and the supervised model); floors just under: the target
  // is 0.70 / 0.68
  assert.ok(held.twichist.accuracy >= 0.70, `held-out accuracy ${held.twichist.accuracy}`);
  assert.ok(held.twichist.macroF1 >= 0.70, `held-out macro-F1 ${held.twichist.macroF1}`);
  assert.ok(held.twichist.macroF1 > held.baselines.englishLexicon.macroF1 + 0.1);
  assert.ok(held.twichist.macroF1 > held.baselines.emoteLexicon.macroF1 + 0.1);
});

test('phrases: "what the fuck", "oh no", skin-tone emoji', () => {
  assert.equal(scoreSentiment('what the fuck is this').label, -1);
  assert.equal(scoreSentiment('oh no').label, -1);
  assert.equal(scoreSentiment('RaccAttack 👌🏽').label, 1);
  assert.equal(scoreSentiment('wow').label, 0, 'surprise alone is neutral');
  assert.equal(scoreSentiment('wow PogChamp').label, 1);
  assert.equal(scoreSentiment('fuck nick').label, -1, 'a curse aimed at someone');
  assert.equal(scoreSentiment('fuck yes').label >= 0, true);
  assert.ok(scoreSentiment('is it good?').score < scoreSentiment('it is good').score, 'a question is damped');
  assert.ok(scoreSentiment('so good!!!').score > scoreSentiment('so good').score);
});

test('multi-channel dev set: held-out 30% stays above the measured floor', { skip: noData }, () => {
  const csv = readFileSync(join(repoRoot, 'test', 'fixtures', 'sentiment-dev-multi.csv'), 'utf8');
  const all = evalSentimentCsv(csv, 'all');
  assert.equal(all.n, 1000);
  const held = evalSentimentCsv(csv, 'heldout');
  // measured 2026-11-22: accuracy 0.7433, macro-F1 0.7388 (0.7300 / 0.7277 before); floors just under
  assert.ok(held.twichist.accuracy >= 0.72, `held-out accuracy ${held.twichist.accuracy}`);
  assert.ok(held.twichist.macroF1 >= 0.72, `held-out macro-F1 ${held.twichist.macroF1}`);
  assert.ok(held.twichist.macroF1 > held.baselines.englishLexicon.macroF1 + 0.2);
  assert.ok(held.twichist.macroF1 > held.baselines.emoteLexicon.macroF1 + 0.1);
});

test('pointer CSV: a text that no longer matches its SHA-1 prefix is an error, not a silent relabel', { skip: noData }, () => {
  const first = readFileSync(join(repoRoot, 'test', 'fixtures', 'sentiment-dev-multi.csv'), 'utf8').split('\n').slice(0, 2);
  assert.equal(resolvePointerCsv(first.join('\n'), SHARED_DATA).length, 1);
  const bad = first[1].replace(/,[0-9a-f]{8}$/, ',00000000');
  assert.throws(() => resolvePointerCsv(`${first[0]}\n${bad}`, SHARED_DATA), /does not match sha1/);
});

test('supervised model is live: it moves scores off the lexicon and is part of ANALYZER_VERSION', () => {
  assert.ok(Object.keys(supervised.tokens).length > 100 && supervised.denseWeights.length > 0);
  assert.ok(ANALYZER_VERSION.includes(`/${supervised.version}+`), ANALYZER_VERSION);
  let moved = 0;
  for (const t of ['OMEGALUL', 'this is so bad', 'is K8 streaming after this?', 'bro ur retarded', 'Kappa']) {
    const p = lexical(t);
    if (Math.abs(combine(p) - lexiconScore(p)) > 1e-3) moved++;
  }
  assert.ok(moved >= 4, `supervised model changed ${moved} of 5 scores`);
});

test('lexicon: neutral-alone emotes, insults, copy-pasta repeats', () => {
  assert.equal(scoreSentiment('TriHard').label, 0, 'guidelines: TriHard alone is neutral');
  assert.equal(scoreSentiment('KappaPride').label, 0);
  assert.equal(scoreSentiment('HeyGuys').label, 0, 'a plain greeting is neutral');
  assert.ok(scoreSentiment('HeyGuys').score > 0);
  assert.equal(scoreSentiment('HeyGuys <3').label, 1);
  assert.equal(scoreSentiment('bro ur retarded').label, -1);
  assert.equal(scoreSentiment('xqcMood stfu').label, -1);
  assert.equal(scoreSentiment('beans are ass ngl').label, -1);
  assert.equal(scoreSentiment('kick ass').label >= 0, true, '"ass" alone is not a verdict');
  // a repeated emote counts once plus 25% per repeat, adjacent or not
  const once = lexical('KEKW').emote;
  assert.ok(Math.abs(lexical('KEKW food KEKW food KEKW').emote - once * 1.5) < 1e-9);
  assert.ok(Math.abs(lexical('KEKW KEKW KEKW').emote - once * 1.5) < 1e-9);
});

test('training scripts reproduce the committed JSON byte for byte (--check)', { skip: noData }, () => {
  // exit code 1 (an exception here) when emote-lexicon.json / sentiment-model.json / sentiment-supervised.json
  // are not what the scripts build from the committed inputs
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'train-sentiment.ts'), '--check'], { stdio: 'pipe' });
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'train-sentiment-supervised.ts'), '--check'], { stdio: 'pipe' });
});
