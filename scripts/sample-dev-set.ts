/**
 * Draws the candidate messages for the hand-labelled sentiment dev set
 * (test/fixtures/sentiment-dev.csv) from the MIT-licensed chat in ../shared/data:
 * NLSS_Project v5 rechat comment bodies and Chatterino snapshot PRIVMSG lines.
 *
 * Deterministic: a fixed-seed shuffle, so rerunning gives the same candidates.
 * Prints one message per line (newlines/tabs flattened) to stdout; labels are added by hand.
 *
 *   node scripts/sample-dev-set.ts [count] > candidates.txt
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../core/rng.ts';
import { cleanChat, rechatComments } from './rechat.ts';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data');
if (!existsSync(data)) {
  console.error(`no ${data}: the dev-set candidates come from ../shared/data`);
  process.exit(1);
}
const count = Number(process.argv[2] ?? 1100);
const seen = new Set<string>();
const chatterino: string[] = [];
const rechat: string[] = [];

const snapDir = join(data, 'irc', 'chatterino2-snapshots');
for (const sub of readdirSync(snapDir).sort()) {
  for (const f of readdirSync(join(snapDir, sub)).sort()) {
    const input: string = JSON.parse(readFileSync(join(snapDir, sub, f), 'utf8')).input ?? '';
    const m = / PRIVMSG #\S+ :(.*)$/.exec(input);
    if (!m) continue;
    const t = cleanChat(m[1]);
    if (t && !seen.has(t)) { seen.add(t); chatterino.push(t); }
  }
}
for (const c of rechatComments(data)) {
  const t = c.text;
  if (!t || t.startsWith('!') || seen.has(t)) continue;
  seen.add(t);
  rechat.push(t);
}
const rnd = mulberry32(20261120);
for (let i = rechat.length - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  [rechat[i], rechat[j]] = [rechat[j], rechat[i]];
}
const out = [...rechat.slice(0, Math.max(0, count - chatterino.length)), ...chatterino];
process.stdout.write(out.join('\n') + '\n');
console.error(`chatterino ${chatterino.length}, rechat pool ${rechat.length}, wrote ${out.length}`);
