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

/** Replays one Chatty log in order and scores every message. */
export function evalModerationLog(file: string, windowMs = 60_000): ModerationEvalResult {
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
  return { file, messages: messages.length, positives, auc: round(auc(risk, labels)), toxicityAuc: round(auc(tox, labels)) };
}

if (import.meta.main) {
  const { positionals } = parseArgs({ allowPositionals: true });
  if (positionals.length === 0) {
    console.error('usage: npm run eval:moderation -- <chatty .log> [more .log files]');
    process.exit(2);
  }
  const results = positionals.map((f) => evalModerationLog(f));
  console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
}
