/**
 * Builds tiny, deterministic stand-ins for the real transformer models so that tests and the bench
 * exercise the real loading path (transformers.js + onnxruntime-node, real tokenizers and configs)
 * without the weights, which cannot be brought onto these machines.
 *
 * Classifier graph: DequantizeLinear(int8 table) -> Gather(input_ids) -> masked mean over the
 * sequence -> MatMul -> Add -> logits [batch, num_labels]. A token's table row is its push on each
 * logit, so a test can make "love" push to POSITIVE and assert the exact label.
 *
 * Embedding graph: Gather(int8 table [vocab, 32]) -> MatMul [32, 384] (+ token type rows) ->
 * last_hidden_state [batch, seq, 384], so the runtime's mean pooling + normalize apply unchanged.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, type Graph, type Node, type Tensor } from './onnx-proto.ts';

/** `../shared/models` next to the repository; holds real tokenizers and configs (no weights). */
export const SHARED_MODELS_DIR = path.resolve(fileURLToPath(new URL('../../../shared/models', import.meta.url)));

/** Reason to skip a test when the shared models folder is absent, or false when it is there. */
export function sharedModelsSkip(): string | false {
  return existsSync(SHARED_MODELS_DIR) ? false : `skipped: ${SHARED_MODELS_DIR} is absent (real tokenizer/config files; CI has it)`;
}

/** Deterministic PRNG (mulberry32, shared with the topics k-means), so every build writes the same bytes. */
export { mulberry32 as seededRandom } from '../../enrich/topics/kmeans.ts';
import { mulberry32 as seededRandom } from '../../enrich/topics/kmeans.ts';

const QUANT_SCALE = 1 / 16;

/** Embedding table as either an fp32 initializer or int8 + DequantizeLinear (the q8 file). */
function table(name: string, rows: number, cols: number, values: Float32Array, quantized: boolean, scale: number): { init: Tensor[]; nodes: Node[] } {
  if (!quantized) return { init: [{ name, dims: [rows, cols], type: 'float', data: values }], nodes: [] };
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scale)));
  return {
    init: [
      { name: `${name}_q`, dims: [rows, cols], type: 'int8', data: q },
      { name: `${name}_scale`, dims: [], type: 'float', data: Float32Array.of(scale) },
      { name: `${name}_zp`, dims: [], type: 'int8', data: Int8Array.of(0) },
    ],
    nodes: [{ op: 'DequantizeLinear', inputs: [`${name}_q`, `${name}_scale`, `${name}_zp`], outputs: [name] }],
  };
}

const maskNodes = (withTokenTypes: boolean): Node[] => [
  { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attributes: [{ name: 'to', int: 1 }] },
  { op: 'Unsqueeze', inputs: ['mask_f', 'axis2'], outputs: ['mask3'] },
  ...(withTokenTypes
    ? [
        { op: 'Gather', inputs: ['type_table', 'token_type_ids'], outputs: ['type_emb'] },
        { op: 'Add', inputs: ['tok_emb', 'type_emb'], outputs: ['emb'] },
      ]
    : [{ op: 'Identity', inputs: ['tok_emb'], outputs: ['emb'] }]),
];

const idsInputs = (withTokenTypes: boolean) => [
  { name: 'input_ids', type: 'int64' as const, dims: ['batch_size', 'sequence_length'] },
  { name: 'attention_mask', type: 'int64' as const, dims: ['batch_size', 'sequence_length'] },
  ...(withTokenTypes ? [{ name: 'token_type_ids', type: 'int64' as const, dims: ['batch_size', 'sequence_length'] }] : []),
];

export interface TinyClassifierOptions {
  vocabSize: number;
  numLabels: number;
  /** Token id -> push on each logit (|value| < 7.9 survives int8 quantization exactly in steps of 1/16). */
  pushes: Record<number, number[]>;
  /** Whether the real model takes token_type_ids (BERT yes, DistilBERT/RoBERTa no). */
  tokenTypes: boolean;
  quantized: boolean;
}

