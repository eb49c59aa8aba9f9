/**
 * Raw IRC logs: one line per IRC message, optionally prefixed by a receive time (`[2023-04-01 12:00:00] `,
 * `[2023-04-01 12:00:00.123] ` or an ISO time `2023-04-01T12:00:00.000Z `; times without a zone are
 * UTC), CRLF or LF. Each line goes through the same parser as live ingest.
 */
import { parseIrcLine } from '../irc-parser.ts';
import { readLines, type Readable } from './input.ts';
import type { EventSink, ImportOptions, ImportStats } from './types.ts';
import { truncatePayload } from './types.ts';

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
  // Lines without tmi-sent-ts and without a time prefix (ROOMSTATE) get the last time seen, so a
  // re-import computes the same deterministic ids.
  let lastTime = 0;
  for await (const { line, lineNo } of readLines(text)) {
    stats.units++;
    if (line.trim() === '') {
      stats.ignored++;
      continue;
    }
    const [prefixTime, rest] = splitTimePrefix(line);
    const receivedAt = prefixTime ?? lastTime;
    const r = parseIrcLine(rest, { receivedAt, source });
    if (!r.ok) {
      if (r.ignored) stats.ignored++;
      else {
        stats.rejected++;
        opts.onReject?.({ source: `${file}:${lineNo}`, reason: r.reason, payload: truncatePayload(line) });
      }
      continue;
    }
    const e = r.event;
    if (prefixTime === null) e.received_at = e.ts;
    lastTime = Math.max(lastTime, e.ts);
    if (opts.channel) e.channel = opts.channel;
    stats.events[e.kind] = (stats.events[e.kind] ?? 0) + 1;
    const w = sink(e);
    if (w) await w;
  }
}
