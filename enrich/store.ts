/**
 * Exactly-once writes into ClickHouse (see docs/exactly-once.md). Per batch and table:
 *  1. wait until no earlier attempt of this process can still be running (a timed-out insert may
 *     still commit; checking before it finished would race with it);
 *  2. drop ids repeated within the batch, then ids already stored (one primary-key query per table);
 *  3. insert the rest with a deterministic `insert_deduplication_token` (hash of table + sorted ids)
 *     and `deduplicate_blocks_in_dependent_materialized_views = 1`, so an identical retry of an insert
 *     that did commit is dropped by the table and by every rollup view below it.
 *
 * Why a journal: an INSERT into a table with materialized views is not atomic. A crash can leave the
 * raw rows committed while a view (say chat_1m) never got its block; the id check would then skip
 * those rows forever and the rollup would stay short (measured: a SIGKILL left chat_1m 20 bans short).
 * So every insert is first written to `journalDir` under its token (a JSON array of the column names,
 * then the exact JSONCompactEachRow body that is inserted: rows are serialized once for both), and
 * removed once ClickHouse answered. Before the next batch (and at start-up) leftovers are re-sent
 * as the same rows in the same order with their token: the raw table drops the block as a duplicate and, with
 * `deduplicate_blocks_in_dependent_materialized_views`, every view checks for itself and inserts only
 * what it missed. Only then does the id check run, so "stored" means "stored everywhere".
 * Cost: one file write (fsynced, renamed into place) and an unlink per insert.
 *
 * A row ClickHouse rejects for what it is (not for being busy) is found by bisection and parked in
 * `dead_letters`; transient errors propagate so the caller naks and the bus redelivers.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { utf8Lines } from '../core/bus.ts';
import { acceptsPreEncoded, isTransientClickHouseError, PreEncodedRows, rawInserter } from '../core/clickhouse.ts';
import { makeDirs } from '../core/dirs.ts';
import { deterministicId } from '../core/ids.ts';
import type { Config } from '../core/config.ts';
import { EXPORT_TIME_TAG, type EventKind } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import { RAW_TABLES, rawOf, type PendingRow, type RawTable } from './rows.ts';

/** A `dead_letters` row. */
export interface DeadLetter {
  id: string;
  /** Epoch ms; deterministic per payload (event ts, or the bus message's publish time). */
  ts: number;
  stage: string;
  source: string;
  reason: string;
  payload: string;
}

export const DEAD_LETTER_STAGE = 'enrich';

export function deadLetter(payload: string, reason: string, ts: number, source: string): DeadLetter {
  // The id covers only stage and payload: the same bad line redelivered (or republished) is stored once.
  return { id: deterministicId('dl', DEAD_LETTER_STAGE, payload), ts, stage: DEAD_LETTER_STAGE, source, reason, payload };
}

export interface StoreResult {
  /** Rows newly inserted, by event kind. */
  inserted: Partial<Record<EventKind, number>>;
  /** Rows skipped: repeated in the batch or already stored. */
  duplicates: number;
  /** Dead letters newly stored (including rows ClickHouse rejected). */
  deadLetters: number;
  /** Batches split to isolate rejected rows. */
  bisections: number;
}

export interface StoreOptions {
  client: ClickHouseClient;
  logger: Logger;
  /** An insert slower than this is abandoned (and awaited before the next attempt). Default 30 s. */
  insertTimeoutMs?: number;
  /** Called while a slow insert runs, so the bus extends the ack deadline. */
  onSlow?: () => void;
  /**
   * Folder of the insert journal (see above); null disables it (then a crash in the middle of an
   * insert can leave a rollup short). One folder per enrich instance: it must survive restarts.
   */
  journalDir?: string | null;
}

const JOURNAL_FILE = /^([a-z_0-9]+)\.([0-9a-f]{32})\.ndjson$/;

/** Where `twichist enrich`/`up` keep their insert journal unless told otherwise: one folder per database and durable consumer. */
export function defaultJournalDir(config: Config): string {
  return path.join(config.dataDir, 'enrich-journal', config.clickhouse.database, config.nats.consumer);
}

/**
 * Entries in a journal folder (none when it does not exist): inserts sent and not yet answered, or left by a
 * crash and re-sent by the next enrich start (`twichist status` counts them).
 */
