/**
 * Which topic windows to recompute, decided by the tables (`topic_window_state`, migration 0043), so
 * any number of enrich processes, crashes and restarts still give every stored 5-minute window topics
 * computed from its current messages: a window is due while its messages changed after (or less than
 * {@link TOPIC_SLACK_MS} before) its newest topics were computed, whoever stored them.
 */
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { TOPIC_WINDOW_MS } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import type { TopicEmbedder } from './compute.ts';
import { dateTime, refreshTopics, serverNowMs, TOPIC_CONTEXT_MS, windowRanges } from './refresh.ts';

/** The windows `topic_window_state` tracks (its view groups messages by 5 minutes; the API reads them too). */
export { TOPIC_WINDOW_MS };
/**
 * A window counts as computed only by a read this long after its last insert started:
 * `messages.inserted_at` is taken when an insert starts and its rows become visible when it ends, so a
 * refresh reading in between misses them. An insert of this process slower than half of it puts its
 * windows on {@link TopicJob.noteStored}'s list instead (the table alone would call them done). The
 * cost: a window refreshed within this long after an insert into it is refreshed once more.
 */
export const TOPIC_SLACK_MS = 10_000;
/** Most windows one periodic run refreshes (newest first); the rest wait for the next run. */
const RUN_MAX_WINDOWS = 5_000;
const UNCAPPED = 4_000_000_000;

export interface PendingTopicOptions {
  database: string;
  /** Default {@link RUN_MAX_WINDOWS}; newest windows first. */
  limit?: number;
}

/**
 * Windows due for a topic refresh: channel -> window starts (epoch ms). Reads the whole state table
 * (one row per window once merged, two columns): `node bench/topics.ts` measured 11-33 ms for 43,210
 * windows and 165-247 ms for 864,043 (0.2-0.3 µs a window), where deriving the same from
 * `messages.inserted_at` took 70-92 ms and 1,400 ms. A check of only recent changes (a minmax index
 * on changed_at) was slower at both sizes: the windows of many channels share granules.
 */
export async function pendingTopicWindows(client: ClickHouseClient, o: PendingTopicOptions): Promise<Map<string, number[]>> {
  const rs = await client.query({
    query: `SELECT channel, toUnixTimestamp(window_start) * 1000 AS w
            FROM {db:Identifier}.topic_window_state
            GROUP BY channel, window_start
            HAVING max(changed_at) + toIntervalMillisecond({slackMs:UInt32}) > max(computed_at)
            ORDER BY window_start DESC, channel
            LIMIT {limit:UInt32}`,
    query_params: { db: o.database, slackMs: TOPIC_SLACK_MS, limit: o.limit ?? RUN_MAX_WINDOWS },
    format: 'JSONEachRow',
  });
  const out = new Map<string, number[]>();
  for (const { channel, w } of await rs.json<{ channel: string; w: number | string }>()) {
    let starts = out.get(channel);
    if (starts === undefined) out.set(channel, (starts = []));
    starts.push(Number(w));
  }
  return out;
}

/**
 * Records that messages of these windows changed other than by an insert (an opt-out deleted some),
 * so they are due until a refresh reads them afterwards. Call after the change is applied.
 */
export async function markTopicWindowsChanged(client: ClickHouseClient, database: string, windows: ReadonlyArray<{ channel: string; windowStart: number }>): Promise<void> {
  if (windows.length === 0) return;
  // The server's clock, as for inserted_at; rows in the body, not in query parameters (a prolific
  // user's windows would outgrow the URL of the HTTP interface).
  const now = dateTime(await serverNowMs(client));
  await client.insert({
    table: `${database}.topic_window_state`,
    format: 'JSONEachRow',
    values: windows.map((w) => ({ channel: w.channel, window_start: Math.floor(w.windowStart / 1000), changed_at: now, computed_at: 0 })),
    clickhouse_settings: { insert_deduplication_token: '' },
  });
}

export interface TopicJobOptions {
  client: ClickHouseClient;
  database: string;
  logger: Logger;
  /** The embedding model when one is loaded (asked at each run: models load after start). */
  embedder: () => TopicEmbedder | null;
  onRefreshed?: () => void;
  onFailed?: () => void;
}

