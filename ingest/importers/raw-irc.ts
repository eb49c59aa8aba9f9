/**
 * Raw IRC logs: one line per IRC message, optionally prefixed by a receive time (`[2023-04-01 12:00:00] `,
 * `[2023-04-01 12:00:00.123] ` or an ISO time `2023-04-01T12:00:00.000Z `; times without a zone are
 * UTC), CRLF or LF. Each line goes through the same parser as live ingest.
 */
import { parseIrcLine, splitIrcLine } from '../irc-parser.ts';
import { readLines, type Readable } from './input.ts';
import type { EventSink, ImportOptions, ImportStats } from './types.ts';
import { NOT_UTF8_REASON, countingSink, lineRejecter } from './types.ts';

/** Splits an optional time prefix off a line: `[time, rest]`, time `null` when there is none or it does not parse. */
export function splitTimePrefix(line: string): [number | null, string] {
  const c = line.charCodeAt(0);
  if (c === 91 /* [ */) {
    const close = line.indexOf(']');
    if (close > 0 && close < 40) {
      const t = parseLogTime(line.slice(1, close));
      if (t !== null) return [t, line.slice(close + 1).trimStart()];
    }
  } else if (c >= 48 && c <= 57) {
    const sp = line.indexOf(' ');
    if (sp > 0 && sp < 40) {
      const t = parseLogTime(line.slice(0, sp));
      if (t !== null) return [t, line.slice(sp + 1).trimStart()];
    }
  }
  return [null, line];
}

function parseLogTime(s: string): number | null {
  if (!/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/.test(s)) return null;
  let iso = s.replace(' ', 'T');
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(iso)) iso += 'Z';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

export async function importRawIrc(text: Readable, file: string, sink: EventSink, opts: ImportOptions, stats: ImportStats): Promise<void> {
  const source = opts.source ?? 'import';
  const reject = lineRejecter(file, opts, stats);
  // held lines are parsed after later ones, so the line an event comes from is set where it is parsed
  let at = { lineNo: 0, line: '' };
  const emit = countingSink(sink, stats, (reason) => reject(at.lineNo, reason, at.line));
  // Lines without tmi-sent-ts and without a time prefix (ROOMSTATE) get the last time seen, so a
  // re-import computes the same deterministic ids. Such lines before the first timed one (the ROOMSTATE
  // after a JOIN at the top of a capture) wait for it and take its time: they were stored at 1970 before.
  let lastTime: number | null = null;
  let waiting: Array<{ rest: string; lineNo: number; line: string }> = [];
  const parse = async (rest: string, prefixTime: number | null, lineNo: number, line: string) => {
    const r = parseIrcLine(rest, { receivedAt: prefixTime ?? lastTime ?? 0, source });
    if (!r.ok) {
      if (r.ignored) stats.ignored++;
      else reject(lineNo, r.reason, line);
      return;
    }
    const e = r.event;
    if (prefixTime === null) e.received_at = e.ts;
    lastTime = Math.max(lastTime ?? 0, e.ts);
    if (opts.channel) e.channel = opts.channel;
    at = { lineNo, line };
    await emit(e);
  };
  for await (const { line, lineNo, notUtf8 } of readLines(text)) {
    stats.units++;
    if (notUtf8) {
      reject(lineNo, NOT_UTF8_REASON, line);
      continue;
    }
    if (line.trim() === '') {
      stats.ignored++;
      continue;
    }
    const [prefixTime, rest] = splitTimePrefix(line);
    if (lastTime === null && prefixTime === null && !hasSentTs(rest)) {
      waiting.push({ rest, lineNo, line });
      if (waiting.length > MAX_WAITING) noTime(waiting.shift()!, `no time: none of the first ${MAX_WAITING} lines after it has tmi-sent-ts or a time prefix`);
      continue;
    }
    if (lastTime === null && waiting.length > 0) {
      // the first timed line: its time, then the lines that waited for it
      const first = parseIrcLine(rest, { receivedAt: prefixTime ?? 0, source });
      const t = prefixTime ?? (first.ok && first.event.ts > 0 ? first.event.ts : null);
      if (t !== null) {
        lastTime = t;
        const held = waiting;
        waiting = [];
        for (const w of held) await parse(w.rest, null, w.lineNo, w.line);
      }
    }
    await parse(rest, prefixTime, lineNo, line);
  }
  for (const w of waiting) noTime(w, 'no time: neither this line nor any later line of the file has tmi-sent-ts or a time prefix');

  // a line that cannot be placed in time: ignored if it is not an event anyway, else rejected
  function noTime(w: { rest: string; lineNo: number; line: string }, reason: string): void {
    const r = parseIrcLine(w.rest, { receivedAt: 0, source });
    if (!r.ok && r.ignored) stats.ignored++;
    else reject(w.lineNo, r.ok ? reason : r.reason, w.line);
  }
}

/** Untimed lines held at the top of a file, waiting for the first time; beyond this they are rejected. */
const MAX_WAITING = 10_000;

/** Whether an IRC line carries Twitch's `tmi-sent-ts` tag (its own time); asked only until the file's first time. */
function hasSentTs(rest: string): boolean {
  return splitIrcLine(rest)?.tags['tmi-sent-ts'] !== undefined;
}
