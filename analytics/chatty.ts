/**
 * Loader for evaluation and tests: Chatty client logs -> `messages` / `mod_actions`. The ingest
 * importer is the product path; this one exists so the analytics evaluation (hype-eval.ts) and tests
 * need nothing but the raw tables. Emotes are a whitespace match against a small list (Twitch globals of
 * 2016 plus the BTTV names riotgames chat used), which is what `emote_names` holds for these logs.
 *
 * Lines are read by the importer's `ChattyLineReader` (times in UTC, as a live ingest would have stored them;
 * /me lines are messages; a BAN entry with a duration is a timeout, without one a ban).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { ChattyLineReader } from '../ingest/importers/chatty.ts';

export const SHARED_DATA = path.resolve(import.meta.dirname, '../../shared/data');
export const CHATTY_DIR = path.join(SHARED_DATA, 'chatty');
export const RIOT_LOG = path.join(CHATTY_DIR, 'riotgames', 'riotgames1.log');

/** `skip` option for node:test: a reason string when the shared logs are absent (a user's clone). */
export function sharedDataSkip(file = RIOT_LOG): string | false {
  return existsSync(file) ? false : `skipped: ${file} is absent (real chat logs live in ../shared/data; CI has them)`;
}

export const EMOTES = new Set([
  'Kappa', 'PogChamp', 'Kreygasm', '4Head', 'BibleThump', 'LUL', 'ResidentSleeper', 'WutFace', 'DansGame',
  'SwiftRage', 'FailFish', 'NotLikeThis', 'SMOrc', 'BabyRage', 'EleGiggle', 'FeelsBadMan', 'FeelsGoodMan',
  'Jebaited', 'MingLee', 'KappaPride', 'CoolCat', 'OpieOP', 'TriHard', 'cmonBruh', 'VoHiYo', 'HeyGuys',
  'SeemsGood', 'KappaRoss', 'Keepo', 'PJSalt', 'BrokeBack', 'DatSheffy', 'OSfrog', 'haHAA', 'gachiGASM',
]);

export interface ChatRow { id: string; channel: string; ts: string; received_at: string; source: string; login: string; text: string; emote_names: string[] }
export interface ModRow { id: string; channel: string; ts: string; received_at: string; source: string; action: 'ban' | 'timeout'; target_login: string }

/** ClickHouse DateTime64(3) text from epoch ms. */
export const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
export const emotesOf = (text: string) => text.split(/\s+/).filter((t) => EMOTES.has(t));

/** Parses one Chatty log into message and moderation rows (UTC timestamps), with the importer's line reader. */
export function parseChattyLog(content: string, channel: string): { messages: ChatRow[]; mods: ModRow[] } {
  if (!/^\uFEFF?# Log started: /.test(content)) throw new Error(`not a Chatty log (no "# Log started" header) for ${channel}`);
  const reader = new ChattyLineReader();
  const messages: ChatRow[] = [];
  const mods: ModRow[] = [];
  for (const line of content.split(/\r?\n/)) {
    const r = reader.read(line);
    if (r.type === 'message') {
      const ts = chTime(r.ts);
      messages.push({ id: `${channel}-m${messages.length}`, channel, ts, received_at: ts, source: 'chatty', login: r.login, text: r.text, emote_names: emotesOf(r.text) });
    } else if (r.type === 'bans') {
      const ts = chTime(r.ts);
      for (const b of r.entries) mods.push({ id: `${channel}-b${mods.length}`, channel, ts, received_at: ts, source: 'chatty', action: b.duration === null ? 'ban' : 'timeout', target_login: b.login });
    }
  }
  return { messages, mods };
}

export function readChattyLog(file: string, channel = path.basename(path.dirname(file))): { messages: ChatRow[]; mods: ModRow[] } {
  return parseChattyLog(readFileSync(file, 'utf8'), channel);
}

export async function insertRows(client: ClickHouseClient, messages: object[], mods: object[] = []): Promise<void> {
  const settings = { insert_deduplication_token: '', async_insert: 0 } as const;
  for (let i = 0; i < messages.length; i += 50_000) {
    await client.insert({ table: 'messages', values: messages.slice(i, i + 50_000), format: 'JSONEachRow', clickhouse_settings: settings });
  }
  if (mods.length > 0) await client.insert({ table: 'mod_actions', values: mods, format: 'JSONEachRow', clickhouse_settings: settings });
}

