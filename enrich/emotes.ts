/**
 * Emote tokens per message: native Twitch emotes from the event's positions, third-party emotes
 * (7TV, BTTV, FFZ; global and per-channel sets) by name. Sets come from offline files
 * (`TWICHIST_EMOTE_FILES`), from a disk cache, and, when online, from the providers' public APIs,
 * fetched in the background with a timeout so start-up never waits on the internet.
 *
 * Tokenizing costs one `split(' ')` and a Map lookup per word; code points are only counted when the
 * text has surrogate pairs (emoji), because Twitch's offsets are in code points, not UTF-16 units.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmotePosition } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
// The parser's code-point counter (Twitch emote offsets are code points there too).
import { makeDirs } from '../core/dirs.ts';
import { codePointLength } from '../ingest/irc-parser.ts';

export type EmoteProvider = 'twitch' | '7tv' | 'bttv' | 'ffz';

export interface EmoteDef {
  id: string;
  name: string;
  provider: EmoteProvider;
  /** Drawn over the emote before it (7TV zero-width flag, BTTV/FFZ modifiers). */
  zeroWidth: boolean;
}

/** Emotes found in one message, aligned arrays in text order (the `messages.emote_*` columns). */
export interface EmoteTokens {
  names: string[];
  ids: string[];
  providers: string[];
  /**
   * For each emote, the index of the emote it is drawn over, or -1. A zero-width emote right after an
   * emote attaches to it (stored as its own entry right after its base, so both count as uses);
   * one with no emote before it stands alone.
   */
  attachedTo: number[];
}

/** One parsed set: `channel` null for a global set. */
export interface EmoteSet {
  channel: string | null;
  provider: EmoteProvider;
  emotes: EmoteDef[];
}

/** BTTV's global modifiers, which its API marks only by convention (Chatterino keeps the same list). */
const BTTV_ZERO_WIDTH = new Set(['SoSnowy', 'IceCold', 'SantaHat', 'TopHat', 'ReinDeer', 'CandyCane', 'cvMask', 'cvHazmat']);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);

function sevenTvEmotes(set: Json): EmoteDef[] {
  const out: EmoteDef[] = [];
  for (const e of Array.isArray(set.emotes) ? set.emotes : []) {
    if (!isObj(e)) continue;
    const id = str(e.id);
    const name = str(e.name);
    if (!id || !name) continue;
    const data = isObj(e.data) ? e.data : {};
    // Active-emote flag bit 0 is ZERO_WIDTH; the emote's own flag 1<<8 is "zero-width recommended".
    const zeroWidth = ((Number(e.flags) || 0) & 1) === 1 || ((Number(data.flags) || 0) & 256) === 256;
    out.push({ id, name, provider: '7tv', zeroWidth });
  }
  return out;
}

function bttvEmotes(list: unknown): EmoteDef[] {
  const out: EmoteDef[] = [];
  for (const e of Array.isArray(list) ? list : []) {
    if (!isObj(e)) continue;
    const id = str(e.id);
    const name = str(e.code);
    if (!id || !name) continue;
    out.push({ id, name, provider: 'bttv', zeroWidth: e.modifier === true || BTTV_ZERO_WIDTH.has(name) });
  }
  return out;
}

function ffzEmotes(sets: unknown): EmoteDef[] {
  const out: EmoteDef[] = [];
  if (!isObj(sets)) return out;
  for (const set of Object.values(sets)) {
    if (!isObj(set) || !Array.isArray(set.emoticons)) continue;
    for (const e of set.emoticons) {
      if (!isObj(e)) continue;
      const id = str(e.id);
      const name = str(e.name);
      if (!id || !name) continue;
      out.push({ id, name, provider: 'ffz', zeroWidth: e.modifier === true });
    }
  }
  return out;
}

/**
 * Recognises the JSON shapes of the providers' APIs: 7TV user (`/v3/users/twitch/:id`, channel from
 * `username`) and emote set (`/v3/emote-sets/:id`, global), BTTV global (array) and user
 * (`channelEmotes`/`sharedEmotes`), FFZ room (`room.id` is the login) and global (`default_sets`),
 * and Twitch globals as `{ name: { id } }`. Returns null for anything else.
 * @param channelHint channel for shapes that do not name one (BTTV user, cached files).
 */
