/**
 * Draws the candidates for the second, polar/emote-heavy sentiment dev set
 * (test/fixtures/sentiment-dev-polar.csv) from the MIT NLSS_Project v5 rechat VODs in ../shared/data.
 *
 * A message is a candidate when it contains at least one emote or a clear sentiment word, decided
 * without the Twichist emote lexicon (so the set does not favour what our lexicon already knows):
 * - an emote fragment in the comment JSON (Twitch marked it as an emote: global or channel emote), or
 *   a token that is a 2017 Twitch global emote name (`emotes/globalemotes.txt`), or a common
 *   emoticon (`:)`, `:(`, `<3`, `D:`, `xD`, `:D`, `;)`, `:P`);
 * - or an AFINN-165 word with |score| >= 2 (lower-cased, punctuation stripped), or one of a short
 *   list of Twitch sentiment words (lol, lmao, gg, pog, rip, wtf, ...).
 * Messages already in test/fixtures/sentiment-dev.csv, bot messages and `!commands` are excluded;
 * each distinct text once. Fixed-seed shuffle: rerunning gives the same list.
 *
 *   node scripts/sample-polar-set.ts [count] > candidates.txt
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../core/rng.ts';
import { rechatComments } from './rechat.ts';
import { readLabelledCsv } from '../enrich/eval/csv.ts';
import { AFINN } from '../enrich/analysis/lexicon.ts';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data');
if (!existsSync(data)) {
  console.error(`no ${data}: the candidates come from ../shared/data`);
  process.exit(1);
}
const count = Number(process.argv[2] ?? 650);
const globals = new Set(readFileSync(join(data, 'emotes', 'globalemotes.txt'), 'utf8').split(/\s+/).filter(Boolean));
const EMOTICONS = new Set([':)', ':(', '<3', 'D:', 'xD', 'XD', ':D', ';)', ':P', ':p', ':o', ':O', ':/']);
const WORDS = new Set(['lol', 'lmao', 'lmfao', 'rofl', 'haha', 'hahaha', 'gg', 'ggwp', 'pog', 'poggers', 'rip', 'wtf', 'ez', 'hype', 'omg', 'ew', 'yikes', 'boring', 'trash', 'cringe', 'kek', 'ty', 'thanks']);
const devTexts = new Set(readLabelledCsv(readFileSync(join(repoRoot, 'test', 'fixtures', 'sentiment-dev.csv'), 'utf8')).rows.map((r) => r.message));

function polar(text: string, fragments: { emoticon?: unknown }[]): boolean {
  if (fragments.some((f) => f.emoticon)) return true;
  for (const raw of text.split(' ')) {
    if (globals.has(raw) || EMOTICONS.has(raw)) return true;
    const w = raw.toLowerCase().replace(/[^a-z']/g, '');
    if (WORDS.has(w) || Math.abs(AFINN.get(w) ?? 0) >= 0.4 /* AFINN ±2 of 5 */) return true;
  }
  return false;
}

const seen = new Set<string>();
const pool: string[] = [];
for (const c of rechatComments(data)) {
  const t = c.text;
  if (!t || t.startsWith('!') || seen.has(t) || devTexts.has(t)) continue;
  seen.add(t);
  if (polar(t, c.fragments)) pool.push(t);
}
const rnd = mulberry32(20261121);
for (let i = pool.length - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  [pool[i], pool[j]] = [pool[j], pool[i]];
}
const out = pool.slice(0, count);
process.stdout.write(out.join('\n') + '\n');
console.error(`polar pool ${pool.length}, wrote ${out.length}`);
