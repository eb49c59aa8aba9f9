/**
 * Streaming input for importers: a file (plain or gzip, detected from the magic bytes, not the name)
 * read in chunks, with the bytes read from disk counted for progress and ETA. Nothing is loaded whole:
 * memory stays at a few chunks regardless of file size.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

export interface InputProgress {
  /** Bytes read from disk so far (compressed bytes for gzip). */
  bytesRead: number;
  /** Size on disk. */
  totalBytes: number;
}

export interface OpenedInput {
  /** Decoded UTF-8 text stream (BOM not stripped). */
  text: Readable;
  progress: InputProgress;
  gzip: boolean;
}

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

export async function openInput(file: string): Promise<OpenedInput> {
  const fd = await fs.promises.open(file, 'r');
  const head = Buffer.alloc(2);
  const { bytesRead } = await fd.read(head, 0, 2, 0);
  const size = (await fd.stat()).size;
  await fd.close();
  const gzip = isGzip(head.subarray(0, bytesRead));
  const progress: InputProgress = { bytesRead: 0, totalBytes: size };
  const raw = fs.createReadStream(file, { highWaterMark: 1 << 18 });
  raw.on('data', (c) => {
    progress.bytesRead += (c as Buffer).length;
  });
  const decoded = gzip ? raw.pipe(zlib.createGunzip()) : raw;
  raw.on('error', (err) => decoded.destroy(err));
  decoded.setEncoding('utf8');
  return { text: decoded, progress, gzip };
}

/** The first `maxChars` characters of the decoded content, for format detection. */
export async function peekText(file: string, maxChars = 65536): Promise<string> {
  const { text } = await openInput(file);
  let out = '';
  for await (const chunk of text) {
    out += chunk as string;
    if (out.length >= maxChars) break;
  }
  text.destroy();
  return out.charCodeAt(0) === 0xfeff ? out.slice(1) : out;
}

/** Lines without CR/LF and without a leading BOM, with 1-based line numbers. */
export async function* readLines(text: Readable): AsyncGenerator<{ line: string; lineNo: number }> {
  const rl = readline.createInterface({ input: text, crlfDelay: Infinity });
  let lineNo = 0;
  for await (let line of rl) {
    lineNo++;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    yield { line, lineNo };
  }
}

export { Readable };
