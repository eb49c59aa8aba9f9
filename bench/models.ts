/**
 * Throughput of the transformer path, printed as JSON.
 *
 * measured: the tiny ONNX models of test/support (real tokenizers, real transformers.js +
 * onnxruntime-node loading, worker threads, batching) -- the per-message OVERHEAD of the path,
 * since the tiny graphs cost almost nothing to run.
 * gemm: this machine's matrix-multiply rate at a DistilBERT layer shape, int8 (MatMulInteger, as
 * in the q8 files) and fp32.
 * estimate: the real q8 models' rate, ESTIMATED as FLOPs per message / measured int8 GEMM rate.
 * It is not a measurement of the real models (their weights cannot be brought onto this machine).
 *
 * Usage: node bench/models.ts [--messages 4000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { openModelRuntime } from '../enrich/models/index.ts';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { configureLocalOnly } from '../enrich/models/load.ts';
import { encodeModel } from '../test/support/onnx-proto.ts';
import { createTinyModels, seededRandom, sharedModelsSkip, TINY_IDS } from '../test/support/tiny-onnx.ts';

const argIndex = process.argv.indexOf('--messages');
const N = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 4000;

const skip = sharedModelsSkip();
if (skip) {
  console.log(JSON.stringify({ skipped: skip }));
  process.exit(0);
}

// Chat-like texts: 2-15 words from a small vocabulary, a few emotes.
const rand = seededRandom(3);
const words = ['love', 'this', 'stream', 'gg', 'what', 'a', 'play', 'hate', 'boring', 'pizza', 'goal', 'KEKW', 'LUL', 'chat', 'is', 'so', 'good', 'bad', 'wow', 'lets', 'go'];
const texts = Array.from({ length: N }, () => Array.from({ length: 2 + Math.floor(rand() * 14) }, () => words[Math.floor(rand() * words.length)]).join(' '));

const dir = mkdtempSync(path.join(tmpdir(), 'twichist-bench-models-'));
await createTinyModels(dir, { sentiment: true, toxicity: true, embeddings: true });

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

// Tokenization alone, on the main thread: the floor under any model's cost.
configureLocalOnly(dir);
const tok = await AutoTokenizer.from_pretrained(TINY_IDS.sentiment, { local_files_only: true });
let t = performance.now();
for (let i = 0; i < N; i += 32) tok(texts.slice(i, i + 32), { padding: true, truncation: true, max_length: 128 });
const tokenizeRate = rate(N, performance.now() - t);
const seqLens = texts.map((x) => (tok(x).input_ids as { dims: number[] }).dims[1]);
const meanTokens = seqLens.reduce((a, b) => a + b, 0) / seqLens.length;

const measured: Array<Record<string, unknown>> = [];
for (const workers of [1, 2]) {
  for (const batchSize of [1, 8, 32, 64]) {
    const rt = await openModelRuntime({ modelsDir: dir, workers, batchSize });
    const row: Record<string, unknown> = { workers, batchSize };
    for (const task of ['sentiment', 'toxicity', 'embed'] as const) {
      const n = batchSize === 1 ? Math.min(N, 1000) : N;
      await rt[task](texts.slice(0, 64)); // warm-up
      t = performance.now();
      // Callers submit in chunks of 256, like the consumer's write batches.
      await Promise.all(Array.from({ length: Math.ceil(n / 256) }, (_, i) => rt[task](texts.slice(i * 256, Math.min(n, (i + 1) * 256)))));
      row[`${task}PerSecond`] = rate(n, performance.now() - t);
    }
    // One text, one call: the worker hop and tokenization latency.
    const lat: number[] = [];
    for (let i = 0; i < 200; i++) {
      const s = performance.now();
      await rt.sentiment([texts[i]]);
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    row.singleCallP50Ms = Number(lat[100].toFixed(3));
    row.singleCallP99Ms = Number(lat[198].toFixed(3));
    measured.push(row);
    await rt.close();
  }
}

/** GEMM [m, k] x [k, n] as an ONNX graph; int8 mirrors the q8 exports (DynamicQuantizeLinear + MatMulInteger). */
async function gemmRate(m: number, k: number, n: number, int8: boolean, threads: number): Promise<number> {
  const r = seededRandom(9);
  const file = path.join(dir, `gemm-${int8}.onnx`);
  const graph = int8
    ? {
        name: 'gemm_int8',
        initializers: [
          { name: 'w', dims: [k, n], type: 'int8' as const, data: Int8Array.from({ length: k * n }, () => Math.floor(r() * 255) - 127) },
          { name: 'wzp', dims: [], type: 'int8' as const, data: Int8Array.of(0) },
        ],
        nodes: [
          { op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['xq', 'xs', 'xzp'] },
          { op: 'MatMulInteger', inputs: ['xq', 'w', 'xzp', 'wzp'], outputs: ['y'] },
        ],
        inputs: [{ name: 'x', type: 'float' as const, dims: [m, k] }],
        outputs: [{ name: 'y', type: 'int32' as const, dims: [m, n] }],
      }
    : {
        name: 'gemm_fp32',
        initializers: [{ name: 'w', dims: [k, n], type: 'float' as const, data: Float32Array.from({ length: k * n }, () => r() - 0.5) }],
        nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
        inputs: [{ name: 'x', type: 'float' as const, dims: [m, k] }],
        outputs: [{ name: 'y', type: 'float' as const, dims: [m, n] }],
      };
  writeFileSync(file, encodeModel(graph));
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const x = new ort.Tensor('float32', Float32Array.from({ length: m * k }, () => r() - 0.5), [m, k]);
  for (let i = 0; i < 5; i++) await session.run({ x });
  const iters = 50;
  const s = performance.now();
  for (let i = 0; i < iters; i++) await session.run({ x });
  const secs = (performance.now() - s) / 1000;
  await session.release();
  return (2 * m * k * n * iters) / secs / 1e9;
}

