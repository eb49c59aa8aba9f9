/**
 * Moderation eval: `npm run eval:moderation -- <log> [more logs...]`
 *
 * Label per chat message: the author was timed out or banned (a BAN line naming them) within 60 s
 * after it. The scorer sees the log's BAN events that happened before each message (as a live system
 * sees CLEARCHAT), never those after it. Prints JSON with the ROC AUC of moderation risk, and for comparison the AUC of toxicity
 * alone, for each log (each replayed through a fresh ModerationState).
 *
 * Logs: Chatty logs (read by `chatty.ts`, as training does), and any other recording the importers read
 * that holds bans (raw IRC with CLEARCHAT, e.g. a `twichist` capture; justlog/rustlog text logs): its events come
 * through the importer, so raw IRC messages carry their real badges (text logs have none). VOD JSON has no bans:
 * its AUC is `null`.
 */
import { UsageError } from '../../cli/command.ts';
import { runEvalCli } from './cli.ts';
import { readChatty, banLabels, type ChattyEvent, type ChattyMessage } from './chatty.ts';
import { auc, round } from './metrics.ts';
import { ModerationState } from '../analysis/moderation-risk.ts';
import { toxicity } from '../analysis/toxicity.ts';
import { detectFormat, importFile } from '../../ingest/importers/index.ts';

/** `auc`/`toxicityAuc` are `null` when the log has no positive or no negative (no bans: nothing to rank). */
export interface ModerationEvalResult { file: string; messages: number; positives: number; auc: number | null; toxicityAuc: number | null }
export interface Scored { risk: Float64Array; tox: Float64Array; labels: Uint8Array }

/** Replays one Chatty log in order and scores every message. */
export function evalModerationLog(file: string, windowMs = 60_000, feedBans = true): ModerationEvalResult {
  return scoreLog(file, windowMs, feedBans).result;
}

/**
 * Replays a log through `state` as a live system would see it: each message is preceded by every BAN
 * event that precedes it in the log (Chatty writes lines in arrival order, so a ban logged before a
 * message in the same second reached the client before it, as a CLEARCHAT would). Bans after a message
 * are its label and never visible to it. `messages` are the log's messages in log order (as
 * `banLabels` returns them); `onMessage(i, m)` is called after the bans before message i were fed and
 * before it is scored.
 */
export function replayLog(events: readonly ChattyEvent[], messages: readonly ChattyMessage[], state: ModerationState, channel: string, onMessage: (i: number, m: ChattyMessage) => void): void {
  let i = 0;
  for (const e of events) {
    if (e.kind === 'ban') { for (const u of e.users) state.ban(channel, u, e.ts); continue; }
    if (i < messages.length && messages[i] === e) { onMessage(i, e); i++; }
  }
  // events without bans (--no-bans) or another message list: score the rest in order
  for (; i < messages.length; i++) onMessage(i, messages[i]);
}

/**
 * A recording's messages and bans in the eval's shape, through the importer (format detected from the
 * content). Chatty logs go through `readChatty` instead, as in training (the golden hashes pin that path).
 */
export async function loadEvalEvents(file: string): Promise<ChattyEvent[]> {
  const format = await detectFormat(file);
  if (format === 'chatty') return readChatty(file);
  if (format === null) throw new Error(`${file}: not a chat recording the importers read (Chatty log, raw IRC, justlog/rustlog text, VOD JSON)`);
  const out: ChattyEvent[] = [];
  let rejected = 0;
  // Whole-second formats: the importer puts a second's k-th line k ms into it (file order for readers); the eval
  // reads whole seconds, as for Chatty, so a ban in exactly the 60th second is a label whatever the two lines' k.
  const whole = format === 'justlog';
  await importFile(file, (e) => {
    const ts = whole ? Math.floor(e.ts / 1000) * 1000 : e.ts;
    if (e.kind === 'message') out.push({ kind: 'msg', ts, user: e.login, text: e.text, badges: e.badges, action: e.action });
    else if (e.kind === 'ban' || e.kind === 'timeout') out.push({ kind: 'ban', ts, users: [e.target_login] });
  }, { onReject: () => { rejected++; } });
  if (rejected > 0) console.error(`${file}: ${rejected} lines the importer rejected were left out`);
  return out;
}

/** AUC, or null when one class is empty (a log without bans). */
function aucOrNull(s: ArrayLike<number>, l: ArrayLike<number>, positives: number): number | null {
  return positives === 0 || positives === l.length ? null : round(auc(s, l));
}

/**
 * Replays one log and scores every message as it arrives: `scored.risk[i]` depends only on the events
 * before message i (the moderation risk a live enrich stage stores), never on what follows it.
 */
export function scoreLog(file: string, windowMs: number, feedBans = true, events: readonly ChattyEvent[] = readChatty(file)): { result: ModerationEvalResult; scored: Scored } {
  const { messages, labels } = banLabels(events, windowMs);
  const state = new ModerationState();
  const risk = new Float64Array(messages.length);
  const tox = new Float64Array(messages.length);
  const channel = file;
  replayLog(feedBans ? events : [], messages, state, channel, (i, m) => {
    risk[i] = state.score(channel, m.user, m.text, m.ts, { badges: m.badges, action: m.action });
    tox[i] = toxicity(m.text);
  });
  let positives = 0;
  for (const l of labels) positives += l;
  return { result: { file, messages: messages.length, positives, auc: aucOrNull(risk, labels, positives), toxicityAuc: aucOrNull(tox, labels, positives) }, scored: { risk, tox, labels } };
}

/**
 * Several logs: per-log results plus the AUC pooled over all their messages (each log replayed with its
 * own state). Small channels have a handful of timeouts per log, so the pooled figure is the steadier one.
 */
export function evalModerationLogs(files: string[], windowMs = 60_000, feedBans = true, events?: readonly (readonly ChattyEvent[])[]): { logs: ModerationEvalResult[]; pooled: { messages: number; positives: number; auc: number | null; toxicityAuc: number | null } } {
  const runs = files.map((f, i) => scoreLog(f, windowMs, feedBans, events?.[i]));
  const cat = (k: keyof Scored) => {
    const n = runs.reduce((a, r) => a + r.scored[k].length, 0);
    const out = new Float64Array(n);
    let o = 0;
    for (const r of runs) { out.set(r.scored[k], o); o += r.scored[k].length; }
    return out;
  };
  const labels = cat('labels');
  let positives = 0;
  for (const l of labels) positives += l;
  return {
    logs: runs.map((r) => r.result),
    pooled: { messages: labels.length, positives, auc: aucOrNull(cat('risk'), labels, positives), toxicityAuc: aucOrNull(cat('tox'), labels, positives) },
  };
}

if (import.meta.main) {
  const usage = 'usage: npm run eval:moderation -- <log> [more logs] [--no-bans]\n  logs: Chatty .log files, raw IRC recordings with CLEARCHAT, justlog/rustlog text logs (anything `twichist import` reads)\n  --no-bans: do not feed the log\'s earlier BAN events to the scorer (as when the enrich stage does not call recordBan)';
  await runEvalCli(usage, { 'no-bans': { type: 'boolean', default: false } }, async ({ positionals, values }) => {
    if (positionals.length === 0) throw new UsageError('no log given');
    const events = await Promise.all(positionals.map((f) => loadEvalEvents(f)));
    const r = evalModerationLogs(positionals, 60_000, !values['no-bans'], events);
    console.log(JSON.stringify(positionals.length === 1 ? r.logs[0] : r, null, 2));
  });
}