export interface RunTopicsOptions {
  /** Wait for the deletes of older versions (see RefreshTopicsOptions.wait). */
  wait: boolean;
  /** Refresh every due window (no cap per run). */
  full?: boolean;
  /**
   * Run only if this process stored messages since the last run started (a shutdown's last run). Without it, a
   * stop right after an import's full run recomputed the windows stored within {@link TOPIC_SLACK_MS} of that run
   * once more, deletes of the versions just written included.
   */
  ifStored?: boolean;
}

export interface TopicJob {
  /** After a store: the windows of an insert slower than {@link TOPIC_SLACK_MS}/2 are refreshed at the next run whatever the table says. */
  noteStored(rows: ReadonlyArray<{ table: string; channel: string; ts: number }>, insertMs: number): void;
  /** One run (runs are serialised; a call during a run waits for it, then runs). */
  run(o: RunTopicsOptions): Promise<void>;
  /** True while a run is in progress (the timer skips its turn rather than queue behind it). */
  readonly busy: boolean;
  /** No range starts after this (a run in progress ends after its current range): a shutdown's bound. */
  abort(): void;
}

export function createTopicJob(o: TopicJobOptions): TopicJob {
  const { client, database, logger: log } = o;
  // Windows of this process's slow inserts, refreshed at the next run whatever the table says.
  let forced = new Map<string, Set<number>>();
  const force = (channel: string, w: number) => {
    let set = forced.get(channel);
    if (set === undefined) forced.set(channel, (set = new Set()));
    set.add(w);
  };
  let chain: Promise<void> = Promise.resolve();
  let running = 0;
  let storedSinceRun = false;
  let aborted = false;

  const once = async (o2: RunTopicsOptions): Promise<void> => {
    if (aborted || (o2.ifStored === true && !storedSinceRun && forced.size === 0)) return;
    // an explicit full run (after an import) is not capped: the list is numbers, each range bounded
    const due = await pendingTopicWindows(client, { database, limit: o2.full === true ? UNCAPPED : RUN_MAX_WINDOWS });
    // only now: a failed check leaves the flag and the forced windows for the next run (a shutdown's included)
    storedSinceRun = false;
    const todo = forced;
    forced = new Map();
    for (const [channel, ws] of todo) {
      const list = due.get(channel);
      if (list === undefined) due.set(channel, [...ws]);
      else list.push(...ws);
    }
    const embedder = o.embedder();
    for (const [channel, windows] of due) {
      // bounded ranges: a refresh holds its range's messages in memory
      for (const { from, to } of windowRanges(windows, TOPIC_WINDOW_MS)) {
        // the rest stays due in the table for the next process
        if (aborted) return;
        const t0 = performance.now();
        try {
          const r = await refreshTopics(client, { database, channel, since: new Date(from), until: new Date(to), contextMs: TOPIC_CONTEXT_MS, embedder, windowMs: TOPIC_WINDOW_MS, wait: o2.wait });
          o.onRefreshed?.();
          log.debug({ channel, windows: r.windows, topics: r.topics, messages: r.messages, method: r.method, ms: Math.round(performance.now() - t0) }, 'topics refreshed');
        } catch (err) {
          // the table still says due: the next run retries
          o.onFailed?.();
          log.warn({ err, channel }, 'topic refresh failed; retried at the next one');
        }
      }
    }
  };

  return {
    noteStored(rows, insertMs) {
      if (rows.some((r) => r.table === 'messages')) storedSinceRun = true;
      if (insertMs < TOPIC_SLACK_MS / 2) return;
      for (const r of rows) if (r.table === 'messages') force(r.channel, Math.floor(r.ts / TOPIC_WINDOW_MS) * TOPIC_WINDOW_MS);
    },
    run(o2) {
      running++;
      chain = chain
        .then(async () => {
          await once(o2);
        })
        .catch((err: unknown) => {
          // the check itself failed (ClickHouse unreachable): the table still says due at the next run
          log.warn({ err }, 'topic check failed; retried at the next one');
        })
        .finally(() => running--);
      return chain;
    },
    get busy() {
      return running > 0;
    },
    abort() {
      aborted = true;
    },
  };
}
