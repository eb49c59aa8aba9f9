/**
 * `twichist models pull` / `list` logic: fetch model files from a Hugging Face compatible host
 * into the models folder, verified, atomically per model; and report what is installed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULT_MODELS, manifestFor, type ManifestFile, type ManifestModel } from './manifest.ts';
import { makeDirs } from '../../core/dirs.ts';
import { modelFolder, requiredFiles } from './load.ts';

/** Written into each pulled model folder: what was fetched and its hashes, for `list` to re-verify. */
export const RECORD_FILE = '.twichist-manifest.json';

interface PullRecord {
  id: string;
  baseUrl: string;
  pulledAt: string;
  files: Array<{ path: string; size: number; sha256: string; checkedAgainst: Verification }>;
}

/** What a file's bytes were checked against: the manifest's sha256, its size only, or only the server's Content-Length. */
export type Verification = 'sha256' | 'size' | 'content-length';

export interface PullProgress {
  model: string;
  file: string;
  received: number;
  /** null when neither the manifest nor the server said how big the file is. */
  total: number | null;
  bytesPerSecond: number;
  /** Seconds left at the current rate; null when the total is unknown. */
  etaSeconds: number | null;
  done: boolean;
}

export interface PullOptions {
  modelsDir: string;
  /** Host serving `<baseUrl>/<org>/<name>/resolve/main/<file>` (config `models.baseUrl`). */
  baseUrl: string;
  /** Model ids or task names (`sentiment`, `toxicity`, `embeddings`); default: every default model. */
  names?: string[];
  dtype?: 'q8' | 'fp32';
  /** Re-download files that are already present and verify. */
  force?: boolean;
  onProgress?: (p: PullProgress) => void;
  /** Models to pull instead of resolving `names` against the built-in manifest (custom models, tests). */
  manifest?: ManifestModel[];
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface PulledFile {
  path: string;
  bytes: number;
  sha256: string;
  checkedAgainst: Verification;
  /** Already present and verified, not fetched again. */
  skipped: boolean;
}

export interface PullResult {
  id: string;
  folder: string;
  files: PulledFile[];
}

/** Resolves names given on the command line to manifest entries. */
export function resolveModels(names: string[] | undefined, dtype: 'q8' | 'fp32'): ManifestModel[] {
  if (!names || names.length === 0) return DEFAULT_MODELS.map((m) => manifestFor(m.id, dtype));
  return names.map((n) => {
    const byTask = DEFAULT_MODELS.find((m) => m.task === n);
    if (byTask) return manifestFor(byTask.id, dtype);
    if (!/^[\w.-]+\/[\w.-]+$/.test(n)) throw new Error(`"${n}" is neither a task (sentiment, toxicity, embeddings) nor a model id like org/name`);
    return manifestFor(n, dtype);
  });
}

/** sha256 and size of a file, streamed (weights are up to 270 MB). */
export async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: h.digest('hex') };
}

function check(file: ManifestFile, got: { size: number; sha256: string }, contentLength: number | null): Verification {
  if (file.size !== null && got.size !== file.size) throw new Error(`${file.path}: size ${got.size} bytes, expected ${file.size}`);
  if (file.sha256 !== null && got.sha256 !== file.sha256) throw new Error(`${file.path}: sha256 ${got.sha256}, expected ${file.sha256}`);
  if (file.sha256 !== null) return 'sha256';
  if (file.size !== null) return 'size';
  if (contentLength === null) throw new Error(`${file.path}: no known size or hash and the server sent no Content-Length, so the download cannot be verified`);
  if (got.size !== contentLength) throw new Error(`${file.path}: received ${got.size} bytes, server announced ${contentLength}`);
  return 'content-length';
}

async function download(o: PullOptions, model: ManifestModel, file: ManifestFile, dest: string): Promise<{ size: number; sha256: string; checkedAgainst: Verification }> {
  const url = `${o.baseUrl.replace(/\/+$/, '')}/${model.id}/resolve/main/${file.path}`;
  const res = await (o.fetch ?? fetch)(url, { redirect: 'follow' });
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  const header = res.headers.get('content-length');
  const contentLength = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  const total = file.size ?? contentLength;
  const h = createHash('sha256');
  let received = 0;
  const started = Date.now();
  let lastReport = 0;
  const report = (done: boolean) => {
    const secs = Math.max((Date.now() - started) / 1000, 1e-3);
    const rate = received / secs;
    o.onProgress?.({ model: model.id, file: file.path, received, total, bytesPerSecond: rate, etaSeconds: total === null || rate === 0 ? null : Math.max(0, (total - received) / rate), done });
  };
  makeDirs(path.dirname(dest));
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        h.update(chunk);
        received += chunk.length;
        // Progress at most every 100 ms: a redraw per 64 KB chunk would cost more than the download.
        if (Date.now() - lastReport >= 100) {
          lastReport = Date.now();
          report(false);
        }
        yield chunk;
      }
    },
    createWriteStream(dest),
  );
  report(true);
  const got = { size: received, sha256: h.digest('hex') };
  return { ...got, checkedAgainst: check(file, got, contentLength) };
}

