import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../cli/command.ts';
import { command, progressLine } from '../../cli/commands/models.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import type { ManifestModel } from '../../enrich/models/manifest.ts';
import { listModels, pullModels, RECORD_FILE } from '../../enrich/models/pull.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Fake hub: `/<org>/<name>/resolve/main/<file>` from an in-memory map; records every request. */
function fakeHub(files: Map<string, Buffer>, opts: { chunked?: Set<string> } = {}) {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = files.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    if (opts.chunked?.has(req.url ?? '')) {
      // No Content-Length: the client cannot check the byte count against anything.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(body.subarray(0, 10));
      res.end(body.subarray(10));
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  return { server, requests };
}

const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model_quantized.onnx'];

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

describe('models pull/list against a local fake hub', () => {
  const hubFiles = new Map<string, Buffer>();
  const good: Record<string, Buffer> = {};
  let hub: ReturnType<typeof fakeHub>;
  let baseUrl: string;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'twichist-pull-'));
    FILES.forEach((f, i) => (good[f] = f.endsWith('.json') ? Buffer.from(JSON.stringify({ file: f, n: i })) : bytes(300_000, i)));
    for (const f of FILES) {
      hubFiles.set(`/acme/good/resolve/main/${f}`, good[f]);
      // Same size, different bytes: only the sha256 can catch it.
      hubFiles.set(`/acme/tampered/resolve/main/${f}`, f.endsWith('.onnx') ? bytes(300_000, 99) : good[f]);
      hubFiles.set(`/Xenova/toxic-bert/resolve/main/${f}`, good[f]);
      hubFiles.set(`/Xenova/all-MiniLM-L6-v2/resolve/main/${f}`, good[f]);
    }
    hub = fakeHub(hubFiles, { chunked: new Set(['/acme/nolength/resolve/main/config.json']) });
    hubFiles.set('/acme/nolength/resolve/main/config.json', good['config.json']);
    await new Promise<void>((r) => hub.server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`;
  });
  after(() => {
    hub.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const manifestOf = (id: string): ManifestModel => ({ task: null, id, licence: 'test', files: FILES.map((f) => ({ path: f, size: good[f].length, sha256: sha(good[f]) })) });

  test('downloads, verifies sha256 and renames into place; a second pull skips verified files', async () => {
    const modelsDir = path.join(dir, 'm1');
    const progress: Array<{ file: string; done: boolean }> = [];
    const [r] = await pullModels({ modelsDir, baseUrl, manifest: [manifestOf('acme/good')], onProgress: (p) => progress.push(p) });
    assert.deepEqual(r.files.map((f) => [f.path, f.checkedAgainst, f.skipped]), FILES.map((f) => [f, 'sha256', false]));
    for (const f of FILES) assert.deepEqual(readFileSync(path.join(modelsDir, 'acme', 'good', f)), good[f]);
    assert.ok(existsSync(path.join(modelsDir, 'acme', 'good', RECORD_FILE)));
    assert.deepEqual(progress.filter((p) => p.done).map((p) => p.file), FILES);
    assert.deepEqual(readdirSync(modelsDir), ['acme'], 'no staging folder left behind');
    const before = hub.requests.length;
    const [again] = await pullModels({ modelsDir, baseUrl, manifest: [manifestOf('acme/good')] });
    assert.ok(again.files.every((f) => f.skipped));
    assert.equal(hub.requests.length, before, 'nothing fetched again');
  });

  test('a sha256 mismatch is rejected and leaves nothing in place', async () => {
    const modelsDir = path.join(dir, 'm2');
    await assert.rejects(pullModels({ modelsDir, baseUrl, manifest: [manifestOf('acme/tampered')] }), /model_quantized\.onnx: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    assert.deepEqual(readdirSync(modelsDir), [], 'no model folder and no staging folder');
  });

  test('the built-in manifest rejects files whose size differs from the published one', async () => {
    const modelsDir = path.join(dir, 'm3');
    await assert.rejects(pullModels({ modelsDir, baseUrl, names: ['embeddings'] }), /config\.json: size \d+ bytes, expected 650/);
    assert.deepEqual(readdirSync(modelsDir), []);
  });

  test('files without a known size need a matching Content-Length', async () => {
    const modelsDir = path.join(dir, 'm4');
    const unknown: ManifestModel = { task: null, id: 'acme/nolength', licence: 'test', files: [{ path: 'config.json', size: null, sha256: null }] };
    await assert.rejects(pullModels({ modelsDir, baseUrl, manifest: [unknown] }), /no known size or hash and the server sent no Content-Length/);
    assert.deepEqual(readdirSync(modelsDir), []);
  });

  test('list verifies installed files and flags a corrupted one', async () => {
    const modelsDir = path.join(dir, 'm5');
    await pullModels({ modelsDir, baseUrl, names: ['toxicity'] });
    let [m] = await listModels(modelsDir);
    assert.equal(m.id, 'Xenova/toxic-bert');
    assert.equal(m.task, 'toxicity');
    // toxic-bert has no published hashes: list checks against those recorded at pull time.
    assert.equal(m.status, 'ok');
    writeFileSync(path.join(modelsDir, 'Xenova', 'toxic-bert', 'onnx', 'model_quantized.onnx'), 'broken');
    [m] = await listModels(modelsDir);
    assert.equal(m.status, 'mismatch');
    rmSync(path.join(modelsDir, 'Xenova', 'toxic-bert', 'tokenizer.json'));
    [m] = await listModels(modelsDir);
    assert.equal(m.status, 'incomplete');
  });

  test('CLI: pull with plain log lines, list, and exit codes', async () => {
    const modelsDir = path.join(dir, 'm6');
    const config = loadConfig({ TWICHIST_MODELS_DIR: modelsDir, TWICHIST_MODELS_BASE_URL: baseUrl, TWICHIST_DATA_DIR: dir });
    const logger = createLogger('silent');
    const out = sink();
    const err = sink();
    const ctx = { config: () => config, logger: () => logger, stdout: out.stream, stderr: err.stream, isTTY: false };
    assert.equal(await command.run(['pull', 'toxicity'], ctx), 0, err.text());
    assert.match(out.text(), /Xenova\/toxic-bert onnx\/model_quantized\.onnx: 0\.3 MB in/);
    assert.match(out.text(), /Xenova\/toxic-bert: 4 file\(s\) downloaded, verified by content-length/);
    assert.ok(!out.text().includes('\r'), 'no carriage returns when not a TTY');

    assert.equal(await command.run(['pull', 'embeddings'], ctx), 1);
    assert.match(err.text(), /models pull failed: config\.json: size \d+ bytes, expected 650/);

    const listed = sink();
    assert.equal(await command.run(['list'], { ...ctx, stdout: listed.stream }), 0);
    assert.match(listed.text(), /Xenova\/toxic-bert\s+toxicity\s+0\.3 MB\s+ok/);
    assert.match(listed.text(), /embeddings: Xenova\/all-MiniLM-L6-v2 not installed/);

    const json = sink();
    await command.run(['list', '--json'], { ...ctx, stdout: json.stream });
    assert.equal(JSON.parse(json.text()).models[0].status, 'ok');

    await assert.rejects(command.run(['fly'], ctx), (e: Error) => e instanceof UsageError && /expected "pull" or "list"/.test(e.message));
    await assert.rejects(command.run(['pull', '--dtype', 'fp16'], ctx), /--dtype must be q8 or fp32/);
    await assert.rejects(command.run(['list', '--jsn'], ctx), /unknown option --jsn/);
  });

  test('CLI: a TTY gets a redrawn progress bar with rate and ETA', async () => {
    const modelsDir = path.join(dir, 'm7');
    const config = loadConfig({ TWICHIST_MODELS_DIR: modelsDir, TWICHIST_DATA_DIR: dir });
    const out = sink();
    const code = await command.run(['pull', 'toxicity', '--base-url', baseUrl], { config: () => config, logger: () => createLogger('silent'), stdout: out.stream, stderr: sink().stream, isTTY: true });
    assert.equal(code, 0);
    assert.match(out.text(), /\r\x1b\[2KXenova\/toxic-bert onnx\/model_quantized\.onnx \[#+\] 100% 0\.3 MB\/0\.3 MB [\d.]+ MB\/s ETA 0s\n/);
    assert.equal(progressLine({ model: 'm', file: 'f', received: 5e6, total: 1e7, bytesPerSecond: 1e6, etaSeconds: 5, done: false }, 10), 'm f [#####-----]  50% 5.0 MB/10.0 MB 1.0 MB/s ETA 5s');
  });

  test('CLI: offline config refuses to download', async () => {
    const config = loadConfig({ TWICHIST_MODELS_DIR: path.join(dir, 'm8'), TWICHIST_ONLINE: 'false', TWICHIST_DATA_DIR: dir });
    const err = sink();
    assert.equal(await command.run(['pull'], { config: () => config, logger: () => createLogger('silent'), stdout: sink().stream, stderr: err.stream, isTTY: false }), 2);
    assert.match(err.text(), /TWICHIST_ONLINE=false/);
    assert.ok(!existsSync(path.join(dir, 'm8')));
  });
});