export function parseEmoteJson(json: unknown, channelHint: string | null = null): EmoteSet | null {
  if (Array.isArray(json)) return { channel: channelHint, provider: 'bttv', emotes: bttvEmotes(json) };
  if (!isObj(json)) return null;
  if (isObj(json.emote_set)) {
    const username = str(json.username);
    return { channel: username ? username.toLowerCase() : channelHint, provider: '7tv', emotes: sevenTvEmotes(json.emote_set) };
  }
  if (Array.isArray(json.emotes) && ('capacity' in json || 'owner' in json || 'flags' in json || 'immutable' in json)) {
    return { channel: channelHint, provider: '7tv', emotes: sevenTvEmotes(json) };
  }
  if (Array.isArray(json.channelEmotes) || Array.isArray(json.sharedEmotes)) {
    return { channel: channelHint, provider: 'bttv', emotes: [...bttvEmotes(json.channelEmotes), ...bttvEmotes(json.sharedEmotes)] };
  }
  if (isObj(json.sets)) {
    const room = isObj(json.room) ? json.room : null;
    const login = room ? str(room.id) : null;
    return { channel: login && /^[a-z0-9_]+$/i.test(login) ? login.toLowerCase() : channelHint, provider: 'ffz', emotes: ffzEmotes(json.sets) };
  }
  // Twitch globals: name -> { id, code }.
  const entries = Object.entries(json);
  if (entries.length > 0 && entries.every(([, v]) => isObj(v) && 'id' in v)) {
    return { channel: channelHint, provider: 'twitch', emotes: entries.map(([name, v]) => ({ id: String((v as Json).id), name, provider: 'twitch' as const, zeroWidth: false })) };
  }
  return null;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Name lookups for global and per-channel sets; per-channel names shadow global ones. */
export class EmoteIndex {
  private readonly global = new Map<string, EmoteDef>();
  private readonly channels = new Map<string, Map<string, EmoteDef>>();

  /** Adds (or replaces, per provider) a set. */
  addSet(set: EmoteSet): void {
    let target = this.global;
    if (set.channel !== null) {
      target = this.channels.get(set.channel) ?? new Map();
      this.channels.set(set.channel, target);
    }
    for (const [name, def] of target) if (def.provider === set.provider) target.delete(name);
    for (const e of set.emotes) target.set(e.name, e);
  }

  get size(): number {
    let n = this.global.size;
    for (const m of this.channels.values()) n += m.size;
    return n;
  }

  lookup(channel: string, name: string): EmoteDef | undefined {
    return this.channels.get(channel)?.get(name) ?? this.global.get(name);
  }

  /** Emotes of one message, in text order. */
  tokens(channel: string, text: string, positions: readonly EmotePosition[]): EmoteTokens {
    const out: EmoteTokens = { names: [], ids: [], providers: [], attachedTo: [] };
    const chan = this.channels.get(channel);
    if (text.length === 0 || (positions.length === 0 && this.global.size === 0 && !chan)) return out;
    let native: Map<number, EmotePosition> | null = null;
    if (positions.length > 0) {
      native = new Map();
      for (const p of positions) native.set(p.start, p);
    }
    const hasSurrogates = SURROGATE.test(text);
    const words = text.split(' ');
    let cp = 0; // code-point offset of the current word
    let prevWasEmote = false;
    for (const w of words) {
      const len = hasSurrogates ? codePointLength(w) : w.length;
      if (len > 0) {
        const pos = native?.get(cp);
        let def: EmoteDef | undefined;
        if (pos) {
          // Twitch ranges normally cover the whole word; if not, the range (in code points) wins.
          const name = pos.end - pos.start + 1 === len ? w : hasSurrogates ? Array.from(text).slice(pos.start, pos.end + 1).join('') : text.slice(pos.start, pos.end + 1);
          def = { id: pos.id, name, provider: 'twitch', zeroWidth: false };
        } else {
          def = chan?.get(w) ?? this.global.get(w);
        }
        if (def) {
          out.attachedTo.push(def.zeroWidth && prevWasEmote ? lastBase(out) : -1);
          out.names.push(def.name);
          out.ids.push(def.id);
          out.providers.push(def.provider);
          prevWasEmote = true;
        } else {
          prevWasEmote = false;
        }
      }
      cp += len + 1;
    }
    return out;
  }
}

/** The emote a new zero-width one is drawn over: the previous base (zero-width emotes stack on it). */
function lastBase(t: EmoteTokens): number {
  const i = t.names.length - 1;
  return t.attachedTo[i] === -1 ? i : t.attachedTo[i];
}

export interface EmoteSourceOptions {
  /** Offline JSON files (7TV, BTTV, FFZ API shapes, Twitch globals). */
  files: string[];
  /** Where fetched sets are cached (`config.emotes.cacheDir`); read at start, so a restart offline keeps them. */
  cacheDir: string;
  /** Fetch from the providers' APIs (`config.models.online`). */
  online: boolean;
  logger: Logger;
  /** Per-request timeout. Default 5 s. */
  fetchTimeoutMs?: number;
  /** How often sets are fetched again. Default 1 h. */
  refreshMs?: number;
  /** Injected in tests; default global fetch. */
  fetch?: typeof fetch;
  /** Load the bundled Twitch global emotes (enrich/emote-sets/, MIT). Default true. */
  bundled?: boolean;
}

const BUNDLED_TWITCH_GLOBALS = fileURLToPath(new URL('./emote-sets/twitch-global-2017.json', import.meta.url));

export interface EmoteSource {
  readonly index: EmoteIndex;
  /** Tells the source a channel exists (its Twitch id enables per-channel fetches). Cheap after the first call. */
  noteChannel(channel: string, channelId: string | null): void;
  close(): void;
}

interface CacheFile {
  channel: string | null;
  provider: EmoteProvider;
  fetchedAt: number;
  body: unknown;
}

/**
 * Loads offline files and the disk cache synchronously (a few MB at most), then, when online, fetches
 * global sets and each channel's sets in the background and refreshes them every `refreshMs`.
 */
export function createEmoteSource(opts: EmoteSourceOptions): EmoteSource {
  const index = new EmoteIndex();
  const log = opts.logger;
  const load = (file: string, hint: string | null) => {
    try {
      const json = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as unknown;
      const cached = isObj(json) && 'fetchedAt' in json && 'body' in json ? (json as unknown as CacheFile) : null;
      const set = cached ? parseEmoteJson(cached.body, cached.channel) : parseEmoteJson(json, hint);
      if (!set) {
        log.warn({ file }, 'emote file not recognised (expected a 7TV, BTTV or FFZ API response or Twitch globals)');
        return;
      }
      index.addSet(set);
    } catch (err) {
      log.warn({ file, err: (err as Error).message }, 'emote file unreadable; skipped');
    }
  };
  // Bundled Twitch globals first (lowest priority): text-only imports get emote tokens too.
  if (opts.bundled ?? true) load(BUNDLED_TWITCH_GLOBALS, null);
  try {
    for (const f of fs.readdirSync(opts.cacheDir)) if (f.endsWith('.json')) load(path.join(opts.cacheDir, f), null);
  } catch {
    // no cache yet
  }
  // Offline files last: an operator's file wins over a stale cache of the same set.
  for (const f of opts.files) load(f, null);

  const known = new Map<string, string | null>();
  const timers: NodeJS.Timeout[] = [];
  let closed = false;
  const doFetch = opts.fetch ?? fetch;
  const fetchSet = async (url: string, channel: string | null, provider: EmoteProvider) => {
    try {
      const res = await doFetch(url, { signal: AbortSignal.timeout(opts.fetchTimeoutMs ?? 5000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as unknown;
      const set = parseEmoteJson(body, channel);
      if (!set || closed) return;
      index.addSet({ ...set, channel, provider });
      makeDirs(opts.cacheDir);
      const file = path.join(opts.cacheDir, `${provider}-${channel ?? 'global'}.json`);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify({ channel, provider, fetchedAt: Date.now(), body } satisfies CacheFile));
      fs.renameSync(`${file}.tmp`, file);
    } catch (err) {
      log.debug({ url, err: (err as Error).message }, 'emote set fetch failed; keeping what is cached');
    }
  };
  const fetchGlobal = () =>
    Promise.all([
      fetchSet('https://7tv.io/v3/emote-sets/global', null, '7tv'),
      fetchSet('https://api.betterttv.net/3/cached/emotes/global', null, 'bttv'),
      fetchSet('https://api.frankerfacez.com/v1/set/global', null, 'ffz'),
    ]);
  const fetchChannel = (channel: string, id: string) =>
    Promise.all([
      fetchSet(`https://7tv.io/v3/users/twitch/${encodeURIComponent(id)}`, channel, '7tv'),
      fetchSet(`https://api.betterttv.net/3/cached/users/twitch/${encodeURIComponent(id)}`, channel, 'bttv'),
      fetchSet(`https://api.frankerfacez.com/v1/room/id/${encodeURIComponent(id)}`, channel, 'ffz'),
    ]);
  if (opts.online) {
    void fetchGlobal();
    const t = setInterval(() => {
      void fetchGlobal();
      for (const [c, id] of known) if (id) void fetchChannel(c, id);
    }, opts.refreshMs ?? 3_600_000);
    t.unref();
    timers.push(t);
  }
  return {
    index,
    noteChannel(channel, channelId) {
      if (known.has(channel) && (known.get(channel) !== null || channelId === null)) return;
      known.set(channel, channelId);
      if (opts.online && channelId) void fetchChannel(channel, channelId);
    },
    close() {
      closed = true;
      for (const t of timers) clearInterval(t);
    },
  };
}