async function verifyExisting(folder: string, file: ManifestFile): Promise<{ size: number; sha256: string; checkedAgainst: Verification } | null> {
  const p = path.join(folder, file.path);
  if (!existsSync(p) || (file.size === null && file.sha256 === null)) return null;
  const got = await hashFile(p);
  try {
    return { ...got, checkedAgainst: check(file, got, null) };
  } catch {
    return null;
  }
}

/**
 * Downloads each model into a staging folder inside the models dir, verifies every file, and only
 * then renames the files into place: a failed or mismatched download leaves the model as it was.
 * Models are pulled one after another; the first failure stops the pull and is thrown.
 */
export async function pullModels(o: PullOptions): Promise<PullResult[]> {
  const dtype = o.dtype ?? 'q8';
  const results: PullResult[] = [];
  for (const model of o.manifest ?? resolveModels(o.names, dtype)) {
    const folder = modelFolder(o.modelsDir, model.id);
    // Staging in the models dir keeps the final rename on one filesystem (atomic, no copy).
    const staging = path.join(o.modelsDir, `.pull-${randomBytes(6).toString('hex')}`);
    const files: PulledFile[] = [];
    try {
      for (const file of model.files) {
        const existing = o.force ? null : await verifyExisting(folder, file);
        if (existing) {
          files.push({ path: file.path, bytes: existing.size, sha256: existing.sha256, checkedAgainst: existing.checkedAgainst, skipped: true });
          continue;
        }
        const got = await download(o, model, file, path.join(staging, file.path));
        files.push({ path: file.path, bytes: got.size, sha256: got.sha256, checkedAgainst: got.checkedAgainst, skipped: false });
      }
      for (const f of files.filter((x) => !x.skipped)) {
        makeDirs(path.dirname(path.join(folder, f.path)));
        await rename(path.join(staging, f.path), path.join(folder, f.path));
      }
      const record: PullRecord = { id: model.id, baseUrl: o.baseUrl, pulledAt: new Date().toISOString(), files: files.map(({ path: p, bytes, sha256, checkedAgainst }) => ({ path: p, size: bytes, sha256, checkedAgainst })) };
      await writeFile(path.join(folder, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    results.push({ id: model.id, folder, files });
  }
  return results;
}

export type InstallStatus = 'ok' | 'mismatch' | 'incomplete' | 'unverified';

export interface InstalledModel {
  id: string;
  task: string | null;
  folder: string;
  bytes: number;
  files: Array<{ path: string; present: boolean; bytes: number; ok: boolean | null; problem: string | null }>;
  /** ok: every file matches the manifest or the hashes recorded at pull; unverified: nothing to compare with. */
  status: InstallStatus;
}

/**
 * Lists model folders (`<org>/<name>` holding a config.json) and re-verifies their files against
 * the manifest, or against the hashes recorded by pull for files the manifest does not know.
 * Cost: reads every weight file once (about 0.3 s per 100 MB).
 */
export async function listModels(modelsDir: string, dtype: 'q8' | 'fp32' = 'q8'): Promise<InstalledModel[]> {
  if (!existsSync(modelsDir)) return [];
  const out: InstalledModel[] = [];
  for (const org of (await readdir(modelsDir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.'))) {
    for (const name of (await readdir(path.join(modelsDir, org.name), { withFileTypes: true })).filter((d) => d.isDirectory())) {
      const id = `${org.name}/${name.name}`;
      const folder = path.join(modelsDir, org.name, name.name);
      if (!existsSync(path.join(folder, 'config.json'))) continue;
      const manifest = manifestFor(id, dtype);
      let recorded: PullRecord | null = null;
      try {
        recorded = JSON.parse(await readFile(path.join(folder, RECORD_FILE), 'utf8')) as PullRecord;
      } catch {
        recorded = null;
      }
      const files: InstalledModel['files'] = [];
      for (const rel of requiredFiles(dtype)) {
        const p = path.join(folder, rel);
        if (!existsSync(p)) {
          files.push({ path: rel, present: false, bytes: 0, ok: false, problem: `${rel}: missing` });
          continue;
        }
        const known = manifest.files.find((f) => f.path === rel);
        const rec = recorded?.files.find((f) => f.path === rel);
        const expect: ManifestFile | null = known && (known.size !== null || known.sha256 !== null) ? known : rec ? { path: rel, size: rec.size, sha256: rec.sha256 } : null;
        const got = expect ? await hashFile(p) : { size: (await stat(p)).size, sha256: '' };
        let problem: string | null = null;
        if (expect) {
          try {
            check(expect, got, null);
          } catch (err) {
            problem = (err as Error).message;
          }
        }
        files.push({ path: rel, present: true, bytes: got.size, ok: expect ? problem === null : null, problem });
      }
      const status: InstallStatus = files.some((f) => !f.present)
        ? 'incomplete'
        : files.some((f) => f.ok === false)
          ? 'mismatch'
          : files.some((f) => f.ok === null)
            ? 'unverified'
            : 'ok';
      out.push({ id, task: manifest.task, folder, bytes: files.reduce((a, f) => a + f.bytes, 0), files, status });
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
