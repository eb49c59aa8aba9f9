/**
 * Migration runner. Applies `migrations/NNNN_<name>.up.sql` in version order, records each with the
 * sha256 of its file in `schema_migrations`, and refuses to run when an applied file has changed
 * since (the database would no longer match the code). Running it twice is a no-op.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CH_ERROR, clickHouseCode, rawInserter, type ClickHouseClient } from '../core/clickhouse.ts';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface MigrationFile {
  version: number;
  name: string;
  upPath: string;
  downPath: string | null;
  checksum: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function listMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  const files = fs.readdirSync(dir);
  const out: MigrationFile[] = [];
  for (const f of files) {
    const m = /^(\d{4})_([a-z0-9_]+)\.up\.sql$/.exec(f);
    if (!m) continue;
    const downName = `${m[1]}_${m[2]}.down.sql`;
    const upPath = path.join(dir, f);
    out.push({
      version: Number(m[1]),
      name: m[2],
      upPath,
      downPath: files.includes(downName) ? path.join(dir, downName) : null,
      checksum: createHash('sha256').update(fs.readFileSync(upPath)).digest('hex'),
    });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i].version === out[i - 1].version) throw new MigrationError(`two migrations share version ${out[i].version}: ${out[i - 1].name} and ${out[i].name}`);
  }
  return out;
}

/** Splits a migration file into statements: `;` at the end of a line ends one; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const line of sql.split(/\r?\n/)) {
    if (/^\s*--/.test(line)) continue;
    current.push(line);
    if (/;\s*$/.test(line)) {
      const stmt = current.join('\n').replace(/;\s*$/, '').trim();
      if (stmt) statements.push(stmt);
      current = [];
    }
  }
  const rest = current.join('\n').trim();
  if (rest) statements.push(rest);
  return statements;
}

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied Bool,
    at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (version, at)`;

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/**
 * The migrations recorded as applied, oldest first.
 * @param opts.readOnly do not create the ledger when missing (then the read fails with UNKNOWN_TABLE): what
 * `twichist status` uses, which must change nothing, not even on a database no twichist has migrated.
 */
export async function appliedMigrations(client: ClickHouseClient, opts: { readOnly?: boolean } = {}): Promise<AppliedMigration[]> {
  if (!opts.readOnly) await client.command({ query: LEDGER });
  const rs = await client.query({
    query: `SELECT version, argMax(name, at) AS name, argMax(checksum, at) AS checksum
            FROM schema_migrations GROUP BY version HAVING argMax(applied, at) ORDER BY version`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ version: number; name: string; checksum: string }>()).map((r) => ({ ...r, version: Number(r.version) }));
}

async function record(client: ClickHouseClient, m: MigrationFile, applied: boolean) {
  await client.insert({
    table: 'schema_migrations',
    values: [{ version: m.version, name: m.name, checksum: m.checksum, applied, at: Date.now() }],
    format: 'JSONEachRow',
  });
}

async function runFile(client: ClickHouseClient, file: string, skipUnknownTable = false) {
  for (const stmt of splitStatements(fs.readFileSync(file, 'utf8'))) {
    try {
      await client.command({ query: stmt, clickhouse_settings: { wait_end_of_query: 1 } });
    } catch (err) {
      if (skipUnknownTable && clickHouseCode(err) === CH_ERROR.UNKNOWN_TABLE) continue;
      throw await explainAliasClash(client, file, err);
    }
  }
}

/**
 * Applies a pending migration. A process killed inside a migration (a `kill -9` of the first `twichist import` of a
 * new data folder) left some of its tables created and the migration unrecorded; every later run then stopped at
 * "TABLE_ALREADY_EXISTS" and the folder could not be used again. With `repair`, such a run is undone with the
 * migration's down file (statements naming what the interrupted run had not created yet are skipped) and the
 * migration applied again: what is dropped is what the interrupted run of this same migration created. On the
 * embedded database that run came before its process stored anything. On a server, stages still running from an
 * older version may have written through a view the interrupted run had created; the migration's own backfill (if
 * it has one) recreates such rows, otherwise they are lost, which is why a server needs `--repair` asked for.
 * Without it (see {@link MigrateOptions.repairInterrupted}) the error says how.
 */
