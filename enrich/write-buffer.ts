/**
 * Write buffer between the bus and ClickHouse, after Plausible's write_buffer.ex: collect entries,
 * flush when `batchSize` events are waiting or the oldest has waited `flushMs`, flush on shutdown.
 * One flush runs at a time (a single writer per process, which the exactly-once check relies on);
 * entries arriving meanwhile wait in the next batch, and `add` waits (back-pressure on the bus) when
 * `maxPending` events are queued.
 *
 * Bus messages are acknowledged only after the batch holding their events was stored. A failed flush
 * hands its messages back (`nak`) with a growing delay (capped) and holds the next flush for as long,
 * so an unreachable ClickHouse costs retries, not data. Slow flushes call `working()` so the bus does
 * not redeliver what is merely waiting.
 */
import type { Delivery } from '../core/bus.ts';
import type { Logger } from '../core/logger.ts';

export interface BufferEntry {
  delivery: Delivery;
  /** Events this entry holds (counts towards `batchSize`). */
  size: number;
}

export interface WriteBufferOptions<T extends BufferEntry> {
  /** Events per flush; reaching it flushes at once (`config.enrich.batchSize`). */
  batchSize: number;
  /** Longest an event waits before its batch is flushed (`config.enrich.flushMs`). */
  flushMs: number;
  /** Events queued before `add` waits. Default 4 x batchSize. */
  maxPending?: number;
  /** Stores a batch; throws when it could not (every entry is then handed back to the bus). */
  flush: (entries: T[]) => Promise<void>;
  /** First retry delay after a failed flush; doubles per consecutive failure. Default 250 ms. */
  retryBaseMs?: number;
  /** Cap of the retry delay. Default 5 s: recovery within seconds of ClickHouse coming back. */
  retryMaxMs?: number;
  /** How often waiting and in-flight deliveries are told the bus we are still working. Default 10 s. */
  workingEveryMs?: number;
  logger: Logger;
  /** Called after a batch was acknowledged or handed back. */
  onSettled?: (entries: T[], ok: boolean, err: unknown) => void;
}

export class WriteBuffer<T extends BufferEntry> {
  private readonly opts: Required<Omit<WriteBufferOptions<T>, 'onSettled'>> & Pick<WriteBufferOptions<T>, 'onSettled'>;
  private pending: T[] = [];
  /** When each pending entry was added (the oldest decides when the next tick is due). */
  private pendingAt: number[] = [];
  private pendingEvents = 0;
  private inFlight: T[] = [];
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private holdUntil = 0;
  private closing = false;
  private readonly roomWaiters: Array<() => void> = [];
  private readonly heartbeat: NodeJS.Timeout;

  constructor(opts: WriteBufferOptions<T>) {
    // `??` rather than spreading defaults: callers pass options through as explicit `undefined`.
    this.opts = {
      ...opts,
      maxPending: opts.maxPending ?? opts.batchSize * 4,
      retryBaseMs: opts.retryBaseMs ?? 250,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      workingEveryMs: opts.workingEveryMs ?? 10_000,
    };
    this.heartbeat = setInterval(() => {
      for (const e of this.inFlight) e.delivery.working();
      for (const e of this.pending) e.delivery.working();
    }, this.opts.workingEveryMs);
    this.heartbeat.unref();
  }

  /** Queues an entry; resolves once there is room for more (back-pressure). */
  async add(entry: T): Promise<void> {
    this.pending.push(entry);
    this.pendingAt.push(Date.now());
    this.pendingEvents += entry.size;
    if (this.pendingEvents >= this.opts.batchSize) this.kick();
    else this.schedule();
    while (this.pendingEvents >= this.opts.maxPending && !this.closing) {
      this.kick();
      await new Promise<void>((r) => this.roomWaiters.push(r));
    }
  }

  /** Events queued and in flight. */
  get depth(): number {
    return this.pendingEvents + this.inFlight.reduce((n, e) => n + e.size, 0);
  }

  /** Flushes now and resolves when everything added so far was stored or handed back. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.running) {
      this.kick();
      await this.running;
    }
  }

  /** Final flush (one attempt per batch; a failure hands messages back to the bus) and stop. */
  async close(): Promise<void> {
    this.closing = true;
    this.holdUntil = 0;
    await this.drain();
    clearInterval(this.heartbeat);
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.roomWaiters.splice(0)) r();
  }

  private schedule() {
    if (this.timer || this.running || this.pending.length === 0) return;
    const wait = Math.max(0, this.pendingAt[0] + this.opts.flushMs - Date.now(), this.holdUntil - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, wait);
  }

  private kick() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      this.schedule();
    });
  }

  private async loop(): Promise<void> {
    while (this.pending.length > 0) {
      const hold = this.holdUntil - Date.now();
      if (hold > 0 && !this.closing) await new Promise((r) => setTimeout(r, hold));
      const batch = this.take();
      this.inFlight = batch;
      try {
        await this.opts.flush(batch);
        this.failures = 0;
        this.holdUntil = 0;
        // Acks go out only now that every event of these messages is stored.
        await Promise.all(batch.map((e) => e.delivery.ack()));
        this.opts.onSettled?.(batch, true, null);
      } catch (err) {
        this.failures++;
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (this.failures - 1));
        this.holdUntil = Date.now() + delay;
        this.opts.logger.warn({ err: (err as Error).message, failures: this.failures, retryInMs: delay, messages: batch.length }, 'storing a batch failed; handing it back to the bus');
        for (const e of batch) e.delivery.nak(delay);
        this.opts.onSettled?.(batch, false, err);
      } finally {
        this.inFlight = [];
      }
      if (this.pendingEvents < this.opts.maxPending) for (const r of this.roomWaiters.splice(0)) r();
      // A partial batch waits for its tick (unless shutting down), so small batches do not run back to back.
      if (!this.closing && this.pendingEvents < this.opts.batchSize) break;
    }
  }

  private take(): T[] {
    let n = 0;
    let i = 0;
    // Group commit: everything that queued up during the previous insert goes into this one (up to
    // maxPending). Each insert has a fixed cost (one part per table and view: ~100 ms embedded), so under
    // load fewer, larger inserts keep up where batchSize-sized ones fall behind; at low rates batches
    // stay small and the tick bounds latency.
    while (i < this.pending.length && (i === 0 || n + this.pending[i].size <= this.opts.maxPending)) n += this.pending[i++].size;
    const batch = this.pending.splice(0, i);
    this.pendingAt.splice(0, i);
    this.pendingEvents -= n;
    return batch;
  }
}