export function journalEntries(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => JOURNAL_FILE.test(f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Writes a journal entry so that it is either complete or absent under its final name: a torn entry
 * replayed under the batch's token would make ClickHouse drop the real retry as a duplicate (rows
 * lost). Temp file, fsync, rename, fsync of the folder; cost ~1-5 ms per insert on this disk.
 */
export function writeJournalEntry(file: string, columns: string[], body: string | Uint8Array): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    // Two writes instead of concatenating header and body into one more copy of the batch.
    fs.writeFileSync(fd, JSON.stringify(columns) + '\n');
    fs.writeFileSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
const JOURNAL_TABLES = new Set<string>([...RAW_TABLES, 'dead_letters']);

/** Settings every insert relies on; passed on every call (embedded sessions would otherwise keep old values). */
function insertSettings(token: string): ClickHouseSettings {
  return {
    insert_deduplicate: 1,
    insert_deduplication_token: token,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    async_insert: 0,
    wait_for_async_insert: 1,
    // Views are fed in parallel threads instead of one after the other: the ~20 views under `messages`
    // made each insert wait for their sum (measured: inserts ~25% faster end to end on 2 cores). It
    // changes no result: each view still gets the same block and checks the same token.
    parallel_view_processing: 1,
    // Raw tables and rollups are partitioned by month, and the default cap of 100 partitions per insert
    // block made a batch of sparse chat spanning 100+ months (a small channel's years of justlog history)
    // fail with TOO_MANY_PARTS, which is also ClickHouse's code for "merges are behind", so the batch was
    // retried for ever. Cost of no cap: such a batch writes one part per month, which merges absorb.
    max_partitions_per_insert_block: '0',
  };
}

/** 32 hex chars of SHA-256 over the table and the sorted ids: the same rows give the same token. */
export function dedupToken(table: string, ids: string[]): string {
  // One update over the joined ids: the same bytes as an update per id and separator (so the same
  // token), without ~2 native calls per row.
  const sorted = [...ids].sort();
  return createHash('sha256').update(table).update('\u0000').update(sorted.length > 0 ? sorted.join('\u0001') + '\u0001' : '').digest('hex').slice(0, 32);
}

/** `DateTime64(3)` query parameter from epoch ms: seconds with a fractional part, independent of time zones. */
export function dt64Param(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/**
 * Rows of one shape (the keys of the first row, in its order) as JSONCompactEachRow: one JSON array per
 * row and a newline after each, as UTF-8 (see core/bus.ts `utf8Lines`). The same bytes go to the
 * journal and to ClickHouse.
 */
export function encodeCompact(rows: ReadonlyArray<Record<string, unknown>>): { columns: string[]; body: Buffer } {
  const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
  const n = columns.length;
  // one array reused for every row: JSON.stringify reads it before the next row overwrites it
  const values: unknown[] = new Array(n);
  const json: string[] = new Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j];
    for (let i = 0; i < n; i++) values[i] = r[columns[i]];
    json[j] = JSON.stringify(values);
  }
  return { columns, body: utf8Lines(json) };
}

class InsertTimeout extends Error {
  readonly code = '159';
  constructor(ms: number) {
    super(`insert did not answer within ${ms} ms`);
    this.name = 'InsertTimeout';
  }
}

export class ExactlyOnceStore {
  private readonly client: ClickHouseClient;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly onSlow: () => void;
  /** Attempts that timed out on our side and may still be running in ClickHouse. */
  private readonly orphans: Array<{ queryId: string; settled: Promise<unknown> }> = [];
  private readonly journalDir: string | null;
  /** Whether the journal may hold entries to re-send (checked once at start, then after failures). */
  private journalDirty = true;

  constructor(opts: StoreOptions) {
    this.journalDir = opts.journalDir ?? null;
    if (this.journalDir) makeDirs(this.journalDir, 'TWICHIST_DATA_DIR');
    this.client = opts.client;
    this.logger = opts.logger;
    this.timeoutMs = opts.insertTimeoutMs ?? 30_000;
    this.onSlow = opts.onSlow ?? (() => {});
  }

