/**
 * Streaming input for importers: a file (plain or gzip, detected from the magic bytes, not the name)
 * read in chunks, with the bytes read from disk counted for progress and ETA. Nothing is loaded whole:
 * memory stays at a few chunks regardless of file size.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { isUtf8 } from 'node:buffer';
import { Readable, Transform } from 'node:stream';
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

/** Per opened text: set once bytes that are not UTF-8 were read (they become U+FFFD in the text). */
const NOT_UTF8 = new WeakMap<Readable, { seen: boolean }>();

/**
 * Whether `s`, read from `text`, may hold bytes that were not UTF-8: the text has had such bytes by now and `s` holds
 * U+FFFD. Before, they became U+FFFD without a word and were stored so (a Latin-1 log lost its accented letters);
 * the importers now reject such lines, so after converting the file a re-import adds exactly them. A real U+FFFD in
 * a file that also has bad bytes is rejected too.
 */
export function mayHoldNotUtf8(text: Readable, s: string): boolean {
  return NOT_UTF8.get(text)?.seen === true && s.includes('\uFFFD');
}

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

export async function openInput(file: string): Promise<OpenedInput> {
  // A pipe (`import <(zcat x.gz)`) or device cannot be read twice: the format peek would consume its first chunk
  // and the import would silently start after it (and opening a FIFO without a writer blocks for ever).
  const st = await fs.promises.stat(file);
  if (!st.isFile()) throw new Error(`${file}: not a regular file (a pipe, socket or device cannot be read twice: the format is detected from its start); save it to a file first`);
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
  let decoded: Readable = raw;
  if (gzip) {
    const gunzip = zlib.createGunzip();
    decoded = raw.pipe(gunzip);
    // zlib's own words ("unexpected end of file", "incorrect header check") do not say that the file is the problem
    gunzip.on('error', (err: Error & { code?: string }) => {
      err.message = `corrupt gzip data after ${progress.bytesRead} of ${size} bytes read (${err.message}${err.code === 'Z_BUF_ERROR' ? ': the file is truncated' : ''})`;
    });
  }
  raw.on('error', (err) => decoded.destroy(err));
  const notUtf8 = { seen: false };
  const text = decoded.pipe(utf8Watch(notUtf8));
  decoded.on('error', (err) => text.destroy(err));
  // destroying the end of a pipe leaves its source open: without this every format peek (which stops after 64 KB)
  // kept its file descriptor, and a large folder ran out of them
  text.on('close', () => {
    decoded.destroy();
    raw.destroy();
  });
  text.setEncoding('utf8');
  NOT_UTF8.set(text, notUtf8);
  return { text, progress, gzip };
}

/**
 * Passes bytes through and notes whether any are not UTF-8, before the chunk holding them is decoded (so the flag is
 * set when the lines of that chunk are read). Costs one isUtf8 scan per chunk (SIMD, far below the parse).
 */
function utf8Watch(found: { seen: boolean }): Transform {
  let carry: Buffer = Buffer.alloc(0);
  const check = (b: Buffer) => {
    if (!found.seen && !isUtf8(b)) found.seen = true;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      // a character split between chunks is checked with the next chunk
      let cut = buf.length;
      for (let i = buf.length - 1; i >= Math.max(0, buf.length - 3); i--) {
        const c = buf[i];
        if (c < 0x80) break;
        if (c >= 0xc0) {
          const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
          if (buf.length - i < need) cut = i;
          break;
        }
      }
      check(buf.subarray(0, cut));
      carry = Buffer.from(buf.subarray(cut));
      cb(null, chunk);
    },
    flush(cb) {
      if (carry.length > 0) check(carry);
      cb();
    },
  });
}

/**
 * The first `maxChars` characters of the decoded content, for format detection. A gzip file that breaks within
 * them gives what came before the break, so its format is still found and the import names the break (a truncated
 * .gz was "not a supported chat format" before).
 */
export async function peekText(file: string, maxChars = 65536): Promise<string> {
  const { text, gzip } = await openInput(file);
  let out = '';
  try {
    for await (const chunk of text) {
      out += chunk as string;
      if (out.length >= maxChars) break;
    }
  } catch (err) {
    if (!gzip || out === '') throw err;
  }
  text.destroy();
  return out.charCodeAt(0) === 0xfeff ? out.slice(1) : out;
}

/** Lines without CR/LF and without a leading BOM, with 1-based line numbers; `notUtf8`: see `mayHoldNotUtf8`. */
export async function* readLines(text: Readable): AsyncGenerator<{ line: string; lineNo: number; notUtf8: boolean }> {
  const rl = readline.createInterface({ input: text, crlfDelay: Infinity });
  let lineNo = 0;
  for await (let line of rl) {
    lineNo++;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    yield { line, lineNo, notUtf8: mayHoldNotUtf8(text, line) };
  }
}

export { Readable };
