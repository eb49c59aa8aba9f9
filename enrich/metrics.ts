/**
 * Enrich stage metrics: a plain object the stage mutates in place (cheap: a few integer adds per
 * batch) and a Prometheus text renderer for `/metrics`. Histograms use fixed buckets so rendering
 * costs nothing proportional to traffic.
 */
import { eventKinds, type EventKind } from '../core/events.ts';

/** Cumulative histogram with fixed upper bounds (Prometheus semantics: `le` buckets plus sum and count). */
export interface Histogram {
  /** Upper bounds, ascending. */
  readonly bounds: readonly number[];
  /** counts[i] = observations <= bounds[i] (not cumulative here; the renderer accumulates). Last slot is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export function histogram(bounds: readonly number[]): Histogram {
  return { bounds, counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 };
}

export function observe(h: Histogram, value: number, times = 1): void {
  let i = 0;
  while (i < h.bounds.length && value > h.bounds[i]) i++;
  h.counts[i] += times;
  h.sum += value * times;
  h.count += times;
}

/** Value below which `q` (0..1) of the observations fall, at bucket resolution (upper bound of the bucket). */
export function quantile(h: Histogram, q: number): number | null {
  if (h.count === 0) return null;
  const target = q * h.count;
  let acc = 0;
  for (let i = 0; i < h.counts.length; i++) {
    acc += h.counts[i];
    if (acc >= target) return i < h.bounds.length ? h.bounds[i] : Infinity;
  }
  return Infinity;
}

const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];
const LAG_BOUNDS_MS = [50, 100, 250, 500, 750, 1000, 2000, 5000, 10_000, 60_000, 600_000];
const BATCH_BOUNDS = [1, 10, 100, 500, 1000, 2500, 5000, 10_000, 50_000];

export interface EnrichMetrics {
  /** Events read from the bus, by kind; `invalid` counts lines that failed parsing or validation. */
  eventsIn: Record<EventKind | 'invalid', number>;
  /** Events stored (newly inserted rows), by kind. */
  eventsOut: Record<EventKind, number>;
  /** Bus messages acknowledged after their events were stored. */
  busAcked: number;
  /** Bus messages handed back for redelivery after a transient failure. */
  busNaked: number;
  /** Batches inserted (one flush may insert into several tables; counted once). */
  batches: number;
  /** Events per flushed batch. */
  batchSize: Histogram;
  /** Time to store one batch (dedup checks, inserts into every table), ms. */
  insertLatencyMs: Histogram;
  /** now - event `received_at` when its batch was stored, ms, per event. */
  lagMs: Histogram;
  /** Rows written to `dead_letters` (invalid events, failed enrichment, rows ClickHouse rejected). */
  deadLetters: number;
  /** Events not inserted because their id was already stored or repeated in the same batch. */
  duplicatesDropped: number;
  /** Events dropped because the user opted out. */
  optedOutDropped: number;
  /** Failed store attempts that were retried later (ClickHouse unreachable, busy, timed out). */
  transientFailures: number;
  /** Batches split to find rows ClickHouse rejects. */
  bisections: number;
  /** Messages whose scores a model refined before insert. */
  modelRefined: number;
  /** Channel topic refreshes done / failed (a failed one is retried at the next). */
  topicRefreshes: number;
  topicFailures: number;
}

export function createMetrics(): EnrichMetrics {
  const byKind = () => Object.fromEntries(eventKinds.map((k) => [k, 0])) as Record<EventKind, number>;
  return {
    eventsIn: { ...byKind(), invalid: 0 },
    eventsOut: byKind(),
    busAcked: 0,
    busNaked: 0,
    batches: 0,
    batchSize: histogram(BATCH_BOUNDS),
    insertLatencyMs: histogram(LATENCY_BOUNDS_MS),
    lagMs: histogram(LAG_BOUNDS_MS),
    deadLetters: 0,
    duplicatesDropped: 0,
    optedOutDropped: 0,
    transientFailures: 0,
    bisections: 0,
    modelRefined: 0,
    topicRefreshes: 0,
    topicFailures: 0,
  };
}

function renderHistogram(name: string, help: string, h: Histogram): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
  let acc = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    acc += h.counts[i];
    out += `${name}_bucket{le="${h.bounds[i]}"} ${acc}\n`;
  }
  out += `${name}_bucket{le="+Inf"} ${h.count}\n${name}_sum ${h.sum}\n${name}_count ${h.count}\n`;
  return out;
}

function counter(name: string, help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${value}\n`;
}

/** Prometheus text exposition (version 0.0.4) of the metrics. */
export function toPrometheus(m: EnrichMetrics, prefix = 'twichist_enrich'): string {
  let out = `# HELP ${prefix}_events_in_total Events read from the bus by kind (invalid: failed validation).\n# TYPE ${prefix}_events_in_total counter\n`;
  for (const [k, v] of Object.entries(m.eventsIn)) out += `${prefix}_events_in_total{kind="${k}"} ${v}\n`;
  out += `# HELP ${prefix}_events_out_total Events stored in ClickHouse by kind.\n# TYPE ${prefix}_events_out_total counter\n`;
  for (const [k, v] of Object.entries(m.eventsOut)) out += `${prefix}_events_out_total{kind="${k}"} ${v}\n`;
  out += counter(`${prefix}_bus_acked_total`, 'Bus messages acknowledged after storing.', m.busAcked);
  out += counter(`${prefix}_bus_naked_total`, 'Bus messages handed back for redelivery.', m.busNaked);
  out += counter(`${prefix}_batches_total`, 'Batches stored.', m.batches);
  out += counter(`${prefix}_dead_letters_total`, 'Rows written to dead_letters.', m.deadLetters);
  out += counter(`${prefix}_duplicates_dropped_total`, 'Events skipped because already stored.', m.duplicatesDropped);
  out += counter(`${prefix}_opted_out_dropped_total`, 'Events dropped for opted-out users.', m.optedOutDropped);
  out += counter(`${prefix}_transient_failures_total`, 'Store attempts that failed and were retried.', m.transientFailures);
  out += counter(`${prefix}_bisections_total`, 'Batches split to isolate rejected rows.', m.bisections);
  out += counter(`${prefix}_model_refined_total`, 'Messages whose scores a model refined.', m.modelRefined);
  out += counter(`${prefix}_topic_refreshes_total`, 'Per-channel topic refreshes of the windows stored since the last one.', m.topicRefreshes);
  out += counter(`${prefix}_topic_refresh_failures_total`, 'Topic refreshes that failed (retried at the next).', m.topicFailures);
  out += renderHistogram(`${prefix}_batch_size`, 'Events per stored batch.', m.batchSize);
  out += renderHistogram(`${prefix}_insert_latency_ms`, 'Milliseconds to store a batch.', m.insertLatencyMs);
  out += renderHistogram(`${prefix}_lag_ms`, 'Milliseconds from received_at to stored, per event.', m.lagMs);
  return out;
}
