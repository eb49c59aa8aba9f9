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
