/**
 * Streaming JSON for chat exports: yields the elements of the top-level array, or of the array under
 * `arrayKey` in a top-level object (TwitchDownloader's `comments`), one `JSON.parse` per element, so a
 * 100 MB export never sits in memory as one string. Other top-level members of an object are parsed
 * and reported through `onMember` (e.g. `streamer`, `video`) when they appear before the array.
 *
 * Cost: one pass over every character in JS (~150-300 MB/s) plus `JSON.parse` of each element.
 */
import type { Readable } from 'node:stream';

export interface JsonElement {
  value: unknown;
  /** 0-based position in the array. */
  index: number;
  /** Raw text of the element when it is not valid JSON (then `value` is undefined). */
  error: string | null;
  raw: string;
}

export interface JsonStreamOptions {
  arrayKey?: string;
  onMember?: (key: string, value: unknown) => void;
}

export async function* streamJsonArray(text: Readable, opts: JsonStreamOptions = {}): AsyncGenerator<JsonElement> {
  const arrayKey = opts.arrayKey ?? 'comments';
  let depth = 0;
  let inString = false;
  let escape = false;
  let rootKind: '[' | '{' | null = null;
  /** Depth at which array elements start (1 for a root array, 2 for an array under a root object key). */
  let elementDepth = -1;
  let capturing = false;
  let pieces: string[] = [];
  let index = 0;
  // Root-object member tracking.
  let keyBuf: string[] | null = null;
  let lastKey: string | null = null;
  let expectKey = false;
  let memberCapture: string[] | null = null;
  let memberKey: string | null = null;
  let first = true;

  for await (const chunkAny of text) {
    let chunk = chunkAny as string;
    if (first) {
      first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    let segStart = capturing ? 0 : -1;
    let memStart = memberCapture !== null ? 0 : -1;
    let keyStart = keyBuf !== null ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inString) {
        if (escape) escape = false;
        else if (c === 92) escape = true;
        else if (c === 34) {
          inString = false;
          if (keyBuf !== null) {
            keyBuf.push(chunk.slice(keyStart, i));
            lastKey = keyBuf.join('');
            keyBuf = null;
            keyStart = -1;
          }
        }
        continue;
      }
      if (c === 34) {
        inString = true;
        if (rootKind === '{' && depth === 1 && expectKey) {
          keyBuf = [];
          keyStart = i + 1;
          expectKey = false;
        }
        continue;
      }
      if (c === 123 /* { */ || c === 91 /* [ */) {
        if (depth === 0) {
          rootKind = c === 91 ? '[' : '{';
          if (rootKind === '[') elementDepth = 1;
          else expectKey = true;
        } else if (depth === elementDepth) {
          capturing = true;
          segStart = i;
          pieces = [];
        } else if (rootKind === '{' && depth === 1) {
          if (c === 91 && lastKey === arrayKey && elementDepth < 0) elementDepth = 2;
          else if (opts.onMember && lastKey !== null) {
            memberCapture = [];
            memberKey = lastKey;
            memStart = i;
          }
        }
        depth++;
        continue;
      }
      if (c === 125 /* } */ || c === 93 /* ] */) {
        depth--;
        if (capturing && depth === elementDepth) {
          pieces.push(chunk.slice(segStart, i + 1));
          capturing = false;
          segStart = -1;
          const raw = pieces.join('');
          pieces = [];
          try {
            yield { value: JSON.parse(raw), index, error: null, raw };
          } catch (err) {
            yield { value: undefined, index, error: (err as Error).message, raw };
          }
          index++;
        } else if (memberCapture !== null && depth === 1) {
          memberCapture.push(chunk.slice(memStart, i + 1));
          const raw = memberCapture.join('');
          memberCapture = null;
          memStart = -1;
          try {
            opts.onMember?.(memberKey as string, JSON.parse(raw));
          } catch {
            // A malformed metadata member only loses metadata; comments are still read.
          }
        } else if (depth === 1 && elementDepth === 2 && c === 93) {
          elementDepth = -3; // the comments array ended; ignore later arrays
        }
        continue;
      }
      if (c === 44 /* , */ && rootKind === '{' && depth === 1) expectKey = true;
    }
    if (capturing && segStart >= 0) pieces.push(chunk.slice(segStart));
    if (memberCapture !== null && memStart >= 0) memberCapture.push(chunk.slice(memStart));
    if (keyBuf !== null && keyStart >= 0) keyBuf.push(chunk.slice(keyStart));
  }
  if (capturing) yield { value: undefined, index, error: 'unexpected end of file inside an element', raw: pieces.join('').slice(0, 10_000) };
  // A file cut between two elements read as complete before: the comments after the cut were lost without a word.
  if (depth > 0) throw new Error(`the JSON ends before its ${elementDepth === 2 ? `"${arrayKey}" array and object are` : 'array is'} closed, after ${index} elements: the file is truncated`);
  if (rootKind === '{' && elementDepth === -1) throw new Error(`the JSON object has no "${arrayKey}" array: nothing to import`);
}
