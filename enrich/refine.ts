/**
 * Optional model refinement: when a `ModelRuntime` (enrich/models, worker threads, so off the event
 * loop) answers within the budget, a batch's message scores blend lexicon and model; otherwise the
 * batch is stored with lexicon scores. Rows are never updated after insert, so this happens before it.
 * Cost: the budget is added to event-to-queryable latency at most once per batch.
 */
import type { Logger } from '../core/logger.ts';
import type { ModelRuntime } from './models/index.ts';
import type { PendingRow } from './rows.ts';

const LABEL_THRESHOLD = 0.2;

function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => null), new Promise<null>((r) => (t = setTimeout(() => r(null), ms)))]).finally(() => clearTimeout(t));
}

/** Refines message rows in place; returns how many were refined. */
export async function refineWithModels(models: ModelRuntime, rows: PendingRow[], budgetMs: number, logger: Logger): Promise<number> {
  const msgs = rows.filter((r) => r.table === 'messages');
  if (msgs.length === 0) return 0;
  const texts = msgs.map((r) => String(r.row.text));
  const [sent, tox] = await Promise.all([
    models.available.sentiment ? within(models.sentiment(texts), budgetMs) : Promise.resolve(null),
    models.available.toxicity ? within(models.toxicity(texts), budgetMs) : Promise.resolve(null),
  ]);
  if (!sent && !tox) {
    if (models.available.sentiment || models.available.toxicity) logger.debug({ rows: msgs.length }, 'models missed the budget; lexicon scores kept');
    return 0;
  }
  msgs.forEach((r, i) => {
    if (sent) {
      const s = sent[i];
      const score = (Number(r.row.sentiment) + (s.positive - s.negative)) / 2;
      r.row.sentiment = score;
      r.row.sentiment_label = score >= LABEL_THRESHOLD ? 1 : score <= -LABEL_THRESHOLD ? -1 : 0;
    }
    if (tox) r.row.toxicity = Math.max(Number(r.row.toxicity), tox[i]);
    r.row.enrich_version = `${String(r.row.enrich_version)}+model`;
  });
  return msgs.length;
}
