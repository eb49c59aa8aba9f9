/**
 * The event bus between ingest and enrich. Two implementations with one contract:
 * - JetStream (`NATS_URL` set): durable, shared by separate processes (`ingest/jetstream.ts`, `enrich/consumer.ts`).
 * - In-process (single machine, the default): a bounded queue inside one process, below.
 *
 * A bus message carries one or more events as NDJSON, so publishing 50,000 events/s does not need
 * 50,000 NATS messages/s. Consumers validate what they get themselves: what arrives over a bus is
 * untrusted and a bad record must reach the dead-letter table, not crash the consumer. The in-process
 * bus hands over the published objects (`Delivery.events`) instead of text: serializing and parsing
 * each event only to get the same object back cost ~8 µs per event (JSON both ways, plus garbage).
 */
import type { ChatEvent } from './events.ts';

/** One bus message as a consumer sees it. Semantics follow JetStream's (ack/nak/term/working). */
export interface Delivery {
  /** NDJSON: one event per line. With `events` set it is built from them on first read. */
  readonly data: string;
  /**
   * In-process bus only: the published events as objects, in order (what `data` would parse to).
   * Untrusted like `data`: validate each one. Consumers that can take objects read this instead of `data`.
   */
  readonly events?: readonly unknown[];
  /** De-duplication id of the whole message (JetStream `Nats-Msg-Id`). */
  readonly msgId: string;
  /** Stream sequence (JetStream) or a monotonically increasing counter (in-process). */
  readonly seq: number;
  /** How many times this message was delivered, 1 on first delivery. */
  readonly deliveryCount: number;
  /** Ms since epoch when the message entered the bus. */
  readonly publishedAt: number;
  ack(): Promise<void>;
  /** Ask for redelivery after `delayMs`. */
  nak(delayMs?: number): void;
  /** Never deliver again (poison). */
  term(reason?: string): void;
  /** Still processing: extend the ack deadline. */
  working(): void;
}

export interface BusPublisher {
  /**
   * Publishes events as one bus message; resolves when the bus has accepted it (JetStream PubAck).
   * Awaiting it is the back-pressure: callers keep a bounded number of publishes in flight.
   */
  publish(channel: string, events: ChatEvent[]): Promise<void>;
  /** Waits for every publish in flight. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface BusConsumer {
  /** Yields deliveries until `stop()`; a stopped consumer's iterator ends after the current fetch. */
  deliveries(): AsyncIterable<Delivery>;
  stop(): Promise<void>;
}

export function encodeEvents(events: readonly ChatEvent[]): string {
  let out = '';
  for (const e of events) out += JSON.stringify(e) + '\n';
  return out;
}

/**
 * `lines`, each followed by a newline, as one UTF-8 Buffer. Each string is encoded on its own: a
 * concatenated string turns two-byte as a whole as soon as one line holds an emoji, and flattening and
 * encoding ~10 MB of that was a large share of the publish and insert profiles.
 * Not from the shared pool: callers keep the buffer until a PubAck or an insert answered.
 */
export function utf8Lines(lines: readonly string[]): Buffer {
  let total = lines.length;
  for (let i = 0; i < lines.length; i++) total += Buffer.byteLength(lines[i], 'utf8');
  const buf = Buffer.allocUnsafeSlow(total);
  let off = 0;
  for (let i = 0; i < lines.length; i++) {
    off += buf.write(lines[i], off, 'utf8');
    buf[off++] = 10;
  }
  return buf;
}

/** Splits NDJSON into lines with their index; empty lines are skipped. */
export function splitEventLines(data: string): string[] {
  const lines = data.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  // the usual message has no empty line: no copy then
  for (let i = 0; i < lines.length; i++) if (lines[i].length === 0) return lines.filter((l) => l.length > 0);
  return lines;
}

interface Pending {
  /** A copy of the published array (the publisher may reuse its own). */
  events: readonly ChatEvent[];
  msgId: string;
  seq: number;
  deliveryCount: number;
  publishedAt: number;
}

