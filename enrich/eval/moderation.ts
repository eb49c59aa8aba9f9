/**
 * Moderation eval: `npm run eval:moderation -- <chatty log> [more logs...]`
 *
 * Label per chat message: the author was timed out or banned (a BAN line naming them) within 60 s
 * after it. Prints JSON with the ROC AUC of moderation risk, and for comparison the AUC of toxicity
 * alone, for each log (each replayed through a fresh ModerationState).
 */
import { parseArgs } from 'node:util';
import { readChatty, banLabels } from './chatty.ts';
import { auc, round } from './metrics.ts';
import { ModerationState } from '../analysis/moderation-risk.ts';
import { toxicity } from '../analysis/toxicity.ts';

export interface ModerationEvalResult { file: string; messages: number; positives: number; auc: number; toxicityAuc: number }
interface Scored { risk: Float64Array; tox: Float64Array; labels: Uint8Array }

/** Replays one Chatty log in order and scores every message. */
export function evalModerationLog(file: string, windowMs = 60_000): ModerationEvalResult {
  return scoreLog(file, windowMs).result;
}

function scoreLog(file: string, windowMs: number): { result: ModerationEvalResult; scored: Scored } {
  const { messages, labels } = banLabels(readChatty(file), windowMs);
  const state = new ModerationState();
  const risk = new Float64Array(messages.length);
  const tox = new Float64Array(messages.length);
  const channel = file;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    risk[i] = state.score(channel, m.user, m.text, m.ts);
    tox[i] = toxicity(m.text);
  }
  let positives = 0;
  for (const l of labels) positives += l;
  return { result: { file, messages: messages.length, positives, auc: round(auc(risk, labels)), toxicityAuc: round(auc(tox, labels)) }, scored: { risk, tox, labels } };
}

/**
 * Several logs: per-log results plus the AUC pooled over all their messages (each log replayed with its
 * own state). Small channels have a handful of timeouts per log, so the pooled figure is the steadier one.
 */
export function evalModerationLogs(files: string[], windowMs = 60_000): { logs: ModerationEvalResult[]; pooled: { messages: number; positives: number; auc: number; toxicityAuc: number } } {
  const runs = files.map((f) => scoreLog(f, windowMs));
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
    pooled: { messages: labels.length, positives, auc: round(auc(cat('risk'), labels)), toxicityAuc: round(auc(cat('tox'), labels)) },
  };
}

if (import.meta.main) {
  const { positionals } = parseArgs({ allowPositionals: true });
  if (positionals.length === 0) {
    console.error('usage: npm run eval:moderation -- <chatty .log> [more .log files]');
    process.exit(2);
  }
  console.log(JSON.stringify(positionals.length === 1 ? evalModerationLog(positionals[0]) : evalModerationLogs(positionals), null, 2));
}