async function applyPending(client: ClickHouseClient, m: MigrationFile, repair: boolean): Promise<void> {
  try {
    await runFile(client, m.upPath);
  } catch (err) {
    if (clickHouseCode(err) !== CH_ERROR.TABLE_ALREADY_EXISTS || m.downPath === null) throw err;
    // another process may have finished it meanwhile (a shared server): then it is not ours to undo
    if ((await appliedMigrations(client)).some((a) => a.version === m.version)) return;
    if (!repair) {
      throw new MigrationError(
        `${path.basename(m.upPath)} was interrupted in an earlier run: some of what it creates exists, but it is not recorded as applied. ` +
          'If no other process is migrating this database, run `twichist migrate --repair` to undo it with its down file and apply it again. ' +
          `ClickHouse said: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    try {
      await runFile(client, m.downPath, true);
    } catch (undoErr) {
      throw new MigrationError(`${path.basename(m.upPath)} was interrupted in an earlier run and cannot be undone (${(undoErr as Error).message.split('\n')[0]}); ClickHouse said first: ${(err as Error).message.split('\n')[0]}`);
    }
    await runFile(client, m.upPath);
  }
}

/**
 * ClickHouse stores a view's query with its tables qualified by the database, so a database named like
 * one of the view's table aliases (`p`, `s`, `m`, ...) turns `p.some_table` into a column of the alias
 * and the CREATE fails with an unknown identifier. That message does not point at the setting to
 * change; this one does. Any other error is returned as it is.
 */
async function explainAliasClash(client: ClickHouseClient, file: string, err: unknown): Promise<unknown> {
  const code = clickHouseCode(err);
  if (code !== CH_ERROR.UNKNOWN_IDENTIFIER && code !== CH_ERROR.UNKNOWN_TABLE) return err;
  const message = (err as Error).message;
  let db: string;
  try {
    const rs = await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' });
    db = (await rs.json<{ db: string }>())[0].db;
  } catch {
    return err;
  }
  if (!message.includes(`'${db}.`) || !new RegExp(`\\bAS ${db}\\b`, 'i').test(fs.readFileSync(file, 'utf8'))) return err;
  return new MigrationError(
    `${path.basename(file)} failed: the database name "${db}" is also a table alias in this migration's views, which ClickHouse ` +
      `cannot tell apart from the database; set CLICKHOUSE_DATABASE to another name (the default is twichist). ClickHouse said: ${message.slice(0, 300)}`,
  );
}

export interface MigrateOptions {
  dir?: string;
  /** Apply up to and including this version; default all. */
  to?: number;
  onApply?: (m: MigrationFile, index: number, total: number) => void;
  /**
   * Undo and reapply a pending migration that an earlier, killed run left half-applied. Default: only when this
   * process holds the embedded engine itself, since then no other process can be migrating it. On a server two
   * processes may migrate at once (replicas started together): undoing would drop what the other is creating, so
   * there it takes `twichist migrate --repair` (compose.yml's one-shot migrator, which the stages wait for).
   */
  repairInterrupted?: boolean;
}

/** Applies pending migrations; returns the ones applied. */
export async function migrateUp(client: ClickHouseClient, opts: MigrateOptions = {}): Promise<MigrationFile[]> {
  const files = listMigrations(opts.dir);
  const applied = new Map((await appliedMigrations(client)).map((a) => [a.version, a]));
  const changed = files.filter((f) => applied.has(f.version) && applied.get(f.version)!.checksum !== f.checksum);
  if (changed.length > 0) {
    throw new MigrationError(
      `applied migration file(s) changed since they ran: ${changed.map((c) => path.basename(c.upPath)).join(', ')}. ` +
        'Never edit an applied migration: restore the file and add a new numbered migration instead.',
    );
  }
  const pending = files.filter((f) => !applied.has(f.version) && (opts.to === undefined || f.version <= opts.to));
  const repair = opts.repairInterrupted ?? rawInserter(client) !== null;
  for (let i = 0; i < pending.length; i++) {
    opts.onApply?.(pending[i], i, pending.length);
    await applyPending(client, pending[i], repair);
    await record(client, pending[i], true);
  }
  return pending;
}

/** Reverts applied migrations above `to` (default: all), newest first; returns the ones reverted. */
export async function migrateDown(client: ClickHouseClient, opts: MigrateOptions = {}): Promise<MigrationFile[]> {
  const files = new Map(listMigrations(opts.dir).map((f) => [f.version, f]));
  const applied = (await appliedMigrations(client)).filter((a) => a.version > (opts.to ?? 0)).reverse();
  const reverted: MigrationFile[] = [];
  for (let i = 0; i < applied.length; i++) {
    const f = files.get(applied[i].version);
    if (!f?.downPath) throw new MigrationError(`migration ${applied[i].version}_${applied[i].name} has no .down.sql file`);
    opts.onApply?.(f, i, applied.length);
    await runFile(client, f.downPath);
    await record(client, f, false);
    reverted.push(f);
  }
  return reverted;
}

const RETENTION_TABLES = ['messages', 'mod_actions', 'user_notices', 'room_states', 'ingest_events'];

/**
 * Applies the optional retention (`TWICHIST_RETENTION_DAYS`) as a TTL on the raw tables, or removes
 * it. Config, not a migration: changing the setting must not need a new file.
 */
export async function applyRetention(client: ClickHouseClient, days: number): Promise<void> {
  if (!Number.isSafeInteger(days) || days < 0) throw new MigrationError(`retention must be a whole number of days, got ${days}`);
  for (const table of RETENTION_TABLES) {
    const rs = await client.query({
      query: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}',
      query_params: { t: table },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ engine_full: string }>();
    if (rows.length === 0) continue;
    const hasTtl = /\bTTL\b/.test(rows[0].engine_full);
    if (days === 0) {
      if (hasTtl) await client.command({ query: `ALTER TABLE ${table} REMOVE TTL` });
    } else {
      // A DDL statement cannot take query parameters; `days` is a validated integer, not user text.
      await client.command({ query: `ALTER TABLE ${table} MODIFY TTL toDateTime(ts) + toIntervalDay(${days})`, clickhouse_settings: { materialize_ttl_after_modify: 0 } });
    }
  }
}