/**
 * Single-process bus: a bounded FIFO with ack/nak semantics, so the enrich stage runs the same code
 * whether its events come from here or from JetStream. It is not durable: a crash loses what is queued
 * (at most `capacity` messages). Graceful shutdown drains it; crash safety needs JetStream (`NATS_URL`).
 */
export class InProcessBus {
  private readonly queue: Pending[] = [];
  private readonly waitingConsumers: Array<() => void> = [];
  private readonly waitingPublishers: Array<() => void> = [];
  private unacked = 0;
  private seq = 0;
  private stopped = false;
  private readonly capacity: number;
  private readonly idleWaiters: Array<() => void> = [];

  /** @param capacity bus messages queued or unacknowledged before `publish` waits (back-pressure). */
  constructor(capacity = 256) {
    this.capacity = capacity;
  }

  publisher(): BusPublisher {
    return {
      publish: async (_channel, events) => {
        if (events.length === 0) return;
        while (this.queue.length + this.unacked >= this.capacity && !this.stopped) {
          await new Promise<void>((r) => this.waitingPublishers.push(r));
        }
        if (this.stopped) throw new Error('bus is closed');
        this.seq += 1;
        this.queue.push({ events: events.slice(), msgId: events.length === 1 ? events[0].id : `batch:${events[0].id}:${events.length}`, seq: this.seq, deliveryCount: 0, publishedAt: Date.now() });
        this.wakeOne(this.waitingConsumers);
      },
      flush: async () => {},
      close: async () => {},
    };
  }

  consumer(): BusConsumer {
    let stopped = false;
    let wake: (() => void) | null = null;
    const self = this;
    return {
      async *deliveries() {
        while (!stopped) {
          const item = self.queue.shift();
          if (!item) {
            self.notifyIdle();
            await new Promise<void>((r) => {
              wake = r;
              self.waitingConsumers.push(r);
            });
            continue;
          }
          item.deliveryCount += 1;
          self.unacked += 1;
          yield self.delivery(item);
        }
      },
      async stop() {
        stopped = true;
        if (wake === null) return;
        // Withdraw from the waiters first: a resolver left there would take the next publish's
        // wake-up and leave a live consumer asleep until another publish.
        const i = self.waitingConsumers.indexOf(wake);
        if (i !== -1) self.waitingConsumers.splice(i, 1);
        wake();
      },
    };
  }

  private delivery(item: Pending): Delivery {
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.unacked -= 1;
      this.wakeOne(this.waitingPublishers);
      return true;
    };
    let data: string | null = null;
    return {
      get data() {
        return (data ??= encodeEvents(item.events));
      },
      events: item.events,
      msgId: item.msgId,
      seq: item.seq,
      deliveryCount: item.deliveryCount,
      publishedAt: item.publishedAt,
      ack: async () => {
        if (settle()) this.notifyIdle();
      },
      nak: (delayMs = 0) => {
        if (!settle()) return;
        this.unacked += 1; // still owed until redelivered
        setTimeout(() => {
          this.unacked -= 1;
          this.queue.unshift(item);
          this.wakeOne(this.waitingConsumers);
        }, delayMs).unref();
      },
      term: () => {
        if (settle()) this.notifyIdle();
      },
      working: () => {},
    };
  }

  /** Resolves when nothing is queued or unacknowledged: everything published so far is stored. */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.unacked > 0) {
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  get depth(): number {
    return this.queue.length + this.unacked;
  }

  close(): void {
    this.stopped = true;
    for (const r of this.waitingPublishers.splice(0)) r();
    for (const r of this.waitingConsumers.splice(0)) r();
  }

  private notifyIdle() {
    if (this.queue.length === 0 && this.unacked === 0) for (const r of this.idleWaiters.splice(0)) r();
  }

  private wakeOne(list: Array<() => void>) {
    list.shift()?.();
  }
}
