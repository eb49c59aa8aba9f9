/**
 * Local transformer models (sentiment, toxicity, sentence embeddings) through transformers.js and
 * onnxruntime-node, loaded only from the models folder and run in worker threads.
 *
 * Without models nothing fails: {@link openModelRuntime} reports what it found in one log line,
 * `available` is all null and the methods reject with {@link ModelUnavailableError}; callers keep
 * using the lexicon/learned scorers of enrich/analysis.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { SentimentScores } from './labels.ts';
import { missingFiles, modelFolder } from './load.ts';
import { DEFAULT_MODELS, type ModelTask } from './manifest.ts';
import { WorkerPool } from './pool.ts';

export type { SentimentScores } from './labels.ts';
export type { ModelTask } from './manifest.ts';
export { DEFAULT_MODELS } from './manifest.ts';
export { ModelNotFoundError, loadLocalModel, modelFolder } from './load.ts';

/** A method was called for a task whose model is not installed. */
export class ModelUnavailableError extends Error {
  readonly task: ModelTask;
  constructor(task: ModelTask, detail: string) {
    super(`no ${task} model: ${detail}`);
    this.name = 'ModelUnavailableError';
    this.task = task;
  }
}

export interface ModelRuntime {
  /** Model id per task, or null when it is not installed or failed to load. */
  readonly available: { sentiment: string | null; toxicity: string | null; embeddings: string | null };
  /** Class probabilities per text; `neutral` is 0 for 2-label models such as SST-2. */
  sentiment(texts: string[], opts?: CallOptions): Promise<SentimentScores[]>;
  /** Probability in [0, 1] that each text is toxic. */
  toxicity(texts: string[], opts?: CallOptions): Promise<number[]>;
  /** L2-normalised sentence vectors (384 dims for MiniLM). */
  embed(texts: string[], opts?: CallOptions): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export interface CallOptions {
  /**
   * Abort to drop this call's batches that are still queued, e.g. `AbortSignal.timeout(budgetMs)`
   * when the caller stores lexicon scores after a budget; the promise then rejects.
   */
  signal?: AbortSignal;
}

export interface ModelRuntimeOptions {
  /** Folder holding `<org>/<name>/` model folders (config `models.dir`, env `TWICHIST_MODELS_DIR`). */
  modelsDir: string;
  /** Weights to load: `q8` reads `onnx/model_quantized.onnx` (default), `fp32` reads `onnx/model.onnx`. */
  dtype?: 'q8' | 'fp32';
  /** onnxruntime intra-op threads per worker. Default 1: throughput comes from workers, not threads. */
  threads?: number;
  /** Worker threads. Each loads every model, so memory grows by at least the weight files' size per worker. Default min(2, cores - 1), at least 1. */
  workers?: number;
  /** Texts per inference call. Larger batches amortise the worker hop but pad to the longest text. Default 32. */
  batchSize?: number;
  /** Batches waiting for a worker before callers are made to wait. Default 64. */
  maxQueue?: number;
  /** Tokens kept per text. Default 128 (chat lines are short; cost grows with its square). */
  maxLength?: number;
  /** Model id per task; `null` disables a task. Defaults: {@link DEFAULT_MODELS}. */
  models?: Partial<Record<ModelTask, string | null>>;
  /** Extra Node flags for the workers (e.g. `--import` of a preload; tests use it to guard the network). */
  workerExecArgv?: string[];
  logger?: Logger;
}

const TASKS: ModelTask[] = ['sentiment', 'toxicity', 'embeddings'];

/** Restores input order after batches were formed from length-sorted texts. */
function lengthSortedBatches(texts: string[], size: number): number[][] {
  // Sorting by length first means each batch pads to similar lengths; padding is pure wasted work.
  const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += size) batches.push(order.slice(i, i + size));
  return batches;
}

/** The start-up lines {@link openModelRuntime} has logged at info in this process. */
const saidModels = new Set<string>();

/**
 * Opens the runtime. Never throws for missing or broken models: it logs one line saying which
 * models were found and which were not, and marks the missing ones unavailable.
 */
