/**
 * What an opt-out removes from events of *other* users that name the opted-out user, shared by the
 * API's opt-out (api/privacy.ts, which blanks stored rows with the same keys) and enrich (which blanks
 * events stored later, enrich/index.ts), so both blank the same fields.
 *
 * Another user's event stays (their gift, their reply, the moderators' deletion); what goes is the
 * opted-out user's identity and words in it:
 * - a reply to the user: the parent's text, login, display name and id (`reply_parent_*`; the parent
 *   message id stays, an opaque id of a message that is deleted);
 * - a thread whose root the user wrote: `reply_thread_parent_login` and the unmodelled
 *   `reply-thread-parent-*` tags Twitch sends next to it;
 * - a notice naming the user as another party (the recipient of a gift sub, the gifter a continued gift
 *   came from, the prior gifter of a paid-forward gift): those `msg-param-*` keys, and `system_msg`,
 *   Twitch's sentence that spells the names out;
 * - a CLEARMSG of the user's message: its text (the action stays, as the opt-out does for stored ones).
 * Mentions inside other users' own text ("@user") are not touched.
 */
import type { ChatEvent } from './events.ts';

/**
 * How often ingest and enrich re-read `opt_outs`. An event consumed in that interval after an opt-out
 * is still stored, which is why the opt-out waits {@link OPT_OUT_SETTLE_MS} before deleting.
 */
export const OPT_OUT_REFRESH_MS = 5000;
/**
 * How long the opt-out waits after writing `opt_outs` before it reads and deletes: one refresh of the
 * list plus 1 s for a batch enrich consumed just before its refresh (flushed every 250 ms by default,
 * then inserted). An insert slower than that can still store a message of the user after the delete.
 */
export const OPT_OUT_SETTLE_MS = OPT_OUT_REFRESH_MS + 1000;

/** A party a USERNOTICE names besides its author: the params that identify them and the params to drop. */
export interface NoticeParty {
  /** `msg-param-*` keys (without the prefix) holding the party's user id. */
  ids: readonly string[];
  /** Keys holding the party's login (compared lowercased). */
  logins: readonly string[];
  /** Keys removed when the party opted out. */
  drop: readonly string[];
}

export const NOTICE_PARTIES: readonly NoticeParty[] = [
  // subgift, anonsubgift, standardpayforward (`recipient-name` in older lines)
  { ids: ['recipient-id'], logins: ['recipient-user-name', 'recipient-name'], drop: ['recipient-id', 'recipient-user-name', 'recipient-name', 'recipient-display-name'] },
  // giftpaidupgrade: who the continued gift came from (`sender-count` is the author's own count and stays)
  { ids: [], logins: ['sender-login'], drop: ['sender-login', 'sender-name'] },
  // standardpayforward, communitypayforward
  { ids: ['prior-gifter-id'], logins: ['prior-gifter-user-name'], drop: ['prior-gifter-id', 'prior-gifter-user-name', 'prior-gifter-display-name'] },
];

/**
 * Notices whose `system_msg` names another party ("... gifted a Tier 1 sub to X!", "... the Gift Sub
 * they got from X!"). Imported text logs keep only that sentence (ingest/importers/justlog-text.ts, no
 * params), so the name is read from it with {@link SYSTEM_MSG_PARTY}.
 */
export const PARTY_NOTICE_TYPES = ['subgift', 'anonsubgift', 'giftpaidupgrade', 'standardpayforward', 'communitypayforward'] as const;
/**
 * The word after " to " / " from " in those sentences (group 1); RE2 and JavaScript read it alike. It
 * also yields words like "the" ("to the community"): compared with opted-out logins only, so such a
 * word costs a blanked sentence only if a user of that login opted out.
 */
export const SYSTEM_MSG_PARTY = '(?:^|\\s)(?:to|from) ([^\\s!.,]+)';