  /** Stores rows and dead letters exactly once. Throws only transient errors (caller retries the whole batch). */
  async store(rows: PendingRow[], deadLetters: DeadLetter[]): Promise<StoreResult> {
    await this.waitForOrphans();
    await this.replayJournal();
    const result: StoreResult = { inserted: {}, duplicates: 0, deadLetters: 0, bisections: 0 };
    const byTable = new Map<RawTable, { list: PendingRow[]; ids: Set<string> }>();
    for (const r of rows) {
      // ids per table: no concatenated key string per row (~1 µs each at 10k-row batches)
      let t = byTable.get(r.table);
      if (!t) byTable.set(r.table, (t = { list: [], ids: new Set() }));
      if (t.ids.has(r.id)) {
        result.duplicates++;
        continue;
      }
      t.ids.add(r.id);
      t.list.push(r);
    }
    const rejected: DeadLetter[] = [];
    for (const table of RAW_TABLES) {
      const t = byTable.get(table);
      if (!t) continue;
      const list = t.list;
      const stored = await this.storedIds(table, list, t.ids);
      const fresh = stored.size === 0 ? list : list.filter((r) => !stored.has(r.id));
      result.duplicates += list.length - fresh.length;
      if (fresh.length === 0) continue;
      const bad = await this.insertBisecting(table, fresh, result);
      const badIds = new Set(bad.map((b) => b.row.id));
      for (const r of fresh) if (!badIds.has(r.id)) result.inserted[r.kind] = (result.inserted[r.kind] ?? 0) + 1;
      for (const b of bad) rejected.push(deadLetter(rawOf(b.row), `clickhouse rejected the row: ${b.reason}`.slice(0, 2000), b.row.ts, `enrich:${table}`));
    }
    result.deadLetters = await this.storeDeadLetters([...deadLetters, ...rejected]);
    return result;
  }

  /**
   * Ids of `rows` already in `table`, by its primary key (channel, ts, id): reads a few granules.
   * First counts the stored rows in the batch's key range: none is the common case (a fresh import,
   * live chat whose range starts after the last batch), and a count reads no id. A few (live batches
   * overlapping the previous one's tail) are fetched and matched here. Only a range holding many more
   * rows than the batch sends the batch's ids as a parameter (~40 bytes each: ~450 KB of parameter
   * text for an 11,000-row batch, formatted here and parsed by ClickHouse).
   * @param ids the ids of `rows`
   */
  private async storedIds(table: RawTable, rows: PendingRow[], ids: ReadonlySet<string>): Promise<Set<string>> {
    let min = Infinity;
    let max = -Infinity;
    let recordedMin = Infinity;
    let recordedMax = -Infinity;
    let exportMin = Infinity;
    let exportMax = -Infinity;
    const channels = new Set<string>();
    for (const r of rows) {
      if (r.ts < min) min = r.ts;
      if (r.ts > max) max = r.ts;
      if (r.event.source !== 'live' && r.ts < recordedMin) recordedMin = r.ts;
      if (r.event.source !== 'live' && r.ts > recordedMax) recordedMax = r.ts;
      channels.add(r.channel);
      const given = r.event.tags[EXPORT_TIME_TAG];
      if (given !== undefined) {
        const t = Date.parse(given);
        if (Number.isFinite(t)) {
          exportMin = Math.min(exportMin, t, r.ts);
          exportMax = Math.max(exportMax, t, r.ts);
        }
      }
    }
    // A GQL VOD message may be stored at the export's time (versions before the retiming, or an import of a piece too
    // short to retime) or retimed from another estimate of the VOD's start (with its vod.json, without: minutes
    // apart), up to a VOD's length (48 h) after that time: its ids are also looked for from a day before both times
    // to two days after. Costs a wider range only for such imports; the id bloom index keeps it cheap.
    const retimed = exportMin <= exportMax;
    // Importers of whole-second formats put the k-th event of a second k ms into it (ingest/importers/types.ts
    // fileOrderClock); earlier versions stored it at the second itself, under the same id, and another file holding
    // the line (a second viewer's Chatty log, a user's justlog log after the channel's) gives it another k. So the
    // range runs from the whole second of the batch's earliest imported row to the end of its latest one's: at most
    // 999 ms more at each end, which holds only the rest of those seconds (a batch cut inside a second found the
    // copies already when they all had its time). Not for live rows: their batches would each fetch the previous
    // batch's last second.
    if (recordedMin < Infinity) min = Math.min(min, Math.floor(recordedMin / 1000) * 1000);
    if (recordedMax > -Infinity) max = Math.max(max, Math.floor(recordedMax / 1000) * 1000 + 999);
    // `table` comes from RAW_TABLES, never from input.
    const range = `FROM ${table} WHERE channel IN {channels:Array(String)} AND (ts BETWEEN {min:DateTime64(3)} AND {max:DateTime64(3)}${
      retimed ? ' OR ts BETWEEN {exportMin:DateTime64(3)} AND {exportMax:DateTime64(3)}' : ''
    })`;
    const params: Record<string, unknown> = { channels: [...channels], min: dt64Param(min), max: dt64Param(max) };
    if (retimed) Object.assign(params, { exportMin: dt64Param(Math.max(0, exportMin - 86_400_000)), exportMax: dt64Param(exportMax + 2 * 86_400_000) });
    const counted = await this.client.query({ query: `SELECT count() ${range}`, query_params: params, format: 'JSONCompactEachRow' });
    const [[n]] = await counted.json<[number]>();
    if (Number(n) === 0) return new Set();
    const byIds = Number(n) > 4 * rows.length;
    const rs = await this.client.query({
      query: `SELECT id ${range}${byIds ? ' AND id IN {ids:Array(String)}' : ''}`,
      query_params: byIds ? { ...params, ids: [...ids] } : params,
      format: 'JSONCompactEachRow',
    });
    const found = await rs.json<[string]>();
    const stored = new Set<string>();
    if (byIds) for (const f of found) stored.add(f[0]);
    else for (const f of found) if (ids.has(f[0])) stored.add(f[0]);
    return stored;
  }

