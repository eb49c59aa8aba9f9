/**
 * What `twichist import` and `twichist replay` share: list the files, open the bus pipeline, stream
 * every file into it (paced for replay), report progress, send rejects to the dead-letter table, wait
 * until everything is acknowledged/stored, and summarise.
 */
import type { Config } from '../core/config.ts';
import type { ChatEvent, EventKind } from '../core/events.ts';
import { deterministicId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import { createProgress } from '../cli/progress.ts';
import { importFile, listImportFiles, type ImportStats, type Reject } from './importers/index.ts';
import type { InputProgress } from './importers/input.ts';
import { DeadLetterWriter, openPublishPipeline } from './pipeline.ts';
import { createPacer } from './pace.ts';

export interface ImportRunOptions {
  target: string;
  channel: string | null;
  /** null = import as fast as possible; a number = replay at that multiple of the original pace; 'max' = replay unpaced. */
  speed: number | 'max' | null;
  /** Replay only: give events fresh ids (derived from the run) so a replay of already stored chat is stored again. */
  newIds?: boolean;
  config: Config;
  logger: Logger;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
}

export interface ImportRunResult {
  files: ImportStats[];
  events: Partial<Record<EventKind, number>>;
  total: number;
  rejected: number;
  ignored: number;
  durationMs: number;
  failedFiles: Array<{ file: string; error: string }>;
  /** Events published per channel: the summary names them, so chat stored under an unintended channel shows. */
  channels: Map<string, number>;
}


export async function runImport(o: ImportRunOptions): Promise<ImportRunResult> {
  const replay = o.speed !== null;
  const started = performance.now();
  const { files, skipped, failed } = await listImportFiles(o.target);
  for (const s of skipped) o.stderr.write(`skipping ${s}: not a supported chat format\n`);
  for (const f of failed) o.stderr.write(`failed ${f.file}: ${f.error}\n`);
  if (files.length === 0) {
    if (failed.length === 1 && failed[0].file === o.target) throw new Error(`${o.target}: ${failed[0].error}`);
    throw new Error(`${o.target}: no importable chat files${failed.length > 0 ? ` (${failed.length} could not be read, listed above)` : ''}`);
  }
  const pipeline = await openPublishPipeline(o.config, o.logger, {}, { servedClickHouse: true, topicTimer: false });
  const dead = new DeadLetterWriter({ clickhouse: pipeline.clickhouse, logger: o.logger });
  const progress = createProgress({ out: o.stderr, isTTY: o.isTTY, label: '', unit: 'events' });
  const result: ImportRunResult = { files: [], events: {}, total: 0, rejected: 0, ignored: 0, durationMs: 0, failedFiles: [...failed], channels: new Map() };
  const runId = replay && o.newIds ? String(Date.now()) : null;
  try {
    for (const { file } of files) {
      let input: InputProgress | null = null;
      let count = 0;
      const pace = typeof o.speed === 'number' ? createPacer(o.speed) : null;
      progress.setLabel(`${replay ? 'replay' : 'import'} ${file}`);
      const onReject = (r: Reject) => {
        o.stderr.write(`${o.isTTY ? '\r\u001b[2K' : ''}rejected ${r.source}: ${r.reason}\n`);
        dead.add(r);
      };
      const sink = async (e: ChatEvent) => {
        if (pace) await pace(e.ts);
        if (runId !== null) e.id = deterministicId('replay', runId, e.id);
        const w = pipeline.batcher.push(e);
        if (w) await w;
        count++;
        result.channels.set(e.channel, (result.channels.get(e.channel) ?? 0) + 1);
        if (pace) {
          // Paced: the file is read far ahead of what is published (a small file at once), so bytes read say
          // nothing; the log's own clock says how far the replay is.
          progress.setLabel(`replay ${file} at ${new Date(e.ts).toISOString().slice(0, 19).replace('T', ' ')} UTC of the log`);
          progress.update({ count });
        } else if ((count & 1023) === 0) progress.update({ done: input?.bytesRead ?? 0, total: input?.totalBytes ?? null, count });
      };
      try {
        const stats = await importFile(file, sink, {
          channel: o.channel,
          source: replay ? 'replay' : 'import',
          onReject,
          onOpen: (p) => {
            input = p;
          },
        });
        if (!pace) progress.update({ done: input!.totalBytes, total: input!.totalBytes, count });
        result.files.push(stats);
        for (const [k, n] of Object.entries(stats.events)) result.events[k as EventKind] = (result.events[k as EventKind] ?? 0) + (n ?? 0);
        result.rejected += stats.rejected;
        result.ignored += stats.ignored;
        result.total += count;
      } catch (err) {
        // a file that breaks mid-way (truncated gzip or JSON) has published its events and rejects before the break
        const part = (err as Error & { stats?: ImportStats }).stats;
        if (part) {
          for (const [k, n] of Object.entries(part.events)) result.events[k as EventKind] = (result.events[k as EventKind] ?? 0) + (n ?? 0);
          result.rejected += part.rejected;
          result.ignored += part.ignored;
        }
        result.total += count;
        result.failedFiles.push({ file, error: (err as Error).message });
        o.stderr.write(`${o.isTTY ? '\r\u001b[2K' : ''}failed ${file}: ${(err as Error).message}\n`);
      }
    }
    progress.update({ count: result.total });
    await pipeline.settle();
    await dead.flush();
  } finally {
    progress.finish();
    await pipeline.close();
  }
  result.durationMs = performance.now() - started;
  const kinds = Object.entries(result.events)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const rate = result.total / Math.max(0.001, result.durationMs / 1000);
  const counts = pipeline.storeCounts();
  const where = counts === null
    ? `published to JetStream stream ${o.config.nats.stream} (all acknowledged)`
    : [
        `read, ${counts.stored} stored in ClickHouse`,
        counts.alreadyStored > 0 ? `${counts.alreadyStored} already stored (same ids: kept once)` : '',
        counts.optedOut > 0 ? `${counts.optedOut} of opted-out users dropped` : '',
      ].filter((x) => x !== '').join(', ');
  o.stdout.write(
    [
      `${replay ? 'replayed' : 'imported'} ${files.length} file(s): ${result.total} events ${where}`,
      `  by kind: ${kinds || 'none'}`,
      `  channels: ${channelList(result.channels)}`,
      `  rejected: ${result.rejected}${dead.written || dead.failed ? ` (dead letters written ${dead.written}, failed ${dead.failed})` : ''}; ignored (not chat events): ${result.ignored}`,
      `  duration: ${(result.durationMs / 1000).toFixed(1)} s (${Math.round(rate)} events/s)`,
      ...result.files.flatMap((f) => f.notes.map((n) => `  note ${f.file}: ${n}`)),
      ...result.failedFiles.map((f) => `  FAILED ${f.file}: ${f.error}`),
      '',
    ].join('\n'),
  );
  return result;
}

/** "a 3,700, b 12" by count, the first 10 and how many more. */
function channelList(channels: Map<string, number>): string {
  if (channels.size === 0) return 'none';
  const sorted = [...channels].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, 10).map(([c, n]) => `${c} ${n}`).join(', ');
  return sorted.length > 10 ? `${shown} and ${sorted.length - 10} more` : shown;
}
