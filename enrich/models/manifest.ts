/**
 * The default models and the files `twichist models pull` fetches for each, with the sizes and
 * sha256 we know. Weight hashes come from the upstream repositories' LFS pointers; the small JSON
 * files were measured from copies of the upstream files. A `null` size/hash means we have no
 * published figure: pull then checks the byte count against the server's Content-Length and
 * records the sha256 it saw, so `list` can later detect corruption (but not a wrong upstream file).
 */

/** What a model is used for; also the key in {@link ModelRuntime.available}. */
export type ModelTask = 'sentiment' | 'toxicity' | 'embeddings';

export interface ManifestFile {
  /** Path inside the model folder, e.g. `onnx/model_quantized.onnx`. */
  path: string;
  size: number | null;
  sha256: string | null;
}

export interface ManifestModel {
  /** `null` for a model that is not one of the defaults. */
  task: ModelTask | null;
  /** Hugging Face repository id, also the folder under the models dir (`<org>/<name>`). */
  id: string;
  licence: string;
  files: ManifestFile[];
}

const f = (path: string, size: number | null, sha256: string | null): ManifestFile => ({ path, size, sha256 });

/** The three JSON files every model folder has, as [size, sha256] pairs (null, null when unknown). */
const jsonFiles = (...known: Array<[number | null, string | null]>): ManifestFile[] =>
  ['config.json', 'tokenizer.json', 'tokenizer_config.json'].map((p, i) => f(p, known[i]?.[0] ?? null, known[i]?.[1] ?? null));

export const DEFAULT_MODELS: readonly ManifestModel[] = [
  {
    task: 'sentiment',
    id: 'Xenova/distilbert-base-uncased-finetuned-sst-2-english',
    licence: 'Apache-2.0',
    files: [
      ...jsonFiles(
        [735, 'b0e9ec981125ef799f31847b1410053069e7708078bb2236ae05239efdd4d428'],
        [711396, 'd241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66'],
        [372, '2bbf2ea55c232406706144b907ca020cd7528a78e3e4741115be3b3566542b0b'],
      ),
      f('onnx/model_quantized.onnx', 67581197, '79b45c7fd8c2673aa53615aba07caeb2de798f63a95a2393a365982429c94f7f'),
    ],
  },
  {
    task: 'embeddings',
    id: 'Xenova/all-MiniLM-L6-v2',
    licence: 'Apache-2.0',
    files: [
      ...jsonFiles(
        [650, '7135149f7cffa1a573466c6e4d8423ed73b62fd2332c575bf738a0d033f70df7'],
        [711661, 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0'],
        [366, '9261e7d79b44c8195c1cada2b453e55b00aeb81e907a6664974b4d7776172ab3'],
      ),
      f('onnx/model_quantized.onnx', 22972370, 'afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1'),
    ],
  },
  {
    // ONNX export of unitary/toxic-bert (Jigsaw, 6 sigmoid labels). Chosen because it is the
    // toxicity classifier with a ready transformers.js export and a permissive licence; its
    // sizes are not known to us, so pull falls back to Content-Length + a recorded hash.
    task: 'toxicity',
    id: 'Xenova/toxic-bert',
    licence: 'Apache-2.0',
    files: [...jsonFiles(), f('onnx/model_quantized.onnx', null, null)],
  },
];

/** fp32 weights we know, for `pull --dtype fp32`. */
export const FP32_WEIGHTS: Readonly<Record<string, ManifestFile>> = {
  'Xenova/all-MiniLM-L6-v2': f('onnx/model.onnx', 90387606, '759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e'),
  'Xenova/distilbert-base-uncased-finetuned-sst-2-english': f('onnx/model.onnx', 267955711, '252cf7048af94a1599019fef35961b2bd3d6db13df0b0a4b032b92baeae31939'),
};

/** File name of the weights for a dtype, as transformers.js resolves it. */
export const weightFile = (dtype: 'q8' | 'fp32'): string => (dtype === 'q8' ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx');

/** The manifest entry for a model id (a default one), or a generic entry with unknown sizes. */
export function manifestFor(id: string, dtype: 'q8' | 'fp32' = 'q8'): ManifestModel {
  const known = DEFAULT_MODELS.find((m) => m.id === id);
  const base: ManifestModel = known ?? {
    task: null,
    id,
    licence: 'unknown',
    files: [...jsonFiles(), f(weightFile('q8'), null, null)],
  };
  if (dtype === 'q8') return base;
  const weights = FP32_WEIGHTS[id] ?? f(weightFile('fp32'), null, null);
  return { ...base, files: [...base.files.filter((x) => !x.path.startsWith('onnx/')), weights] };
}
