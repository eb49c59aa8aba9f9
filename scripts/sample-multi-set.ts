/**
 * Draws the candidates for the third sentiment dev set, multi-channel and emote-heavy
 * (test/fixtures/sentiment-dev-multi.csv): 1,000 messages from the 8 channels of the unlicensed logs in
 * ../shared/data (xqc 2023, arypie 2021-2025, and the 2016 Chatty logs of riotgames, hsdogdog, reckful,
 * cheflethalplays, neviilz, tidesoftime), a fixed quota per channel. The texts may not be committed, so
 * the fixture stores `source,index,sha1` pointers (enrich/eval/chat-sources.ts resolves them).
 *
 * Selection is the polar set's (scripts/sample-polar-set.ts), made without the Twichist lexicon scores:
 * a 2017 Twitch global emote name, a name from the 7TV set `7tv-emote-set-nymn.json`, a channel-emote
 * shaped token (`<lowercase prefix><Capital>...`), an emoticon, an AFINN-165 word with |score| >= 2, or
 * one of a short list of chat sentiment words. Bots, `!commands`, links and texts already drawn are
 * excluded; fixed-seed shuffles, so rerunning gives the same list.
 *
 *   node scripts/sample-multi-set.ts > candidates.tsv      # source<TAB>index<TAB>sha1<TAB>text
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../core/rng.ts';
import { AFINN } from '../enrich/analysis/lexicon.ts';
import { channelEmoteSuffix } from '../enrich/analysis/tokens.ts';
import { cleanText, listSources, readSourceMessages, sourceChannel, textTag } from '../enrich/eval/chat-sources.ts';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data');
if (!existsSync(data)) {
  console.error(`no ${data}: the candidates come from ../shared/data`);
  process.exit(1);
}
const QUOTA: Record<string, number> = { xqc: 250, arypie: 250, riotgames: 150, hsdogdog: 100, reckful: 70, cheflethalplays: 70, neviilz: 55, tidesoftime: 55 };
const BOTS = new Set(['nightbot', 'moobot', 'revlobot', 'streamelements', 'streamlabs', 'fossabot', 'wizebot', 'deepbot', 'ohbot', 'xanbot', 'vivbot', 'scootycoolguy', 'supibot', 'potatbotat']);
const globals = new Set(readFileSync(join(data, 'emotes', 'globalemotes.txt'), 'utf8').split(/\s+/).filter(Boolean));
const stv = new Set<string>((JSON.parse(readFileSync(join(data, 'emotes', '7tv-emote-set-nymn.json'), 'utf8')).emote_set.emotes as { name: string }[]).map((e) => e.name).filter((n) => n.length >= 3 && /[A-Z]/.test(n)));
const EMOTICONS = new Set([':)', ':(', '<3', 'D:', 'xD', 'XD', ':D', ';)', ':P', ':p', ':o', ':O', ':/']);
const WORDS = new Set(['lol', 'lmao', 'lmfao', 'rofl', 'haha', 'hahaha', 'gg', 'ggwp', 'pog', 'poggers', 'rip', 'wtf', 'ez', 'hype', 'omg', 'ew', 'yikes', 'boring', 'trash', 'cringe', 'kek', 'ty', 'thanks']);

function polar(text: string): boolean {
  for (const raw of text.split(' ')) {
    if (globals.has(raw) || stv.has(raw) || EMOTICONS.has(raw) || channelEmoteSuffix(raw) !== '') return true;
    const w = raw.toLowerCase().replace(/[^a-z']/g, '');
    if (WORDS.has(w) || Math.abs(AFINN.get(w) ?? 0) >= 0.4 /* AFINN ±2 of 5 */) return true;
  }
  return false;
}

const seen = new Set<string>();
const pools = new Map<string, { source: string; index: number; text: string }[]>();
for (const source of listSources(data)) {
  const ch = sourceChannel(source);
  if (!(ch in QUOTA)) continue;
  let pool = pools.get(ch);
  if (!pool) pools.set(ch, (pool = []));
  readSourceMessages(data, source).forEach((m, index) => {
    const text = cleanText(m.text);
    if (!text || text.startsWith('!') || BOTS.has(m.user.toLowerCase()) || /https?:\/\/|www\./i.test(text) || seen.has(text)) return;
    seen.add(text);
    if (polar(text)) pool.push({ source, index, text });
  });
}
const rnd = mulberry32(20261122);
const shuffle = <T,>(a: T[]): T[] => { for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; } return a; };
const out: { source: string; index: number; text: string }[] = [];
for (const ch of Object.keys(QUOTA)) {
  const pool = pools.get(ch) ?? [];
  console.error(`${ch}: pool ${pool.length}, take ${Math.min(QUOTA[ch], pool.length)}`);
  out.push(...shuffle(pool).slice(0, QUOTA[ch]));
}
// one more shuffle so every channel is spread over the tuning and held-out parts
for (const r of shuffle(out)) process.stdout.write(`${r.source}\t${r.index}\t${textTag(r.text)}\t${r.text.replace(/\t/g, ' ')}\n`);