/** Tags of a reply's thread root that Twitch sends and the schema does not model (kept verbatim in `tags`). */
export const THREAD_PARENT_TAGS = ['reply-thread-parent-user-login', 'reply-thread-parent-display-name', 'reply-thread-parent-user-id'] as const;
/** Reply tags kept verbatim when a reply came without a parent id (see ingest/irc-parser.ts); the id stays. */
export const UNMODELLED_PARENT_TAGS = ['reply-parent-user-id', 'reply-parent-user-login', 'reply-parent-display-name', 'reply-parent-msg-body'] as const;

/** Whether a login (lowercase) or a user id belongs to an opted-out user. */
export type OptedOut = (login: string | null, userId: string | null) => boolean;

const nonEmpty = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);

/** The notice parties that name an opted-out user. */
function partiesOptedOut(params: Record<string, string>, optedOut: OptedOut): NoticeParty[] {
  return NOTICE_PARTIES.filter(
    (p) => p.ids.some((k) => optedOut(null, nonEmpty(params[k]))) || p.logins.some((k) => optedOut(nonEmpty(params[k])?.toLowerCase() ?? null, null)),
  );
}

const partyRe = new RegExp(SYSTEM_MSG_PARTY, 'g');

function systemMsgNames(type: string, systemMsg: string | null, optedOut: OptedOut): boolean {
  if (systemMsg === null || !(PARTY_NOTICE_TYPES as readonly string[]).includes(type)) return false;
  for (const m of systemMsg.matchAll(partyRe)) if (optedOut(m[1].toLowerCase(), null)) return true;
  return false;
}

function withoutKeys(m: Record<string, string>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/**
 * The event with what it says about opted-out users blanked (see above), or the same object when it
 * names none. Events *of* an opted-out user are dropped before this (enrich/index.ts).
 */
export function blankOptedOut<E extends ChatEvent>(e: E, optedOut: OptedOut): E {
  switch (e.kind) {
    case 'message': {
      const r = e.reply;
      const parent = r !== null && optedOut(r.parent_login, r.parent_user_id);
      const thread = optedOut(r?.thread_parent_login ?? nonEmpty(e.tags['reply-thread-parent-user-login']), nonEmpty(e.tags['reply-thread-parent-user-id']));
      const loose = r === null && optedOut(nonEmpty(e.tags['reply-parent-user-login']), nonEmpty(e.tags['reply-parent-user-id']));
      if (!parent && !thread && !loose) return e;
      const drop = [...(thread ? THREAD_PARENT_TAGS : []), ...(loose ? UNMODELLED_PARENT_TAGS : [])];
      return {
        ...e,
        tags: drop.length > 0 ? withoutKeys(e.tags, drop) : e.tags,
        reply:
          r === null
            ? null
            : {
                ...r,
                ...(parent ? { parent_user_id: null, parent_login: null, parent_display_name: null, parent_text: null } : {}),
                ...(thread ? { thread_parent_login: null } : {}),
              },
      };
    }
    case 'usernotice': {
      const named = partiesOptedOut(e.params, optedOut);
      if (named.length === 0 && !systemMsgNames(e.notice_type, e.system_msg, optedOut)) return e;
      return { ...e, params: withoutKeys(e.params, named.flatMap((p) => p.drop)), system_msg: null };
    }
    case 'delete':
      // the schema's text is a string; the stored column becomes NULL (enrich/rows.ts)
      return optedOut(e.target_login, null) && e.text !== '' ? { ...e, text: '' } : e;
    default:
      return e;
  }
}

/** What an opted-out user's names become in other users' dead letters. */
export const OPTED_OUT_MARK = '[opted-out]';
/**
 * JSON keys (event contract `channel`, `channel_id`, `source_room_id`; VOD chat's `channel_id`/`channelId`)
 * and IRC tags (`room-id`, `source-room-id`) whose value is a channel's login or room id, never a
 * chatter: a streamer's login and id are their channel's name and room id, and a parked event of
 * another user in that channel must keep them to be re-sent as it was.
 */
export const CHANNEL_KEYS: ReadonlySet<string> = new Set(['channel', 'channel_id', 'source_room_id', 'channelId', 'room-id', 'source-room-id']);
/**
 * Top-level JSON keys and IRC tags that say who a payload is from. A dead letter still there after the
 * opt-out deleted the user's own is someone else's (an earlier holder of a reused login, say), so
 * these name that person and stay; so does an IRC line's `:nick!user@host` prefix.
 */
export const OWNER_KEYS: ReadonlySet<string> = new Set(['login', 'display_name', 'user_id']);
export const OWNER_TAGS: ReadonlySet<string> = new Set(['login', 'display-name', 'user-id']);

const WORD = '\\p{L}\\p{N}_';

/** `text` as a literal in a pattern, for JS and for ClickHouse's RE2 (both read an escaped punctuation character as itself). */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}/]/g, '\\$&');
}

