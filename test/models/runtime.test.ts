import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { loadLocalModel, ModelNotFoundError, ModelUnavailableError, openModelRuntime, type ModelRuntime } from '../../enrich/models/index.ts';
import { installNetGuard } from '../support/onnx-net-guard.ts';
import { createTinyModels, sharedModelsSkip, TINY_IDS } from '../support/tiny-onnx.ts';

const skip = sharedModelsSkip();
const guardUrl = pathToFileURL(path.resolve(import.meta.dirname, '../support/onnx-net-guard.ts')).href;

function captureLogger(): { logger: pino.Logger; lines: Array<{ msg: string }> } {
  const lines: Array<{ msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

describe('model runtime with tiny ONNX models', { skip }, () => {
  let dir: string;
  let rt: ModelRuntime;
  let netLog: string;
  let guard: ReturnType<typeof installNetGuard>;
  const logs = captureLogger();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'twichist-models-'));
    await createTinyModels(path.join(dir, 'models'), { sentiment: true, toxicity: true, embeddings: true });
    netLog = path.join(dir, 'net.log');
    writeFileSync(netLog, '');
    guard = installNetGuard();
    rt = await openModelRuntime({ modelsDir: path.join(dir, 'models'), logger: logs.logger, workers: 2, batchSize: 4, workerExecArgv: [`--import=${guardUrl}?log=${netLog}`] });
  });
  after(async () => {
    await rt?.close();
    guard?.restore();
    rmSync(dir, { recursive: true, force: true });
  });

  test('reports every model found, in one log line', () => {
    assert.deepEqual(rt.available, { sentiment: TINY_IDS.sentiment, toxicity: TINY_IDS.toxicity, embeddings: TINY_IDS.embeddings });
    const line = logs.lines.filter((l) => l.msg.startsWith('models ('));
    assert.equal(line.length, 1);
    assert.match(line[0].msg, /found: sentiment=Xenova\/distilbert.*not found: none/);
  });

  test('SST-2 labels map to negative/positive with neutral 0, in input order across batches', async () => {
    const texts = ['i love this stream', 'this is boring', 'ok', 'great play', 'awful', 'i hate it', 'what a long message about nothing in particular', 'amazing'];
    const out = await rt.sentiment(texts);
    assert.equal(out.length, texts.length);
    const labels = out.map((s) => (s.positive > s.negative ? 'pos' : s.negative > s.positive ? 'neg' : 'tie'));
    assert.deepEqual(labels, ['pos', 'neg', 'tie', 'pos', 'neg', 'neg', 'tie', 'pos']);
    for (const s of out) {
      assert.equal(s.neutral, 0);
      assert.ok(Math.abs(s.negative + s.positive - 1) < 1e-6);
    }
    // "i love this stream" = [CLS] i love this stream [SEP]: mean push 4/6 per logit -> sigmoid(8/6).
    assert.ok(Math.abs(out[0].positive - 1 / (1 + Math.exp(-8 / 6))) < 1e-6);
  });

  test('toxicity is the max sigmoid over the six toxic-bert labels', async () => {
    const [clean, toxic] = await rt.toxicity(['nice game', 'you idiot']);
    assert.ok(Math.abs(clean - 1 / (1 + Math.exp(2))) < 1e-6);
    // [CLS] you idiot [SEP]: toxic logit (-2*3 + 7)/4 = 0.25.
    assert.ok(Math.abs(toxic - 1 / (1 + Math.exp(-0.25))) < 1e-6);
  });

  test('embeddings are 384-dim, unit length, and similar for shared words', async () => {
    const [a, b, c] = await rt.embed(['pizza pizza', 'pizza', 'goal']);
    assert.equal(a.length, 384);
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
    assert.ok(Math.abs(dot(a, a) - 1) < 1e-5);
    assert.ok(dot(a, b) > dot(a, c));
    // Padding must not change a text's vector: the same text alone and in a mixed batch.
    const [alone] = await rt.embed(['goal']);
    assert.ok(Math.abs(dot(alone, c) - 1) < 1e-5);
  });

  test('many concurrent calls all resolve while the event loop stays free', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const calls = Array.from({ length: 40 }, (_, i) => rt.sentiment(Array.from({ length: 16 }, (_, k) => `message ${i} ${k} love`)));
    const results = await Promise.all(calls);
    clearInterval(timer);
    assert.equal(results.flat().length, 640);
    assert.ok(results.flat().every((s) => s.positive > 0.5));
    assert.ok(ticks > 0, 'timers kept firing while models ran');
  });

  test('an aborted call drops its queued batches and rejects; later calls still work', async () => {
    const ctl = new AbortController();
    // 200 batches of 4 queue up behind 2 workers; abort right away.
    const big = rt.sentiment(Array.from({ length: 800 }, (_, i) => `text ${i} love`), { signal: ctl.signal });
    ctl.abort(new Error('budget exceeded'));
    await assert.rejects(big, /budget exceeded/);
    const [s] = await rt.sentiment(['love']);
    assert.ok(s.positive > 0.5);
  });

  test('the worker guard is live: a deliberate fetch in a guarded worker is recorded', async () => {
    const probeLog = path.join(dir, 'probe.log');
    writeFileSync(probeLog, '');
    const { Worker } = await import('node:worker_threads');
    // A file worker, like the model workers: Node skips --import preloads for eval workers.
    const probe = path.join(dir, 'probe.mjs');
    writeFileSync(probe, "await fetch('http://127.0.0.1:9/x').catch(() => {});\n");
    const w = new Worker(probe, { execArgv: [`--import=${guardUrl}?log=${probeLog}`] });
    await new Promise((r) => w.once('exit', r));
    assert.match(readFileSync(probeLog, 'utf8'), /^fetch http:\/\/127\.0\.0\.1:9\/x$/m);
  });

  test('no network request was made while loading and running (main thread and workers)', () => {
    assert.deepEqual(guard.calls, []);
    assert.equal(readFileSync(netLog, 'utf8'), '');
  });
});

