/**
 * Chat texts of the unlicensed multi-channel logs in ../shared/data (Chatty logs, arypie GQL VODs, the
 * xqc raw IRC), addressed by `source` (path under the data folder) and message ordinal. The training
 * script reads them as an unlabelled corpus; the multi-channel dev set (test/fixtures/
 * sentiment-dev-multi.csv) stores only `source,index,sha1-prefix` pointers into them, because these
 * logs may not be committed: the texts are resolved here at eval time.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readChatty } from './chatty.ts';
import { parseCsv } from './csv.ts';
import type { LabelledRow } from './csv.ts';

/** Sources in a fixed order: every Chatty log, the arypie VODs, the xqc IRC capture. */
export function listSources(data: string): string[] {
  const out: string[] = [];
  const chattyDir = join(data, 'chatty');
  for (const ch of readdirSync(chattyDir).sort()) for (const f of readdirSync(join(chattyDir, ch)).sort()) out.push(`chatty/${ch}/${f}`);
  const ary = join(data, 'vod-json', 'gql-verbose', 'arypie');
  for (const d of readdirSync(ary).sort()) if (existsSync(join(ary, d, 'verbose_chat.json.gz'))) out.push(`vod-json/gql-verbose/arypie/${d}/verbose_chat.json.gz`);
  out.push('irc/xqc-2023-04-01.raw.irc');
  return out;
}

/** Channel a source belongs to ("riotgames", "arypie", "xqc"). */
export function sourceChannel(source: string): string {
  if (source.startsWith('chatty/')) return source.split('/')[1];
  if (source.includes('/arypie/')) return 'arypie';
  return 'xqc';
}

export interface SourceMessage { user: string; text: string }

/** Chat messages of one source in file order (the ordinal is the pointer's `index`), text as written. */
export function readSourceMessages(data: string, source: string): SourceMessage[] {
  const path = join(data, source);
  const out: SourceMessage[] = [];
  if (source.startsWith('chatty/')) {
    // /me lines are left out: the dev set's pointers and the sentiment corpus were built without them (the Chatty
    // reader before 2026-11-23 skipped them), and /me text is mostly not chat sentiment (bots, colour spam)
    for (const e of readChatty(path)) if (e.kind === 'msg' && !e.action) out.push({ user: e.user, text: e.text });
    return out;
  }
  if (source.endsWith('.json.gz')) {
    for (const c of JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'))) {
      const t = (c?.message?.fragments ?? []).map((x: { text: string }) => x.text).join('');
      if (t) out.push({ user: String(c?.commenter?.login ?? ''), text: t });
    }
    return out;
  }
  for (const line of readFileSync(path, 'utf8').split('\r\n')) {
    const i = line.indexOf(' PRIVMSG #');
    if (i < 0) continue;
    const j = line.indexOf(' :', i);
    if (j < 0) continue;
    const bang = line.lastIndexOf('!', i);
    const colon = line.lastIndexOf(' :', bang);
    out.push({ user: line.slice(colon + 2, bang), text: line.slice(j + 2).replace(/^\u0001ACTION |\u0001$/g, '') });
  }
  return out;
}

/** 8 hex characters of the text's SHA-1: proves a pointer still resolves to the text that was labelled. */
export function textTag(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 8);
}

/**
 * Resolves a pointer CSV (`sentiment,source,index,sha1`) to labelled rows, in file order. Throws when a
 * pointer's text no longer has its recorded hash (the data folder changed under the labels).
 */
export function resolvePointerCsv(content: string, data: string): LabelledRow[] {
  const rows = parseCsv(content);
  const h = rows.shift()?.map((x) => x.trim().toLowerCase()) ?? [];
  const si = h.indexOf('sentiment'), so = h.indexOf('source'), ii = h.indexOf('index'), hi = h.indexOf('sha1');
  if (si < 0 || so < 0 || ii < 0 || hi < 0) throw new Error('pointer CSV needs sentiment,source,index,sha1 columns');
  const cache = new Map<string, SourceMessage[]>();
  return rows.map((r, n) => {
    let msgs = cache.get(r[so]);
    if (!msgs) cache.set(r[so], (msgs = readSourceMessages(data, r[so])));
    const text = msgs[Number(r[ii])]?.text;
    if (text === undefined || textTag(cleanText(text)) !== r[hi]) throw new Error(`row ${n + 1}: ${r[so]}#${r[ii]} does not match sha1 ${r[hi]}`);
    const v = Number(r[si]);
    if (v !== -1 && v !== 0 && v !== 1) throw new Error(`row ${n + 1}: label ${r[si]}`);
    return { sentiment: v, message: cleanText(text) };
  });
}

/** Whitespace runs as one space, trimmed: the text as labelled and scored. */
export function cleanText(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** True when the CSV text's header is a pointer header (has `source` and `index`). */
export function isPointerCsv(content: string): boolean {
  const first = content.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0].toLowerCase();
  return first.includes('source') && first.includes('index');
}