/**
 * Whole-word, case-folded matcher of the given names (logins, display names, ids); a word right after
 * `#` (an IRC channel, a hashtag) is not one. Empty names are ignored; null when none is left.
 */
export function namesMatcher(names: readonly string[]): RegExp | null {
  const words = [...new Set(names.filter((w) => w.length > 0))].sort((a, b) => b.length - a.length);
  if (words.length === 0) return null;
  const alt = words.map(escapeRegExp).join('|');
  return new RegExp(`(?<![#${WORD}])(?:${alt})(?![${WORD}])`, 'giu');
}

const replaceNames = (s: string, re: RegExp): string => s.replace(re, OPTED_OUT_MARK);

/** IRC tag value escapes (IRCv3 message-tags). */
function unescapeTag(v: string): string {
  return v.replace(/\\(.?)/gs, (_m, c: string) => (c === ':' ? ';' : c === 's' ? ' ' : c === 'r' ? '\r' : c === 'n' ? '\n' : c));
}
function escapeTag(v: string): string {
  return v.replace(/[\\; \r\n]/g, (c) => (c === '\\' ? '\\\\' : c === ';' ? '\\:' : c === ' ' ? '\\s' : c === '\r' ? '\\r' : '\\n'));
}

/** Commands of the IRC lines Twitch sends (and numerics): what makes a line one, with a prefix or tags. */
const IRC_COMMANDS = 'PRIVMSG|USERNOTICE|CLEARMSG|CLEARCHAT|NOTICE|ROOMSTATE|USERSTATE|GLOBALUSERSTATE|WHISPER|HOSTTARGET|JOIN|PART|PING|PONG|RECONNECT|CAP|\\d{3}';
/**
 * An IRC line: `@k=v;...` tags (every tag with a value, as Twitch sends them) and/or a `:nick!user@host`
 * or `:server.name` prefix, then a known command. Chat text such as "@bob LUL" or ":bob W" is not one:
 * a looser pattern kept such a mention as "tags" and so left the name in place.
 */
const IRC_LINE = new RegExp(`^(?:(@[^ ;=]+=[^ ;]*(?:;[^ ;=]+=[^ ;]*)*)( +))?(?:(:(?:[^ !@]+![^ @]+@[^ ]+|[^ !@]+\\.[^ !@]+))( +))?(?=(?:${IRC_COMMANDS})(?: |$))`);

/**
 * Whether a JSON key or IRC tag holds free text or a person (login, name, id of a party, chat text,
 * Twitch's sentence, a reply's parent): only those are redacted. Everything else is structure the
 * event needs to be re-sent and validated (`kind`, `source`, `notice_type`, `msg-id`, `badges`, the
 * IRC command), and a login such as "live", "raid" or "premium" is spelt like those values: redacting
 * every string turned `"source":"live"` into `[opted-out]` and the event failed validation. Cost: a
 * name in a key outside this list (an unknown importer's field) stays.
 */
const FREE_TEXT_KEY = /login|name|text|body|system[-_]?msg|user|recipient|sender|gifter|parent|target|raw|message|reason|mention/i;
/** Keys that match the above but are ids of messages, enums or channel fields. */
const STRUCTURE_KEY = /msg[-_]?id$|plan|^user[-_]type$|color|badge|emote|^channel|room/i;
export const isFreeTextKey = (key: string): boolean => !CHANNEL_KEYS.has(key) && FREE_TEXT_KEY.test(key) && !STRUCTURE_KEY.test(key);

