/**
 * Optional model refinement: when a `ModelRuntime` (enrich/models, worker threads, so off the event
 * loop) answers within the budget, a batch's message scores blend lexicon and model; otherwise the
 * batch is stored with lexicon scores. Rows are never updated after insert, so this happens before it.
 * Cost: the budget is added to event-to-queryable latency at most once per batch.
 */
import type { Logger } from '../core/logger.ts';
import { blendSentiment, MODEL_BLEND_WEIGHT, MODEL_BLEND_WEIGHT_2LABEL } from './analysis/sentiment.ts';
import type { ModelRuntime } from './models/index.ts';
import type { PendingRow } from './rows.ts';

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
      // the analysis module's blend and label thresholds, not a second copy of them
      const s = sent[i];
      // a 2-label model reports neutral as exactly 0 (labels.ts)
      const b = blendSentiment(Number(r.row.sentiment), [s.negative, s.neutral, s.positive], s.neutral === 0 ? MODEL_BLEND_WEIGHT_2LABEL : MODEL_BLEND_WEIGHT);
      r.row.sentiment = b.score;
      r.row.sentiment_label = b.label;
    }
    if (tox) {
      r.row.toxicity = Math.max(Number(r.row.toxicity), tox[i]);
      // moderation risk reads toxicity as a feature (docs/sentiment.md): the blended value replaces
      // the lexicon's, everything else as it was scored in stream order
      if (r.modRiskWith) r.row.mod_risk = r.modRiskWith(r.row.toxicity as number);
    }
    r.row.enrich_version = `${String(r.row.enrich_version)}+model`;
  });
  return msgs.length;
}
