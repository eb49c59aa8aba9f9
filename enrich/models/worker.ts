/**
 * Worker-thread entry: loads the models named in workerData and answers inference jobs one at a
 * time. Inference is CPU-bound for tens of milliseconds per batch; running it here keeps the
 * main thread's event loop free to read the bus and ack.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadLocalModel, type LoadedModel, type LoadOptions } from './load.ts';
import type { ModelTask } from './manifest.ts';

export interface WorkerInit extends LoadOptions {
  modelsDir: string;
  models: Partial<Record<ModelTask, string>>;
}

export type WorkerRequest = { job: number; task: ModelTask; texts: string[] };
export type WorkerReply =
  | { type: 'ready'; loaded: Partial<Record<ModelTask, string>>; errors: Partial<Record<ModelTask, string>> }
  | { type: 'result'; job: number; ok: true; result: unknown }
  | { type: 'result'; job: number; ok: false; error: string };

const init = workerData as WorkerInit;
const port = parentPort!;
const loaded = new Map<ModelTask, LoadedModel>();
const errors: Partial<Record<ModelTask, string>> = {};
for (const [task, id] of Object.entries(init.models) as Array<[ModelTask, string]>) {
  try {
    loaded.set(task, await loadLocalModel(init.modelsDir, id, task, init));
  } catch (err) {
    errors[task] = err instanceof Error ? err.message : String(err);
  }
}
port.postMessage({ type: 'ready', loaded: Object.fromEntries([...loaded].map(([t, m]) => [t, m.id])), errors } satisfies WorkerReply);

port.on('message', async (req: WorkerRequest) => {
  const model = loaded.get(req.task);
  try {
    if (!model) throw new Error(`no ${req.task} model loaded in this worker`);
    const result = await model.run(req.texts);
    // Embeddings are transferred, not copied: 384 floats x batch would otherwise be cloned.
    const transfer = req.task === 'embeddings' ? (result as Float32Array[]).map((v) => v.buffer as ArrayBuffer) : [];
    port.postMessage({ type: 'result', job: req.job, ok: true, result } satisfies WorkerReply, transfer);
  } catch (err) {
    port.postMessage({ type: 'result', job: req.job, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
  }
});