/**
 * A line of text: in an IRC line only the free-text tags ({@link isFreeTextKey}, not the author's) and
 * the trailing parameter (after " :") are redacted; the command, channel and other tags stay. Any other
 * line (a text log) is all text.
 */
function redactText(s: string, re: RegExp): string {
  const m = IRC_LINE.exec(s);
  if (m === null || (m[1] === undefined && m[3] === undefined)) return replaceNames(s, re);
  let tags = m[1];
  if (tags !== undefined) {
    tags =
      '@' +
      tags
        .slice(1)
        .split(';')
        .map((kv) => {
          const eq = kv.indexOf('=');
          const key = kv.slice(0, eq);
          if (OWNER_TAGS.has(key) || !isFreeTextKey(key)) return kv;
          const value = unescapeTag(kv.slice(eq + 1));
          const out = replaceNames(value, re);
          return out === value ? kv : `${key}=${escapeTag(out)}`;
        })
        .join(';');
  }
  const rest = s.slice(m[0].length);
  const colon = rest.indexOf(' :');
  const red = colon < 0 ? rest : rest.slice(0, colon + 2) + replaceNames(rest.slice(colon + 2), re);
  if (tags === m[1] && red === rest) return s;
  // the separators as they came: an unchanged line stays byte for byte
  return `${tags !== undefined ? tags + m[2] : ''}${m[3] !== undefined ? m[3] + m[4] : ''}${red}`;
}

/** Whose a dead letter is, as its payload says (see {@link deadLetterAuthor}); null where it does not say. */
export interface DeadLetterAuthor {
  login: string | null;
  userId: string | null;
  /** As written (top-level `display_name`, IRC `display-name`). */
  displayName: string | null;
}