/** ONNX bytes of a sequence classifier with outputs `logits [batch, numLabels]`. */
export function tinyClassifier(o: TinyClassifierOptions): Uint8Array {
  const L = o.numLabels;
  const values = new Float32Array(o.vocabSize * L);
  for (const [id, push] of Object.entries(o.pushes)) values.set(push.slice(0, L), Number(id) * L);
  const t = table('tok_table', o.vocabSize, L, values, o.quantized, QUANT_SCALE);
  const eye = new Float32Array(L * L);
  for (let i = 0; i < L; i++) eye[i * L + i] = 1;
  const graph: Graph = {
    name: 'tiny_classifier',
    initializers: [
      ...t.init,
      { name: 'type_table', dims: [2, L], type: 'float', data: new Float32Array(2 * L) },
      { name: 'axis2', dims: [1], type: 'int64', data: BigInt64Array.of(2n) },
      { name: 'axis1', dims: [1], type: 'int64', data: BigInt64Array.of(1n) },
      { name: 'head_w', dims: [L, L], type: 'float', data: eye },
      { name: 'head_b', dims: [L], type: 'float', data: new Float32Array(L) },
    ],
    nodes: [
      ...t.nodes,
      { op: 'Gather', inputs: ['tok_table', 'input_ids'], outputs: ['tok_emb'] },
      ...maskNodes(o.tokenTypes),
      { op: 'Mul', inputs: ['emb', 'mask3'], outputs: ['masked'] },
      // Masked mean, so a text scores the same whatever it is padded to in a batch.
      { op: 'ReduceSum', inputs: ['masked', 'axis1'], outputs: ['summed'], attributes: [{ name: 'keepdims', int: 0 }] },
      { op: 'ReduceSum', inputs: ['mask3', 'axis1'], outputs: ['count'], attributes: [{ name: 'keepdims', int: 0 }] },
      { op: 'Div', inputs: ['summed', 'count'], outputs: ['pooled'] },
      { op: 'MatMul', inputs: ['pooled', 'head_w'], outputs: ['projected'] },
      { op: 'Add', inputs: ['projected', 'head_b'], outputs: ['logits'] },
    ],
    inputs: idsInputs(o.tokenTypes),
    outputs: [{ name: 'logits', type: 'float', dims: ['batch_size', L] }],
  };
  return encodeModel(graph);
}

export interface TinyEncoderOptions {
  vocabSize: number;
  hidden: number;
  /** Width of the random token table before projection to `hidden`; wider = fewer chance collisions. */
  inner?: number;
  seed?: number;
  quantized: boolean;
}

/** ONNX bytes of a BERT-like encoder with output `last_hidden_state [batch, seq, hidden]`. */
export function tinyEncoder(o: TinyEncoderOptions): Uint8Array {
  const inner = o.inner ?? 32;
  const rand = seededRandom(o.seed ?? 42);
  const tok = new Float32Array(o.vocabSize * inner);
  for (let i = 0; i < tok.length; i++) tok[i] = (rand() * 2 - 1) * 7;
  const proj = new Float32Array(inner * o.hidden);
  for (let i = 0; i < proj.length; i++) proj[i] = (rand() * 2 - 1) / Math.sqrt(inner);
  const t = table('tok_table', o.vocabSize, inner, tok, o.quantized, QUANT_SCALE);
  const graph: Graph = {
    name: 'tiny_encoder',
    initializers: [
      ...t.init,
      { name: 'type_table', dims: [2, inner], type: 'float', data: new Float32Array(2 * inner) },
      { name: 'axis2', dims: [1], type: 'int64', data: BigInt64Array.of(2n) },
      { name: 'proj', dims: [inner, o.hidden], type: 'float', data: proj },
    ],
    nodes: [
      ...t.nodes,
      { op: 'Gather', inputs: ['tok_table', 'input_ids'], outputs: ['tok_emb'] },
      ...maskNodes(true),
      { op: 'Mul', inputs: ['emb', 'mask3'], outputs: ['masked'] },
      { op: 'MatMul', inputs: ['masked', 'proj'], outputs: ['last_hidden_state'] },
    ],
    inputs: idsInputs(true),
    outputs: [{ name: 'last_hidden_state', type: 'float', dims: ['batch_size', 'sequence_length', o.hidden] }],
  };
  return encodeModel(graph);
}

/** Token id of a word in a tokenizer.json vocabulary (WordPiece or BPE). */
export function tokenId(tokenizerJson: { model: { vocab: Record<string, number> } }, word: string): number {
  const id = tokenizerJson.model.vocab[word];
  if (id === undefined) throw new Error(`"${word}" is not a single token of this vocabulary`);
  return id;
}

/** Config of a toxic-bert-like multi-label classifier (6 Jigsaw labels, BERT uncased vocab). */
export const TOXIC_BERT_CONFIG = {
  _name_or_path: 'twichist-tiny/toxic-bert',
  architectures: ['BertForSequenceClassification'],
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 384,
  problem_type: 'multi_label_classification',
  id2label: { 0: 'toxic', 1: 'severe_toxic', 2: 'obscene', 3: 'threat', 4: 'insult', 5: 'identity_hate' },
  label2id: { toxic: 0, severe_toxic: 1, obscene: 2, threat: 3, insult: 4, identity_hate: 5 },
};

export interface TinyModelsOptions {
  sentiment?: boolean;
  embeddings?: boolean;
  toxicity?: boolean;
  /** Also install the 3-label RoBERTa sentiment (tests only: its licence is unclear). */
  roberta?: boolean;
  /** Write model.onnx (fp32) next to model_quantized.onnx. */
  fp32?: boolean;
}

