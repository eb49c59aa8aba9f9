/**
 * The enrich stage: bus -> validate -> opt-out filter -> emote tokens and scores -> write buffer ->
 * exactly-once store in ClickHouse -> ack. The same code runs in single-process mode (an
 * `InProcessBus` consumer, `twichist import`/`up`) and standalone against JetStream (`twichist enrich`).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { splitEventLines, type BusConsumer, type Delivery } from '../core/bus.ts';
import type { Config } from '../core/config.ts';
import { validateEvent, type ChatEvent } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import { blankOptedOut } from '../core/privacy.ts';
import { openModelRuntime, type ModelRuntime } from './models/index.ts';
import { loadAnalyzer, type Analyzer } from './analyzer.ts';
import { createEmoteSource, type EmoteSource } from './emotes.ts';
import { createMetrics, observe, type EnrichMetrics } from './metrics.ts';
import { watchOptOuts } from './opt-outs.ts';
import { refineWithModels } from './refine.ts';
import { messageRow, payloadOf, plainRow, tableOf, type PendingRow } from './rows.ts';
import { deadLetter, defaultJournalDir, ExactlyOnceStore, type DeadLetter } from './store.ts';
import { createTopicJob } from './topics/job.ts';
import { WriteBuffer, type BufferEntry } from './write-buffer.ts';

/** Longest stretch of delivery handling before the consume loop lets the event loop turn. */
const YIELD_EVERY_MS = 10;
/** Longest `stop()` waits for the last topic refresh; what it misses stays due in `topic_window_state` for the next run of any enrich process. */
const STOP_TOPICS_MS = 10_000;

export { toPrometheus, type EnrichMetrics } from './metrics.ts';

export interface StartEnrichOptions {
  config: Config;
  logger: Logger;
  /** Where rows go; closed by the caller, not by `stop()`. */
  client: ClickHouseClient;
  /** `InProcessBus.consumer()` or `createJetStreamConsumer(...)`; stopped by `stop()`. */
  consumer: BusConsumer;
  /** Scores per message. Default: `enrich/analysis` (`createAnalyzer()`), or neutral scores until it exists. */
  analyzer?: Analyzer;
  /** Emote sets. Default: from config (`emotes.files`, the cache in `emotes.cacheDir`, online fetches when `models.online`). */
  emotes?: EmoteSource;
  /**
   * Transformer models: refine sentiment/toxicity (and with it moderation risk) of a batch when they
   * answer within {@link StartEnrichOptions.modelBudgetMs}, and embed messages for topics. Default:
   * opened from the models folder (`models.dir`) at start-up, which logs one line saying what was
   * found (nothing found: lexicon and learned scorers, keyword topics); `null`: no models.
   */
  models?: ModelRuntime | null;
  /** Longest a batch waits for the models before it is stored with lexicon scores. Default 300 ms. */
  modelBudgetMs?: number;
  /** Period of the topic refresh of the windows due in `topic_window_state` (enrich/topics/job.ts); 0 = only on {@link EnrichStage.refreshTopics}. Default config `enrich.topicsIntervalMs`. */
  topicsIntervalMs?: number;
  /** An insert slower than this is abandoned and awaited before the retry. Default 30 s. */
  insertTimeoutMs?: number;
  /** First retry delay after a failed store (doubles per failure). Default 250 ms. */
  retryBaseMs?: number;
  /** Cap of the retry delay. Default 5 s. */
  retryMaxMs?: number;
  /** How often the opt-out list is re-read. Default OPT_OUT_REFRESH_MS (5 s), which the API's opt-out waits for. */
  optOutRefreshMs?: number;
  /**
   * Insert journal folder (see enrich/store.ts): must survive restarts and belong to this instance.
   * Default `<dataDir>/enrich-journal/<database>/<consumer>`; null disables it.
   */
  journalDir?: string | null;
}

export interface EnrichStage {
  /** Graceful: stop consuming, flush, ack. Does not close `client` or the NATS connection. */
  stop(): Promise<void>;
  readonly metrics: EnrichMetrics;
  /** Resolves when every delivery received so far is stored (or handed back to the bus). */
  stored(): Promise<void>;
  /** Resolves when the consume loop ended (after `stop()`, or if the consumer ended by itself). */
  readonly done: Promise<void>;
  /**
   * Recomputes now the topics of every 5-minute window due in `topic_window_state` (stored into, by
   * any process, since its topics were computed; `twichist up`/`import` call it after a replay or an
   * import). Call after `stored()`.
   */
  refreshTopics(): Promise<void>;
}

interface Entry extends BufferEntry {
  rows: PendingRow[];
  deadLetters: DeadLetter[];
}