  private async storeDeadLetters(list: DeadLetter[]): Promise<number> {
    if (list.length === 0) return 0;
    const unique = [...new Map(list.map((d) => [d.id, d])).values()];
    // dead_letters is ORDER BY (stage, ts, id) and small; the id alone identifies a payload.
    const rs = await this.client.query({
      query: 'SELECT id FROM dead_letters WHERE stage = {stage:String} AND id IN {ids:Array(String)}',
      query_params: { stage: DEAD_LETTER_STAGE, ids: unique.map((d) => d.id) },
      format: 'JSONCompactEachRow',
    });
    const stored = new Set((await rs.json<[string]>()).map((r) => r[0]));
    const fresh = unique.filter((d) => !stored.has(d.id));
    if (fresh.length === 0) return 0;
    await this.insertOnce('dead_letters', fresh.map((d) => d.id), fresh);
    return fresh.length;
  }

  /** Inserts rows; on a deterministic error splits the batch to find the rejected rows. Returns those. */
  private async insertBisecting(table: RawTable, rows: PendingRow[], result: StoreResult): Promise<Array<{ row: PendingRow; reason: string }>> {
    try {
      await this.insertOnce(
        table,
        rows.map((r) => r.id),
        rows.map((r) => r.row),
      );
      return [];
    } catch (err) {
      if (isTransientClickHouseError(err)) throw err;
      const reason = (err as Error).message ?? String(err);
      if (rows.length === 1) return [{ row: rows[0], reason }];
      result.bisections++;
      this.logger.warn({ table, rows: rows.length, err: reason.slice(0, 300) }, 'insert rejected; bisecting to find the bad rows');
      const mid = rows.length >> 1;
      // Each half gets its own token (different ids), so halves stored before a crash are found by the
      // id check on redelivery.
      return [...(await this.insertBisecting(table, rows.slice(0, mid), result)), ...(await this.insertBisecting(table, rows.slice(mid), result))];
    }
  }

  private async insertOnce(table: string, ids: string[], values: Array<Record<string, unknown>> | DeadLetter[]): Promise<void> {
    const token = dedupToken(table, ids);
    const { columns, body } = encodeCompact(values as Array<Record<string, unknown>>);
    const file = this.journalDir ? path.join(this.journalDir, `${table}.${token}.ndjson`) : null;
    if (file) writeJournalEntry(file, columns, body);
    try {
      await this.send(table, token, columns, body);
    } catch (err) {
      // Transient: the insert may have half-committed; the entry is re-sent before anything else.
      if (isTransientClickHouseError(err)) this.journalDirty = true;
      else if (file) fs.rmSync(file, { force: true });
      throw err;
    }
    if (file) {
      // Synchronous: unlinking an 11 MB entry took 2.1-2.4 ms of main thread here, while an async
      // removal waits for a libuv pool thread that the engine's own async calls occupy (measured ~100
      // ms per batch on the bench, which the next batch had to wait for before replaying the journal).
      // A crash before the unlink leaves an entry that is re-sent and dropped by its token.
      try {
        fs.rmSync(file, { force: true });
      } catch (err) {
        // still there: re-sent at the next start, dropped by its token
        this.logger.warn({ file, err: (err as Error).message }, 'could not remove a journal entry');
      }
    }
  }