// A DistilBERT FFN matmul for a batch of 32 messages x 24 tokens.
const gemm = { shape: [32 * 24, 768, 3072], int8GopsPerThread: 0, fp32GflopsPerThread: 0 };
gemm.int8GopsPerThread = Number((await gemmRate(768, 768, 3072, true, 1)).toFixed(1));
gemm.fp32GflopsPerThread = Number((await gemmRate(768, 768, 3072, false, 1)).toFixed(1));

/** FLOPs of a BERT-style encoder per message of s tokens: linear layers 24*s*h^2, attention 4*s^2*h, per layer. */
const encoderFlops = (layers: number, h: number, s: number) => layers * (24 * s * h * h + 4 * s * s * h);
// Padding in a batch raises the effective length above the mean; 1.5x the mean is assumed.
const sEff = Math.ceil(meanTokens * 1.5);
// Non-GEMM work (layer norm, softmax, GELU, quantize/dequantize) assumed to add 30 % on top.
const overhead = 1.3;
const est = (layers: number, h: number) => Math.round((gemm.int8GopsPerThread * 1e9) / (encoderFlops(layers, h, sEff) * overhead));

const report = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, availableParallelism: availableParallelism(), node: process.version, transformers: env.version },
  messages: N,
  meanTokensPerMessage: Number(meanTokens.toFixed(1)),
  measuredWithTinyModels: {
    note: 'tiny graphs (embedding lookup + pooling + head): figures are the path overhead (tokenization, worker hop, batching), not model cost',
    tokenizePerSecondMainThread: tokenizeRate,
    runs: measured,
  },
  gemm,
  ESTIMATE_realQ8Models: {
    note: 'ESTIMATE, not a measurement: int8 GEMM rate measured here / encoder FLOPs per message, per worker thread (1 intra-op thread); add workers/threads for more',
    assumptions: { effectiveTokensPerMessage: sEff, nonGemmOverhead: overhead, flopsPerMessage: { distilbert: encoderFlops(6, 768, sEff), minilmL6: encoderFlops(6, 384, sEff), bertBase: encoderFlops(12, 768, sEff) } },
    messagesPerSecondPerThread: {
      [TINY_IDS.sentiment]: est(6, 768),
      [TINY_IDS.embeddings]: est(6, 384),
      [TINY_IDS.toxicity]: est(12, 768),
    },
  },
};
console.log(JSON.stringify(report, null, 2));
rmSync(dir, { recursive: true, force: true });