/** Starts the stage. Returns at once; start-up (analyzer, opt-outs) finishes before the first delivery is read. */
export function startEnrich(opts: StartEnrichOptions): EnrichStage {
  const { config, logger, client, consumer } = opts;
  const log = logger.child({ stage: 'enrich' });
  const metrics = createMetrics();
  const ownEmotes = opts.emotes ? null : createEmoteSource({ files: config.emotes.files, cacheDir: config.emotes.cacheDir, online: config.models.online, logger: log });
  const emotes = opts.emotes ?? ownEmotes!;
  const optOuts = watchOptOuts(client, log, opts.optOutRefreshMs);
  const journalDir = opts.journalDir === undefined ? defaultJournalDir(config) : opts.journalDir;
  const store = new ExactlyOnceStore({ client, logger: log, insertTimeoutMs: opts.insertTimeoutMs, journalDir });
  let analyzer: Analyzer | null = opts.analyzer ?? null;
  let models: ModelRuntime | null = opts.models ?? null;
  let stopping = false;

  // Topics: the tables say which windows are due (messages newer than their topics, whoever stored
  // them, crash or not); this process only adds the windows of its own very slow inserts.
  const topics = createTopicJob({
    client,
    database: config.clickhouse.database,
    logger: log,
    embedder: () => (models?.available.embeddings ? models : null),
    onRefreshed: () => {
      metrics.topicRefreshes++;
    },
    onFailed: () => {
      metrics.topicFailures++;
    },
  });
  // wait: false (the timer) queues the deletes of older topic versions without waiting for them
  // (see RefreshTopicsOptions.wait): waiting held inserts behind them with embedded ClickHouse. A
  // turn that finds a run still going is skipped rather than queued behind it.
  const topicsIntervalMs = opts.topicsIntervalMs ?? config.enrich.topicsIntervalMs;
  const topicTimer = topicsIntervalMs > 0 ? setInterval(() => void (topics.busy || topics.run({ wait: false })), topicsIntervalMs) : null;
  topicTimer?.unref();

  const buffer = new WriteBuffer<Entry>({
    batchSize: config.enrich.batchSize,
    flushMs: config.enrich.flushMs,
    retryBaseMs: opts.retryBaseMs,
    retryMaxMs: opts.retryMaxMs,
    logger: log,
    flush: async (entries) => {
      const rows: PendingRow[] = [];
      const dls: DeadLetter[] = [];
      let events = 0;
      for (const e of entries) {
        for (const r of e.rows) rows.push(r);
        for (const d of e.deadLetters) dls.push(d);
        events += e.size;
      }
      if (models) metrics.modelRefined += await refineWithModels(models, rows, opts.modelBudgetMs ?? 300, log);
      const t0 = performance.now();
      const r = await store.store(rows, dls);
      topics.noteStored(rows, performance.now() - t0);
      const now = Date.now();
      observe(metrics.insertLatencyMs, performance.now() - t0);
      observe(metrics.batchSize, events);
      metrics.batches++;
      metrics.duplicatesDropped += r.duplicates;
      metrics.deadLetters += r.deadLetters;
      metrics.bisections += r.bisections;
      for (const [k, n] of Object.entries(r.inserted)) metrics.eventsOut[k as ChatEvent['kind']] += n;
      for (const row of rows) observe(metrics.lagMs, now - row.receivedAt);
    },
    onSettled: (entries, ok) => {
      if (ok) metrics.busAcked += entries.length;
      else {
        metrics.busNaked += entries.length;
        metrics.transientFailures++;
      }
    },
  });

  /** One event (parsed JSON or an in-process object) -> a row, a dead letter, or nothing (opted out). */
  const addEvent = (input: unknown, line: string | null, d: Delivery, source: string, rows: PendingRow[], deadLetters: DeadLetter[]) => {
    const v = validateEvent(input);
    if (!v.ok) {
      metrics.eventsIn.invalid++;
      deadLetters.push(deadLetter(line ?? payloadOf(input), `invalid event: ${v.reason}`, d.publishedAt, source));
      return;
    }
    const given = v.event;
    metrics.eventsIn[given.kind]++;
    if ((given.kind === 'message' || given.kind === 'usernotice') && optOuts.has(given.login, given.user_id)) {
      metrics.optedOutDropped++;
      return;
    }
    // Other users' events naming an opted-out user (a reply to them, a gift to them, a deletion of
    // their message) are stored without the user's name and words; the bus line is not kept then, so a
    // rejected row's dead letter is the blanked event too.
    const e = blankOptedOut(given, optOuts.has);
    if (e !== given) line = null;
    try {
      let row: Record<string, unknown>;
      let modRiskWith: PendingRow['modRiskWith'];
      if (e.kind === 'message') {
        emotes.noteChannel(e.channel, e.channel_id);
        const tokens = emotes.index.tokens(e.channel, e.text, e.emotes);
        // with a toxicity model, moderation risk is re-scored once the model's toxicity is known (refine.ts)
        const keepModInputs = models?.available.toxicity != null;
        const scores = analyzer!.analyze({ channel: e.channel, userId: e.user_id, login: e.login, text: e.text, ts: e.ts, emoteNames: tokens.names, badges: e.badges, action: e.action, keepModInputs });
        row = messageRow(e, tokens, scores, analyzer!.version);
        modRiskWith = scores.modRiskWith;
      } else {
        if (e.kind === 'ban' || e.kind === 'timeout') analyzer!.recordBan(e.channel, e.target_login, e.ts);
        row = plainRow(e);
        // stored as the opt-out leaves deletions of the user's messages: the action without the words
        if (e !== given && e.kind === 'delete') row.text = null;
      }
      rows.push({ table: tableOf(e.kind), kind: e.kind, id: e.id, channel: e.channel, ts: e.ts, receivedAt: e.received_at, raw: line, event: e, row, modRiskWith });
    } catch (err) {
      deadLetters.push(deadLetter(line ?? payloadOf(e), `enrichment failed: ${(err as Error).message}`, e.ts, source));
    }
  };

  const toEntry = (d: Delivery): Entry => {
    const rows: PendingRow[] = [];
    const deadLetters: DeadLetter[] = [];
    const source = `bus:${d.msgId}`;
    const objects = d.events;
    if (objects) {
      for (const o of objects) addEvent(o, null, d, source, rows, deadLetters);
      return { delivery: d, size: Math.max(1, objects.length), rows, deadLetters };
    }
    const lines = splitEventLines(d.data);
    for (const line of lines) {
      let input: unknown;
      try {
        input = JSON.parse(line);
      } catch (err) {
        metrics.eventsIn.invalid++;
        deadLetters.push(deadLetter(line, `invalid JSON: ${(err as Error).message}`, d.publishedAt, source));
        continue;
      }
      addEvent(input, line, d, source, rows, deadLetters);
    }
    return { delivery: d, size: Math.max(1, lines.length), rows, deadLetters };
  };

  const done = (async () => {
    analyzer ??= await loadAnalyzer(log, { emoteScoresFile: config.emotes.scoresFile });
    // One log line says which models were found; without any, the lexicon/learned scorers and keyword
    // topics do the work (nothing else changes). Workers load only when a model is present.
    if (opts.models === undefined) models = await openModelRuntime({ modelsDir: config.models.dir, logger: log });
    // Without the opt-out list nothing may be stored; retry until it can be read.
    while (!(await optOuts.refresh()) && !stopping) await new Promise((r) => setTimeout(r, 1000));
    let turn = performance.now();
    for await (const d of consumer.deliveries()) {
      await buffer.add(toEntry(d));
      if (stopping) break;
      // Deliveries that are already waiting (the in-process bus, a pulled JetStream batch) arrive as a
      // chain of resolved promises: microtasks only, so without a turn of the event loop the insert
      // that just returned, the API of the same process and the timers wait behind the whole queue
      // (measured: event-loop delay p99 ~300 ms, max ~1.1 s on bench/enrich single mode).
      if (performance.now() - turn > YIELD_EVERY_MS) {
        await new Promise((r) => setImmediate(r));
        turn = performance.now();
      }
    }
  })().catch((err: unknown) => {
    log.error({ err }, 'enrich consume loop failed');
    throw err;
  });
  // `done` is awaited by stop(); this keeps an unobserved failure from crashing the process twice.
  done.catch(() => {});

  return {
    metrics,
    stored: () => buffer.drain(),
    done,
    refreshTopics: () => topics.run({ wait: true, full: true }),
    async stop() {
      // Order matters: no new deliveries, then the last batch stored and acked, then our timers.
      stopping = true;
      await consumer.stop();
      await done.catch(() => {});
      await buffer.close();
      // topics of what the last batches stored (bounded: the rows are safe already, and an unreachable
      // ClickHouse must not hold a shutdown for a request timeout per channel), then the model workers
      if (topicTimer) clearInterval(topicTimer);
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([topics.run({ wait: true, ifStored: true }), new Promise((r) => (bound = setTimeout(r, STOP_TOPICS_MS)))]);
      clearTimeout(bound);
      // past the bound: no further range may start on a database the caller is about to close
      topics.abort();
      if (opts.models === undefined) await models?.close();
      optOuts.close();
      ownEmotes?.close();
    },
  };
}
