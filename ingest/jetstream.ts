/**
 * Publishing chat events to JetStream (`BusPublisher` from core/bus.ts), the stream definition, and the
 * micro-batcher that groups events per channel into bus messages.
 *
 * Why batches: one event per JetStream message measured ~11,000 msg/s on this class of machine; with
 * bus messages of up to 200 events (NDJSON) a few hundred messages/s carry 50,000 events/s, and the
 * cost moves to our own CPU (parse + JSON + encode: 62-64k events per CPU-second, ingest/README.md).
 * Why bounded in-flight: every unacknowledged publish holds its batch in memory. With NATS slow or
 * down, `MicroBatcher.push` stops resolving once `maxInFlight` batches wait for their PubAck, so the
 * producer (import, replay) waits instead of buffering without limit. Ceiling: (maxInFlight + open
 * channels) x maxEvents events, e.g. (64 + 1) x 200 = 13,000 events (~10 MB) with the defaults.
 */
import { createHash } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, jetstream, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { utf8Lines, type BusPublisher } from '../core/bus.ts';
import type { Config } from '../core/config.ts';
import type { ChatEvent } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import { chatStreamSubjects, chatSubject } from '../core/subjects.ts';

/**
 * `noAsyncTraces`: nats.js otherwise creates an Error per request to keep the caller's stack for a
 * later timeout (~2% of the parse+publish profile); publish failures are logged by subject instead.
 */
export async function connectNats(url: string, name = 'twichist-ingest'): Promise<NatsConnection> {
  return connect({ servers: url.split(',').map((s) => s.trim()), name, maxReconnectAttempts: -1, reconnectTimeWait: 1000, noAsyncTraces: true });
}

/**
 * Creates the chat stream, or updates subjects / duplicate window when they differ. Idempotent and
 * safe to race: two ingestors starting together both end with the same stream.
 */
export async function ensureChatStream(nc: NatsConnection, nats: Config['nats']): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const subjects = chatStreamSubjects(nats.subjectPrefix);
  const dupNs = nats.duplicateWindowMs * 1_000_000;
  try {
    const info = await jsm.streams.info(nats.stream);
    const c = info.config;
    if (c.duplicate_window !== dupNs || JSON.stringify([...c.subjects].sort()) !== JSON.stringify([...subjects].sort())) {
      await jsm.streams.update(nats.stream, { ...c, subjects, duplicate_window: dupNs });
    }
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add({ name: nats.stream, subjects, storage: StorageType.File, duplicate_window: dupNs });
  } catch (err) {
    // Lost a creation race: the other side created the same stream.
    if (!/already in use/i.test(String((err as Error).message))) throw err;
  }
}

/** A JetStream API answer saying the stream (or consumer) asked for does not exist. */
export function isNotFound(err: unknown): boolean {
  const msg = String((err as Error)?.message ?? err);
  return /not found/i.test(msg) || (err as { code?: unknown })?.code === '404';
}

/**
 * Bus message id: the event id for one event, else a hash of every id, so a retried batch is recognised.
 * The same value as `deterministicId('batch', n, ...ids)` (asserted in test/ingest/jetstream.test.ts),
 * computed with one `update` instead of two per event: 400 native calls per 200-event batch were ~3% of
 * the publish profile.
 */
export function batchMsgId(events: ChatEvent[]): string {
  if (events.length === 1) return events[0].id;
  let joined = `${events.length}\u0001`;
  for (const e of events) joined += e.id + '\u0001';
  return `batch:${createHash('sha1').update(joined).digest('hex').slice(0, 32)}`;
}

/**
 * The bytes of `encodeEvents(events)` (core/bus.ts NDJSON), built per event into one buffer. Why: the
 * string version concatenates a rope that the NATS client flattens and then UTF-8-encodes as a whole;
 * one emoji anywhere makes the whole 120 KB batch a two-byte string, and encoding that was ~16% of the
 * parse+publish profile. Encoding each event's JSON on its own keeps the common ASCII events on the
 * one-byte fast path. Measured without NATS (parse + encode + batch id, CPU time): 77k -> 103k events/s.
 */
export function encodeEventBatch(events: ChatEvent[]): Uint8Array {
  const json: string[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) json[i] = JSON.stringify(events[i]);
  return utf8Lines(json);
}

export interface JetStreamPublisherOptions {
  nc: NatsConnection;
  /** NATS subject prefix (config.nats.subjectPrefix). */
  subjectPrefix: string;
  logger?: Logger;
  /** PubAck wait per attempt. */
  timeoutMs?: number;
  /** Longest wait between retries of one publish (doubles from 100 ms). */
  maxBackoffMs?: number;
}

/**
 * One bus message per `publish`, with `Nats-Msg-Id` for JetStream de-duplication. A failed publish
 * (timeout, no responders while NATS restarts) is retried with the same id until it is acknowledged
 * or the publisher is closed, so "resolved" always means "stored once".
 */
export class JetStreamPublisher implements BusPublisher {
  private readonly js: JetStreamClient;
  private readonly opts: Required<Omit<JetStreamPublisherOptions, 'logger'>> & { logger: Logger | null };
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  /** Publish attempts that failed and were retried; for benchmarks and logs. */
  retries = 0;

