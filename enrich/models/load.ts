/**
 * Loading and running one model with transformers.js, strictly from a local folder. Runs inside the
 * worker threads (see worker.ts); exported for tests that check the loading path directly.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AutoModel, AutoModelForSequenceClassification, AutoTokenizer, env, type PreTrainedModel, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import { sentimentMapper, toxicityMapper, type ModelConfig, type SentimentScores } from './labels.ts';
import { weightFile, type ModelTask } from './manifest.ts';

/** Raised when a model's files are not in the models folder; never triggers a download. */
export class ModelNotFoundError extends Error {
  readonly missing: string[];
  constructor(id: string, folder: string, missing: string[]) {
    super(`model ${id} is not installed: ${missing.join(', ')} missing under ${folder} (run \`twichist models pull\`, or copy the files there; models are never downloaded at run time)`);
    this.name = 'ModelNotFoundError';
    this.missing = missing;
  }
}

/** Files transformers.js reads for a model at a given dtype. */
export const requiredFiles = (dtype: 'q8' | 'fp32'): string[] => ['config.json', 'tokenizer.json', 'tokenizer_config.json', weightFile(dtype)];

/** Folder of a model id under the models dir: `<modelsDir>/<org>/<name>`. */
export const modelFolder = (modelsDir: string, id: string): string => path.join(modelsDir, ...id.split('/'));

/** Missing files of a model, relative to its folder; empty when it can be loaded. */
export function missingFiles(modelsDir: string, id: string, dtype: 'q8' | 'fp32'): string[] {
  return requiredFiles(dtype).filter((f) => !existsSync(path.join(modelFolder(modelsDir, id), f)));
}

/**
 * Points transformers.js at the local folder and forbids the hub. The settings are per thread
 * (each worker has its own copy of the module), so every worker calls this before loading.
 */
export function configureLocalOnly(modelsDir: string): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.resolve(modelsDir) + path.sep;
  // No hub means nothing to cache; leaving the FS cache on would only create an empty folder
  // inside node_modules.
  env.useFSCache = false;
  env.useBrowserCache = false;
}

export interface LoadedModel {
  id: string;
  task: ModelTask;
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  config: ModelConfig;
  run(texts: string[]): Promise<SentimentScores[] | number[] | Float32Array[]>;
}

export interface LoadOptions {
  dtype: 'q8' | 'fp32';
  /** onnxruntime intra-op threads for this session. */
  threads: number;
  /** Tokens kept per text; chat lines are short and attention cost grows with the square of this. */
  maxLength: number;
}

/**
 * Loads one model from `<modelsDir>/<id>` with `local_files_only`, checking the files first so
 * that a missing model is reported with its path rather than as a failed download.
 */
export async function loadLocalModel(modelsDir: string, id: string, task: ModelTask, o: LoadOptions): Promise<LoadedModel> {
  configureLocalOnly(modelsDir);
  const missing = missingFiles(modelsDir, id, o.dtype);
  if (missing.length > 0) throw new ModelNotFoundError(id, modelFolder(modelsDir, id), missing);
  const config = JSON.parse(readFileSync(path.join(modelFolder(modelsDir, id), 'config.json'), 'utf8')) as ModelConfig;
  const common = { local_files_only: true, dtype: o.dtype, session_options: { intraOpNumThreads: o.threads, interOpNumThreads: 1 } } as const;
  const tokenizer = await AutoTokenizer.from_pretrained(id, { local_files_only: true });
  const model = task === 'embeddings' ? await AutoModel.from_pretrained(id, common) : await AutoModelForSequenceClassification.from_pretrained(id, common);
  // Explicit max_length: some tokenizer configs (RoBERTa) say 1e30.
  const encode = (texts: string[]) => tokenizer(texts, { padding: true, truncation: true, max_length: o.maxLength });
  let run: LoadedModel['run'];
  if (task === 'embeddings') {
    run = async (texts) => {
      const inputs = encode(texts);
      const out = (await model(inputs)) as { last_hidden_state: Tensor };
      return meanPoolNormalize(out.last_hidden_state, inputs.attention_mask as Tensor);
    };
  } else {
    const map = task === 'sentiment' ? sentimentMapper(config) : toxicityMapper(config);
    run = async (texts) => {
      const out = (await model(encode(texts))) as { logits: Tensor };
      const [rows, width] = out.logits.dims as [number, number];
      const data = out.logits.data as Float32Array;
      return Array.from({ length: rows }, (_, r) => map(data.subarray(r * width, (r + 1) * width))) as SentimentScores[] | number[];
    };
  }
  return { id, task, tokenizer, model, config, run };
}

/** Sentence-transformers pooling: mean of token vectors under the attention mask, then L2 norm. */
export function meanPoolNormalize(hidden: Tensor, mask: Tensor): Float32Array[] {
  const [batch, seq, dim] = hidden.dims as [number, number, number];
  const h = hidden.data as Float32Array;
  const m = mask.data as BigInt64Array;
  const out: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const v = new Float32Array(dim);
    let count = 0;
    for (let s = 0; s < seq; s++) {
      if (m[b * seq + s] === 0n) continue;
      count++;
      const base = (b * seq + s) * dim;
      for (let d = 0; d < dim; d++) v[d] += h[base + d];
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      v[d] /= Math.max(count, 1);
      norm += v[d] * v[d];
    }
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) v[d] /= norm;
    out.push(v);
  }
  return out;
}