/** Ids the tiny models are installed under, matching the runtime's defaults. */
export const TINY_IDS = {
  sentiment: 'Xenova/distilbert-base-uncased-finetuned-sst-2-english',
  embeddings: 'Xenova/all-MiniLM-L6-v2',
  toxicity: 'Xenova/toxic-bert',
  roberta: 'delarosajav95/tw-roberta-base-sentiment-FT-v2',
} as const;

function install(modelsDir: string, id: string, sharedFolder: string, build: (quantized: boolean) => Uint8Array, fp32: boolean, config?: object): void {
  const dest = path.join(modelsDir, ...id.split('/'));
  mkdirSync(path.join(dest, 'onnx'), { recursive: true });
  const src = path.join(SHARED_MODELS_DIR, sharedFolder);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) {
    if (f === 'config.json' && config) writeFileSync(path.join(dest, f), JSON.stringify(config, null, 2));
    else copyFileSync(path.join(src, f), path.join(dest, f));
  }
  writeFileSync(path.join(dest, 'onnx', 'model_quantized.onnx'), build(true));
  if (fp32) writeFileSync(path.join(dest, 'onnx', 'model.onnx'), build(false));
}

/** Words the tiny sentiment/toxicity models react to (each is a single token in both vocabularies). */
export const TINY_WORDS = { positive: ['love', 'great', 'amazing'], negative: ['hate', 'awful', 'boring'], toxic: ['idiot', 'stupid', 'trash'] };

async function readTokenizer(folder: string): Promise<{ model: { vocab: Record<string, number> } }> {
  const { readFile } = await import('node:fs/promises');
  const raw = JSON.parse(await readFile(path.join(SHARED_MODELS_DIR, folder, 'tokenizer.json'), 'utf8'));
  // RoBERTa's BPE marks a leading space with "Ġ"; words mid-sentence use that form.
  if (raw.model.type === 'BPE') {
    const vocab: Record<string, number> = {};
    for (const [k, v] of Object.entries(raw.model.vocab as Record<string, number>)) if (k.startsWith('Ġ')) vocab[k.slice(1)] = v;
    return { model: { vocab } };
  }
  return raw;
}

/**
 * Writes tiny models into `<modelsDir>/<org>/<name>/` in the layout transformers.js expects,
 * with the real tokenizer/config files from ../shared/models. Deterministic: same bytes every run.
 */
export async function createTinyModels(modelsDir: string, o: TinyModelsOptions = { sentiment: true, embeddings: true, toxicity: true }): Promise<void> {
  const fp32 = o.fp32 ?? false;
  const bert = await readTokenizer('Xenova__all-MiniLM-L6-v2');
  if (o.sentiment) {
    const pushes: Record<number, number[]> = {};
    for (const w of TINY_WORDS.positive) pushes[tokenId(bert, w)] = [-4, 4];
    for (const w of TINY_WORDS.negative) pushes[tokenId(bert, w)] = [4, -4];
    install(modelsDir, TINY_IDS.sentiment, 'Xenova__distilbert-base-uncased-finetuned-sst-2-english', (q) => tinyClassifier({ vocabSize: 30522, numLabels: 2, pushes, tokenTypes: false, quantized: q }), fp32);
  }
  if (o.toxicity) {
    const pushes: Record<number, number[]> = {};
    // Uncontroversial text stays well below 0.5 on every label (sigmoid(-2) = 0.12).
    const base = [-2, -2, -2, -2, -2, -2];
    for (const w of TINY_WORDS.toxic) pushes[tokenId(bert, w)] = [7, 0, 3, 0, 5, 0];
    // Every token gets the negative baseline so that only toxic words lift the score.
    const all: Record<number, number[]> = {};
    for (let id = 0; id < 30522; id++) all[id] = pushes[id] ?? base;
    install(modelsDir, TINY_IDS.toxicity, 'Xenova__all-MiniLM-L6-v2', (q) => tinyClassifier({ vocabSize: 30522, numLabels: 6, pushes: all, tokenTypes: true, quantized: q }), fp32, TOXIC_BERT_CONFIG);
  }
  if (o.embeddings) {
    install(modelsDir, TINY_IDS.embeddings, 'Xenova__all-MiniLM-L6-v2', (q) => tinyEncoder({ vocabSize: 30522, hidden: 384, quantized: q }), fp32);
  }
  if (o.roberta) {
    const bpe = await readTokenizer('delarosajav95__tw-roberta-base-sentiment-FT-v2');
    const pushes: Record<number, number[]> = {};
    for (const w of TINY_WORDS.positive) pushes[tokenId(bpe, w)] = [-4, 0, 4];
    for (const w of TINY_WORDS.negative) pushes[tokenId(bpe, w)] = [4, 0, -4];
    install(modelsDir, TINY_IDS.roberta, 'delarosajav95__tw-roberta-base-sentiment-FT-v2', (q) => tinyClassifier({ vocabSize: 50265, numLabels: 3, pushes, tokenTypes: false, quantized: q }), fp32);
  }
}