export async function openModelRuntime(opts: ModelRuntimeOptions): Promise<ModelRuntime> {
  const dtype = opts.dtype ?? 'q8';
  const log = opts.logger;
  const wanted: Partial<Record<ModelTask, string>> = {};
  const missing: Partial<Record<ModelTask, string>> = {};
  /** Tasks whose files are simply absent: the usual case, named without the paths (see the log below). */
  const notInstalled = new Set<ModelTask>();
  for (const task of TASKS) {
    const id = opts.models?.[task] === undefined ? DEFAULT_MODELS.find((m) => m.task === task)!.id : opts.models[task];
    if (id === null) {
      missing[task] = 'disabled';
      continue;
    }
    const gone = missingFiles(opts.modelsDir, id, dtype);
    if (gone.length === 0) wanted[task] = id;
    else {
      missing[task] = `${id} not found in ${modelFolder(opts.modelsDir, id)}` + (gone.length < 4 ? ` (missing ${gone.join(', ')})` : '');
      notInstalled.add(task);
    }
  }

  const available: ModelRuntime['available'] = { sentiment: null, toxicity: null, embeddings: null };
  let pool: WorkerPool | null = null;
  if (Object.keys(wanted).length > 0) {
    pool = new WorkerPool({
      size: Math.max(1, opts.workers ?? Math.min(2, availableParallelism() - 1)),
      maxQueue: opts.maxQueue ?? 64,
      execArgv: opts.workerExecArgv,
      logger: log,
      init: { modelsDir: opts.modelsDir, models: wanted, dtype, threads: opts.threads ?? 1, maxLength: opts.maxLength ?? 128 },
    });
    try {
      const report = await pool.ready;
      Object.assign(available, report.loaded);
      for (const [task, err] of Object.entries(report.errors)) missing[task as ModelTask] = `failed to load: ${err}`;
    } catch (err) {
      for (const task of Object.keys(wanted)) missing[task as ModelTask] = `worker failed to start: ${(err as Error).message}`;
      await pool.close();
      pool = null;
    }
    if (pool && TASKS.every((t) => available[t] === null)) {
      await pool.close();
      pool = null;
    }
  }

  const found = TASKS.filter((t) => available[t] !== null).map((t) => `${t}=${available[t]}`);
  // A model that is not installed is named, not its id, folder and files: that detail made every
  // `twichist import` on a machine without models print a JSON line of 1,082 characters (data in /tmp). It is at debug.
  const absent = TASKS.filter((t) => available[t] === null).map((t) => (notInstalled.has(t) ? t : `${t}: ${missing[t]}`));
  const line =
    `models (${dtype}) found: ${found.length ? found.join(', ') : 'none'}; not found: ${absent.length ? absent.join(absent.some((a) => a.includes(':')) ? '; ' : ', ') : 'none'}` +
    (absent.length ? ' -- those stages use the lexicon/learned scorers (run `twichist models pull` to add models)' : '');
  // Once per process at info (a process that opens the runtime again with the same outcome says it at debug).
  log?.[saidModels.has(line) ? 'debug' : 'info']({ modelsDir: opts.modelsDir }, line);
  saidModels.add(line);
  if (absent.length) log?.debug({ modelsDir: opts.modelsDir, dtype, available, missing }, 'models not found, per task');

  const batchSize = opts.batchSize ?? 32;
  async function run<T>(task: ModelTask, texts: string[], signal?: AbortSignal): Promise<T[]> {
    if (available[task] === null || pool === null) throw new ModelUnavailableError(task, missing[task] ?? 'runtime closed');
    if (texts.length === 0) return [];
    const batches = lengthSortedBatches(texts, batchSize);
    const p = pool;
    const results = await Promise.all(batches.map((idx) => p.run(task, idx.map((i) => texts[i]), signal) as Promise<T[]>));
    const out = new Array<T>(texts.length);
    batches.forEach((idx, b) => idx.forEach((i, k) => (out[i] = results[b][k])));
    return out;
  }

  return {
    available,
    sentiment: (texts, o) => run<SentimentScores>('sentiment', texts, o?.signal),
    toxicity: (texts, o) => run<number>('toxicity', texts, o?.signal),
    embed: (texts, o) => run<Float32Array>('embeddings', texts, o?.signal),
    async close() {
      const p = pool;
      pool = null;
      await p?.close();
    },
  };
}