describe('missing models', { skip }, () => {
  test('open never throws; methods reject with a clear local error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twichist-nomodels-'));
    const guard = installNetGuard();
    const logs = captureLogger();
    try {
      const rt = await openModelRuntime({ modelsDir: dir, logger: logs.logger });
      assert.deepEqual(rt.available, { sentiment: null, toxicity: null, embeddings: null });
      await assert.rejects(rt.sentiment(['hi']), (err: Error) => err instanceof ModelUnavailableError && err.message.includes(dir));
      await assert.rejects(rt.embed(['hi']), ModelUnavailableError);
      await rt.close();
      assert.match(logs.lines[0].msg, /found: none; not found: .*lexicon\/learned scorers/);
      assert.deepEqual(guard.calls, []);
    } finally {
      guard.restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('loading a model with a missing weight file fails locally, without a download attempt', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twichist-partial-'));
    await createTinyModels(dir, { sentiment: true });
    rmSync(path.join(dir, ...TINY_IDS.sentiment.split('/'), 'onnx', 'model_quantized.onnx'));
    const guard = installNetGuard();
    try {
      await assert.rejects(loadLocalModel(dir, TINY_IDS.sentiment, 'sentiment', { dtype: 'q8', threads: 1, maxLength: 64 }), (err: Error) => {
        assert.ok(err instanceof ModelNotFoundError);
        assert.match(err.message, /onnx\/model_quantized\.onnx missing under .*twichist models pull/);
        return true;
      });
      // fp32 asks for onnx/model.onnx, which was never written: same local failure.
      await assert.rejects(loadLocalModel(dir, TINY_IDS.sentiment, 'sentiment', { dtype: 'fp32', threads: 1, maxLength: 64 }), /onnx\/model\.onnx missing/);
      // Even bypassing our pre-check, transformers.js itself is told to stay local.
      const { AutoModelForSequenceClassification, env } = await import('@huggingface/transformers');
      assert.equal(env.allowRemoteModels, false);
      await assert.rejects(AutoModelForSequenceClassification.from_pretrained(TINY_IDS.sentiment, { dtype: 'q8' }), /locally|local_files_only|allowRemoteModels/);
      assert.deepEqual(guard.calls, []);
    } finally {
      guard.restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt weight file marks the task unavailable instead of failing open', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twichist-corrupt-'));
    await createTinyModels(dir, { sentiment: true, embeddings: true });
    writeFileSync(path.join(dir, ...TINY_IDS.embeddings.split('/'), 'onnx', 'model_quantized.onnx'), 'not an onnx file');
    const logs = captureLogger();
    const rt = await openModelRuntime({ modelsDir: dir, logger: logs.logger, workers: 1 });
    try {
      assert.equal(rt.available.sentiment, TINY_IDS.sentiment);
      assert.equal(rt.available.embeddings, null);
      assert.match(logs.lines[0].msg, /embeddings: failed to load/);
      assert.equal((await rt.sentiment(['love'])).length, 1);
    } finally {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('3-label RoBERTa sentiment (tests only, never committed)', { skip }, () => {
  test('LABEL_0..2 read as negative, neutral, positive; fp32 weights load too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twichist-roberta-'));
    await createTinyModels(dir, { roberta: true, fp32: true });
    assert.ok(existsSync(path.join(dir, ...TINY_IDS.roberta.split('/'), 'onnx', 'model.onnx')));
    for (const dtype of ['q8', 'fp32'] as const) {
      const rt = await openModelRuntime({ modelsDir: dir, dtype, models: { sentiment: TINY_IDS.roberta, toxicity: null, embeddings: null } });
      try {
        const [pos, neg, neu] = await rt.sentiment(['i love it', 'so boring', 'the chair']);
        assert.ok(pos.positive > pos.neutral && pos.neutral > pos.negative);
        assert.ok(neg.negative > neg.neutral && neg.neutral > neg.positive);
        assert.ok(Math.abs(neu.neutral - 1 / 3) < 1e-6);
      } finally {
        await rt.close();
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