  constructor(opts: JetStreamPublisherOptions) {
    this.opts = { timeoutMs: 5000, maxBackoffMs: 5000, ...opts, logger: opts.logger ?? null };
    this.js = jetstream(opts.nc, { timeout: this.opts.timeoutMs });
  }

  publish(channel: string, events: ChatEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const p = this.send(chatSubject(this.opts.subjectPrefix, channel), encodeEventBatch(events), batchMsgId(events));
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  private async send(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    let backoff = 100;
    for (;;) {
      if (this.closed) throw new Error('publisher closed before the bus acknowledged the message');
      try {
        await this.js.publish(subject, data, { msgID, timeout: this.opts.timeoutMs });
        return;
      } catch (err) {
        this.retries++;
        if (this.retries === 1 || this.retries % 100 === 0) this.opts.logger?.warn({ err: String(err), subject, retries: this.retries }, 'JetStream publish failed; retrying with the same Nats-Msg-Id');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
      }
    }
  }

  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
  }
}

export interface MicroBatcherOptions {
  publisher: BusPublisher;
  /** Most events in one bus message. */
  maxEvents?: number;
  /** Longest an event waits for its batch to fill (ms). */
  maxDelayMs?: number;
  /** Bus messages awaiting acknowledgement before `push` makes the caller wait. */
  maxInFlight?: number;
  /** Called when a publish finally fails (publisher closed); the batch is lost and counted. */
  onError?: (err: unknown, channel: string, events: ChatEvent[]) => void;
}

interface Open {
  events: ChatEvent[];
  timer: NodeJS.Timeout | null;
}

/**
 * Groups events per channel into batches of up to `maxEvents` or `maxDelayMs` and keeps at most
 * `maxInFlight` of them unacknowledged. `push` returns `undefined` on the fast path and a promise only
 * when the caller must wait (back-pressure), so a tight import loop does not allocate a promise per event.
 */
export class MicroBatcher {
  private readonly publisher: BusPublisher;
  private readonly maxEvents: number;
  private readonly maxDelayMs: number;
  private readonly maxInFlight: number;
  private readonly onError: MicroBatcherOptions['onError'];
  private readonly open = new Map<string, Open>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly slotWaiters: Array<() => void> = [];
  /** Events handed to the publisher and acknowledged. */
  acked = 0;
  /** Events lost because the publisher gave up (closed). */
  failed = 0;
  /** Most bus messages ever in flight at once. */
  peakInFlight = 0;

  constructor(opts: MicroBatcherOptions) {
    this.publisher = opts.publisher;
    this.maxEvents = opts.maxEvents ?? 200;
    this.maxDelayMs = opts.maxDelayMs ?? 20;
    this.maxInFlight = opts.maxInFlight ?? 64;
    this.onError = opts.onError;
  }

  push(event: ChatEvent): Promise<void> | undefined {
    let o = this.open.get(event.channel);
    if (o === undefined) {
      o = { events: [], timer: null };
      this.open.set(event.channel, o);
    }
    o.events.push(event);
    if (o.events.length >= this.maxEvents) return this.sendOpen(event.channel, o);
    if (o.timer === null) {
      const channel = event.channel;
      const batch = o;
      o.timer = setTimeout(() => {
        batch.timer = null;
        if (batch.events.length > 0) void this.sendOpen(channel, batch);
      }, this.maxDelayMs);
    }
    return undefined;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private sendOpen(channel: string, o: Open): Promise<void> | undefined {
    if (o.timer !== null) {
      clearTimeout(o.timer);
      o.timer = null;
    }
    const events = o.events;
    o.events = [];
    const p = this.publisher.publish(channel, events).then(
      () => {
        this.acked += events.length;
      },
      (err) => {
        this.failed += events.length;
        this.onError?.(err, channel, events);
      },
    );
    this.inFlight.add(p);
    if (this.inFlight.size > this.peakInFlight) this.peakInFlight = this.inFlight.size;
    void p.then(() => {
      this.inFlight.delete(p);
      this.slotWaiters.shift()?.();
    });
    return this.inFlight.size >= this.maxInFlight ? this.waitForSlot() : undefined;
  }

  private async waitForSlot(): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await new Promise<void>((r) => this.slotWaiters.push(r));
  }

  /** Sends every open batch and waits until all are acknowledged, including events pushed meanwhile. */
  async flush(): Promise<void> {
    for (;;) {
      const sent = this.sendAllOpen();
      if (!sent && this.inFlight.size === 0) break;
      await Promise.allSettled([...this.inFlight]);
    }
    await this.publisher.flush();
  }

  /**
   * Flushes until nothing is open. Events pushed while the last batches were in flight (a live
   * connection still delivering while it closes) are published too instead of being cleared with the
   * open batches: before, they were dropped silently.
   */
  async close(): Promise<void> {
    do await this.flush();
    while (this.sendAllOpen());
    for (const o of this.open.values()) if (o.timer !== null) clearTimeout(o.timer);
    this.open.clear();
  }

  private sendAllOpen(): boolean {
    let sent = false;
    for (const [channel, o] of this.open) {
      if (o.events.length > 0) {
        void this.sendOpen(channel, o);
        sent = true;
      }
    }
    return sent;
  }
}
