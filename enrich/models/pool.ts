/**
 * A small pool of model worker threads with a bounded queue. Each worker runs one batch at a time
 * (onnxruntime parallelises inside the batch with its own intra-op threads); when the queue is full,
 * callers wait for space instead of piling up unbounded memory, which is the back-pressure the
 * consumer sees as a slower promise, not as a blocked event loop.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ModelTask } from './manifest.ts';
import type { WorkerInit, WorkerReply } from './worker.ts';

interface Job {
  job: number;
  task: ModelTask;
  texts: string[];
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  busy: Job | null;
}

export interface ReadyReport {
  loaded: Partial<Record<ModelTask, string>>;
  errors: Partial<Record<ModelTask, string>>;
}

export interface PoolOptions {
  size: number;
  maxQueue: number;
  init: WorkerInit;
  execArgv?: string[];
  logger?: Logger;
}

/** Respawns after crashes are capped so a model that kills its worker cannot loop forever. */
const MAX_RESPAWNS = 3;

export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private readonly spaceWaiters: Array<() => void> = [];
  private nextJob = 1;
  private closed = false;
  private respawns = 0;
  private readonly o: PoolOptions;
  /** Resolves with the first worker's load report (all workers load the same models). */
  readonly ready: Promise<ReadyReport>;
  private resolveReady!: (r: ReadyReport) => void;
  private rejectReady!: (e: Error) => void;

  constructor(o: PoolOptions) {
    this.o = o;
    this.ready = new Promise<ReadyReport>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Observed by openModelRuntime; this keeps a late crash from becoming an unhandled rejection.
    this.ready.catch(() => undefined);
    for (let i = 0; i < o.size; i++) this.spawn();
  }

  /** Jobs waiting for a worker (for metrics and tests). */
  get queued(): number {
    return this.queue.length;
  }

  private spawn(): void {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), {
      workerData: this.o.init,
      // Only explicit extras: the parent's execArgv can hold per-process flags (node --test adds some)
      // that Worker rejects; without the option, Node passes on the ones workers accept.
      ...(this.o.execArgv ? { execArgv: this.o.execArgv } : {}),
    });
    const slot: Slot = { worker, ready: false, busy: null };
    this.slots.add(slot);
    worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'ready') {
        slot.ready = true;
        this.resolveReady({ loaded: msg.loaded, errors: msg.errors });
        this.pump();
        return;
      }
      const job = slot.busy;
      slot.busy = null;
      if (job && job.job === msg.job) {
        if (msg.ok) job.resolve(msg.result);
        else job.reject(new Error(`${job.task} model failed: ${msg.error}`));
      }
      this.pump();
    });
    const fail = (err: Error) => {
      if (!this.slots.delete(slot)) return;
      slot.busy?.reject(new Error(`model worker died: ${err.message}`));
      slot.busy = null;
      if (this.closed) return;
      this.rejectReady(err);
      this.o.logger?.error({ err }, 'model worker died');
      if (this.respawns++ < MAX_RESPAWNS) this.spawn();
      else if (this.slots.size === 0) this.failAll(new Error(`model workers keep dying (${err.message}); giving up`));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
  }

  private failAll(err: Error): void {
    for (const job of this.queue.splice(0)) job.reject(err);
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.busy || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.busy = job;
      slot.worker.postMessage({ job: job.job, task: job.task, texts: job.texts });
      this.spaceWaiters.shift()?.();
    }
  }

  /**
   * Runs one batch on the next free worker; waits for queue space first when the queue is full.
   * An aborted signal drops the batch if it is still queued (a batch already on a worker finishes),
   * so a caller that gave up on a time budget does not leave work behind for the pool.
   */
  async run(task: ModelTask, texts: string[], signal?: AbortSignal): Promise<unknown> {
    while (this.queue.length >= this.o.maxQueue && !this.closed && !signal?.aborted) await new Promise<void>((r) => this.spaceWaiters.push(r));
    signal?.throwIfAborted();
    if (this.closed) throw new Error('model runtime is closed');
    if (this.slots.size === 0) throw new Error('no model workers are running');
    return new Promise((resolve, reject) => {
      const job: Job = { job: this.nextJob++, task, texts, resolve, reject };
      this.queue.push(job);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.queue.indexOf(job);
          if (at < 0) return;
          this.queue.splice(at, 1);
          this.spaceWaiters.shift()?.();
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('model runtime is closed'));
    const slots = [...this.slots];
    this.slots.clear();
    for (const s of slots) s.busy?.reject(new Error('model runtime is closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
