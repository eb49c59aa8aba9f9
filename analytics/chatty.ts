/**
 * Loader for evaluation and tests: Chatty client logs -> `messages` / `mod_actions`. The ingest
 * importer is the product path; this one exists so the analytics evaluation (hype-eval.ts) and tests
 * need nothing but the raw tables. Emotes are a whitespace match against a small list (Twitch globals of
 * 2016 plus the BTTV names riotgames chat used), which is what `emote_names` holds for these logs.
 *
 * Chatty format: `# Log started: 2016-09-30 09:39:38 +0800` (UTF-8 BOM, CRLF), `[HH:MM:SS] <user> text`,
 * `[HH:MM:SS] BAN: a (600s), b` (timeout with a duration, ban without). Clock times are UTC+8 and roll
 * over midnight; we convert to UTC so windows line up with what a live ingest would have stored.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '../core/clickhouse.ts';

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

const BADGES = '~&@%+$!^*';
const cleanLogin = (u: string) => { let i = 0; while (i < u.length - 1 && BADGES.includes(u[i])) i++; return u.slice(i).toLowerCase(); };
/** ClickHouse DateTime64(3) text from epoch ms. */
export const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
export const emotesOf = (text: string) => text.split(/\s+/).filter((t) => EMOTES.has(t));

/** Parses one Chatty log into message and moderation rows (UTC timestamps). */
export function parseChattyLog(content: string, channel: string): { messages: ChatRow[]; mods: ModRow[] } {
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  const head = /^# Log started: (\d{4})-(\d\d)-(\d\d) \S+ ([+-])(\d\d)(\d\d)/.exec(lines[0] ?? '');
  if (!head) throw new Error(`not a Chatty log (no "# Log started" header) for ${channel}`);
  const offsetMs = (head[4] === '-' ? -1 : 1) * (+head[5] * 60 + +head[6]) * 60_000;
  let dayMs = Date.UTC(+head[1], +head[2] - 1, +head[3]) - offsetMs;
  let lastSec = -1;
  const messages: ChatRow[] = [];
  const mods: ModRow[] = [];
  for (const line of lines) {
    const m = /^\[(\d\d):(\d\d):(\d\d)\] (.*)$/.exec(line);
    if (!m) continue;
    const sec = +m[1] * 3600 + +m[2] * 60 + +m[3];
    // The clock went back by more than an hour: midnight passed.
    if (lastSec >= 0 && sec < lastSec - 3600) dayMs += 86_400_000;
    lastSec = sec;
    const ts = chTime(dayMs + sec * 1000);
    const rest = m[4];
    const msg = /^<([^>]+)> (.*)$/.exec(rest);
    if (msg) {
      const text = msg[2];
      messages.push({ id: `${channel}-m${messages.length}`, channel, ts, received_at: ts, source: 'chatty', login: cleanLogin(msg[1]), text, emote_names: emotesOf(text) });
    } else if (rest.startsWith('BAN: ')) {
      for (const part of rest.slice(5).split(', ')) {
        const b = /^(\S+)(?: \((\d+)s\))?/.exec(part.trim());
        if (!b) continue;
        mods.push({ id: `${channel}-b${mods.length}`, channel, ts, received_at: ts, source: 'chatty', action: b[2] ? 'timeout' : 'ban', target_login: cleanLogin(b[1]) });
      }
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