  /** Re-sends journal entries left by a crash or a failed attempt, with their tokens. */
  private async replayJournal(): Promise<void> {
    if (!this.journalDir || !this.journalDirty) return;
    const all = fs.readdirSync(this.journalDir);
    // A `.tmp` is an entry whose write a crash interrupted: its insert was never sent (the entry is
    // renamed into place before sending), and its bus messages are still unacked.
    for (const f of all) if (f.endsWith('.tmp')) fs.rmSync(path.join(this.journalDir, f), { force: true });
    const entries = all.filter((f) => JOURNAL_FILE.test(f));
    for (const f of entries) {
      const [, table, token] = JOURNAL_FILE.exec(f)!;
      const file = path.join(this.journalDir, f);
      if (!JOURNAL_TABLES.has(table)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      try {
        // Same rows in the same order under the same token: ClickHouse dedups by the token, so the
        // re-serialized text need not be byte-identical.
        const data = fs.readFileSync(file);
        const nl = data.indexOf(10);
        const first = (nl < 0 ? data : data.subarray(0, nl)).toString('utf8');
        if (first.startsWith('[')) {
          // column names, then the JSONCompactEachRow body
          const body = nl < 0 ? Buffer.alloc(0) : data.subarray(nl + 1);
          if (body.length > 0) await this.send(table, token, JSON.parse(first) as string[], body);
        } else {
          // entries written before the column header: one JSON object per line
          const rows = data.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
          if (rows.length > 0) {
            const { columns, body } = encodeCompact(rows);
            await this.send(table, token, columns, body);
          }
        }
      } catch (err) {
        if (isTransientClickHouseError(err)) throw err;
        // Rejected for its content: its bus messages are still unacked and will be bisected.
        this.logger.error({ table, token, err: (err as Error).message }, 'journal entry rejected; dropping it');
      }
      fs.rmSync(file, { force: true });
      this.logger.info({ table, token }, 're-sent an interrupted insert from the journal');
    }
    this.journalDirty = false;
  }

  /** Inserts a JSONCompactEachRow `body` (UTF-8 lines, each ending in a newline) into `columns` of `table`. */
  private async send(table: string, token: string, columns: string[], body: Buffer): Promise<void> {
    const queryId = `enrich-${token.slice(0, 12)}-${randomUUID()}`;
    const abort = new AbortController();
    // Rows of one table share their keys (rows.ts builds them with a fixed shape), so they go as
    // JSONCompactEachRow with the column list: ClickHouse skips matching ~45 keys per row, measured
    // ~35% faster than JSONEachRow for `messages` on chdb 26.7 (11k-row batches, interleaved runs).
    // Embedded: the Buffer goes to the engine as it is (core/clickhouse.ts `rawInserter`). Our HTTP
    // client takes the text as it is (it appends the last newline); another client gets the rows
    // parsed back.
    const raw = rawInserter(this.client);
    const attempt = raw
      ? raw(table, columns, body, insertSettings(token))
      : this.client.insert({
          table,
          columns: columns as [string, ...string[]],
          values: (acceptsPreEncoded(this.client)
            ? [new PreEncodedRows(body.toString('utf8', 0, body.length - 1))]
            : body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) as unknown[][],
          format: 'JSONCompactEachRow',
          query_id: queryId,
          abort_signal: abort.signal,
          clickhouse_settings: insertSettings(token),
        });
    const settled = attempt.then(
      () => undefined,
      () => undefined,
    );
    const slow = setInterval(() => this.onSlow(), Math.max(1000, Math.floor(this.timeoutMs / 3)));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new InsertTimeout(this.timeoutMs)), this.timeoutMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof InsertTimeout) {
        abort.abort();
        // It may still commit: the next check-then-insert must wait for it (see waitForOrphans).
        this.orphans.push({ queryId, settled });
      }
      throw err;
    } finally {
      clearInterval(slow);
      clearTimeout(timer);
    }
  }

  /**
   * Waits until no timed-out attempt can still be running: its local promise settled (embedded: the
   * engine call returned) and the server no longer lists its query_id (HTTP: an aborted request's
   * query may run on); after twice the timeout it is killed synchronously.
   */
  private async waitForOrphans(): Promise<void> {
    while (this.orphans.length > 0) {
      const o = this.orphans[0];
      await o.settled;
      const deadline = Date.now() + 2 * this.timeoutMs;
      for (;;) {
        const rs = await this.client.query({
          query: 'SELECT count() AS n FROM system.processes WHERE query_id = {id:String}',
          query_params: { id: o.queryId },
          format: 'JSONEachRow',
        });
        const [{ n }] = await rs.json<{ n: number }>();
        if (Number(n) === 0) break;
        this.onSlow();
        if (Date.now() > deadline) {
          await this.client.command({ query: 'KILL QUERY WHERE query_id = {id:String} SYNC', query_params: { id: o.queryId } });
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      this.orphans.shift();
    }
  }
}