const looksJson = (payload: string) => /^\s*(?:\{|\[\s*[{["\]])/.test(payload);

/**
 * The author of a dead letter: a JSON event's top-level `login` and `user_id` (read by a scan, so a
 * truncated or otherwise broken payload still says whose it is: importers cut long lines, and
 * ClickHouse's JSONExtract gave '' for those, so the user's own broken events were kept), or an IRC
 * line's `login`/`user-id` tags and `nick!` prefix. Logins are lowercased.
 */
export function deadLetterAuthor(payload: string): DeadLetterAuthor {
  if (looksJson(payload)) {
    const top = topLevelStrings(payload, ['login', 'user_id', 'display_name']);
    return { login: top.get('login')?.toLowerCase() || null, userId: top.get('user_id') || null, displayName: top.get('display_name') || null };
  }
  const m = IRC_LINE.exec(payload);
  if (m === null) return { login: null, userId: null, displayName: null };
  const tags = new Map((m[1] ?? '@').slice(1).split(';').map((kv) => [kv.slice(0, kv.indexOf('=')), unescapeTag(kv.slice(kv.indexOf('=') + 1))] as const));
  const nick = m[3] !== undefined && m[3].includes('!') ? m[3].slice(1, m[3].indexOf('!')) : '';
  return { login: (tags.get('login') || nick).toLowerCase() || null, userId: tags.get('user-id') || null, displayName: tags.get('display-name') || null };
}

/** The top-level string values of the given keys in a JSON text, as far as it can be read. */
function topLevelStrings(s: string, keys: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  let depth = 0;
  let key: string | null = null;
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    if (c !== '"') {
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t' && c !== ':') key = null;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
    const token = s.slice(i, j + 1);
    let value: string;
    try {
      value = JSON.parse(token) as string;
    } catch {
      value = token.slice(1, token.endsWith('"') && token.length > 1 ? -1 : undefined);
    }
    let k = j + 1;
    while (k < s.length && (s[k] === ' ' || s[k] === '\n' || s[k] === '\r' || s[k] === '\t')) k++;
    if (s[k] === ':') key = depth === 1 ? value : null;
    else {
      if (key !== null && keys.includes(key) && !found.has(key)) found.set(key, value);
      key = null;
    }
    i = j + 1;
  }
  return found;
}

/**
 * A JSON text with the names replaced in the string values of free-text and people keys
 * ({@link isFreeTextKey}; an array's strings count under the array's key), except the author's keys
 * (top level); keys, numbers, other values and layout stay byte for byte. A
 * truncated payload (importers cut long lines) is read as far as it goes; an unterminated last string
 * is treated as text. A value that is itself an IRC line (justlog's `raw`) keeps that line's channel
 * and author tags.
 */
function redactJson(s: string, re: RegExp): string {
  const out: string[] = [];
  let from = 0;
  /** Open containers: an array's strings take the key the array is the value of (`"badges":["premium"]`). */
  const open: Array<{ array: boolean; key: string | null }> = [];
  /** The key whose value comes next (set by `"key":`, cleared by anything but whitespace), and its depth. */
  let key: string | null = null;
  let keyDepth = 0;
  /** Whether a string value under this key (null: a bare string or one in a keyless top-level array) is redacted. */
  const redacts = (k: string | null, depth: number) => k === null || (isFreeTextKey(k) && !(depth === 1 && OWNER_KEYS.has(k)));
  const valueKey = (): [string | null, number] => {
    const top = open.at(-1);
    return top?.array === true ? [top.key, open.length] : [key, keyDepth];
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '"') {
      if (c === '{' || c === '[') open.push({ array: c === '[', key: valueKey()[0] });
      else if (c === '}' || c === ']') open.pop();
      if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') key = null;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
    if (j >= s.length) {
      // unterminated: the rest is one string value (or key) cut short
      const tail = s.slice(i);
      const red = redacts(...valueKey()) ? replaceNames(tail, re) : tail;
      if (red !== tail) {
        out.push(s.slice(from, i), red);
        from = s.length;
      }
      break;
    }
    const token = s.slice(i, j + 1);
    let k = j + 1;
    while (k < s.length && (s[k] === ' ' || s[k] === '\n' || s[k] === '\r' || s[k] === '\t')) k++;
    if (s[k] === ':') {
      try {
        key = JSON.parse(token) as string;
      } catch {
        key = null;
      }
      keyDepth = open.length;
      i = k + 1;
      continue;
    }
    const redacted = redacts(...valueKey());
    key = null;
    i = j + 1;
    if (!redacted) continue;
    let red: string;
    try {
      const value = JSON.parse(token) as string;
      const changed = redactText(value, re);
      red = changed === value ? token : JSON.stringify(changed);
    } catch {
      // an escape JSON does not know: the text as it stands
      red = replaceNames(token, re);
    }
    if (red === token) continue;
    out.push(s.slice(from, i - token.length), red);
    from = i;
  }
  if (out.length === 0) return s;
  out.push(s.slice(from));
  return out.join('');
}

/**
 * A dead letter of another user with the opted-out user's names (matched by {@link namesMatcher})
 * replaced by {@link OPTED_OUT_MARK} in its free-text and people fields ({@link isFreeTextKey}; IRC:
 * those tags and the trailing text), keeping what the event needs to be re-sent as it was: enums,
 * badges, message ids, the IRC command, channel
 * fields ({@link CHANNEL_KEYS}), the author's own fields ({@link OWNER_KEYS}, {@link OWNER_TAGS}, the
 * IRC prefix), IRC `#channel`, and JSON keys and structure. Returns the payload itself when nothing
 * changed. Names inside JSON or IRC escapes are matched unescaped and written back escaped.
 */
export function redactDeadLetter(payload: string, re: RegExp): string {
  re.lastIndex = 0;
  // a text log's `[2018-06-05 09:28:59] #channel ...` starts with `[` too
  return looksJson(payload) ? redactJson(payload, re) : redactText(payload, re);
}
