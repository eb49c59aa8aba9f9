import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.ts';
import type { Config } from '../../core/config.ts';
import { parseArgs, UsageError, type Command } from '../command.ts';
import { describeError } from '../errors.ts';

// `FROM t SELECT ...` is ClickHouse's FROM-first SELECT.
const READS = /^\s*(\(|SELECT|WITH|FROM|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS|CHECK)\b/i;

/**
 * `query` without one trailing `;`, or null when it holds more than one statement (a `;` outside quotes, comments
 * and identifiers followed by more SQL): ClickHouse runs one statement per request, and its answer to two is
 * a parse error far from the cause.
 */
export function singleStatement(query: string): string | null {
  let end = query.length;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < query.length && query[i] !== c; i++) if (query[i] === '\\') i++;
    } else if (c === '-' && query[i + 1] === '-') {
      while (i < query.length && query[i] !== '\n') i++;
    } else if (c === '/' && query[i + 1] === '*') {
      const close = query.indexOf('*/', i + 2);
      i = close === -1 ? query.length : close + 1;
    } else if (c === ';') {
      if (query.slice(i + 1).trim() !== '') return null;
      end = i;
      break;
    }
  }
  return query.slice(0, end).trim();
}

/**
 * `query` from its first keyword on: the comments and blank space before it skipped. clickhouse/README.md's
 * examples start with `-- what it does`; tested as written, such a SELECT was not a read, so it ran as a
 * command and printed `OK` instead of its rows.
 */
export function firstKeyword(query: string): string {
  let s = query;
  for (;;) {
    s = s.trimStart();
    if (s.startsWith('--') || s.startsWith('#')) {
      const nl = s.indexOf('\n');
      s = nl === -1 ? '' : s.slice(nl + 1);
    } else if (s.startsWith('/*')) {
      const close = s.indexOf('*/');
      s = close === -1 ? '' : s.slice(close + 2);
    } else {
      return s;
    }
  }
}

/** Whether `query` returns rows (printed in --format), rather than being run as a command that prints OK. */
export function isRead(query: string): boolean {
  return READS.test(firstKeyword(query));
}

/** Renders rows as an aligned text table; long cells are cut so one wide column cannot hide the rest. */
export function renderTable(names: string[], rows: unknown[][], maxCell = 80): string {
  const cell = (v: unknown) => {
    const s = v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    const flat = s.replace(/\s+/g, ' ');
    return flat.length > maxCell ? flat.slice(0, maxCell - 1) + '…' : flat;
  };
  const cells = rows.map((r) => r.map(cell));
  const widths = names.map((n, i) => Math.max(n.length, ...cells.map((r) => r[i].length)));
  const line = (parts: string[]) => parts.map((p, i) => p.padEnd(widths[i])).join(' │ ').trimEnd();
  const out = [line(names), widths.map((w) => '─'.repeat(w)).join('─┼─'), ...cells.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return out.join('\n') + '\n';
}

export const command: Command = {
  name: 'sql',
  summary: 'Run SQL against the configured ClickHouse (embedded by default) and print the result',
  usage: 'twichist sql "<query>" [--format table|json|csv]',
  options: [{ flag: '--format table|json|csv', description: 'output format (default table): json prints one JSON object per row, csv prints CSV with a header' }],
  examples: [
    'twichist sql "SELECT channel, count() FROM messages GROUP BY channel"',
    'twichist sql "SELECT login, text FROM messages WHERE hasToken(lower(text), \'kekw\') LIMIT 10" --format json',
    'twichist sql "SELECT * FROM bursts ORDER BY score DESC LIMIT 20" --format csv > bursts.csv',
  ],
  async run(args, ctx) {
    const { flags, positional } = parseArgs(args, { format: 'string' });
    const format = (flags.format as string | undefined) ?? 'table';
    if (!['table', 'json', 'csv'].includes(format)) throw new UsageError(`--format must be table, json or csv, not '${format}'`);
    const query = singleStatement(positional.join(' ').trim());
    if (query === null) throw new UsageError('one statement per call: run each of the ;-separated statements with its own twichist sql');
    if (!firstKeyword(query)) throw new UsageError('give the SQL to run, e.g. twichist sql "SELECT count() FROM messages"');
    const client = await createClickHouse(ctx.config());
    try {
      if (!isRead(query)) {
        await client.command({ query });
        ctx.stdout.write('OK\n');
        return 0;
      }
      if (format === 'csv') {
        const rs = await client.query({ query, format: 'CSVWithNames' });
        ctx.stdout.write(await rs.text());
      } else if (format === 'json') {
        const rs = await client.query({ query, format: 'JSONEachRow' });
        for (const row of await rs.json()) ctx.stdout.write(JSON.stringify(row) + '\n');
      } else {
        const rs = await client.query({ query, format: 'JSONCompact' });
        const body = await rs.json<unknown[]>();
        ctx.stdout.write(renderTable(body.meta?.map((m) => m.name) ?? [], body.data as unknown[][]));
      }
      return 0;
    } catch (err) {
      if ((err as { type?: string }).type === 'UNKNOWN_TABLE' && !(await hasSchema(client))) throw new Error(`${describeError(err).trimEnd()} ${noSchemaHint(ctx.config())}`);
      throw err;
    } finally {
      await client.close();
    }
  },
};

/**
 * Said when a table is unknown because nothing was ever stored in this database. The default
 * TWICHIST_DATA_DIR is `./data` of the current folder, so `twichist sql` run from another folder than
 * `npm start` (or without the TWICHIST_DATA_DIR `up` was given) opened a new, empty database, and
 * ClickHouse's answer ("Unknown table expression identifier 'messages' ... Maybe you meant
 * system.merges?") did not say so.
 */
export function noSchemaHint(config: Config): string {
  const where = config.clickhouse.url === null ? `the embedded database in ${config.clickhouse.embeddedPath}` : `database ${config.clickhouse.database} at ${config.clickhouse.url}`;
  const fix =
    config.clickhouse.url === null
      ? 'set TWICHIST_DATA_DIR to the folder `twichist up` uses (the default ./data is relative to the current folder)'
      : 'check CLICKHOUSE_DATABASE';
  return `No Twichist tables in ${where}: nothing was stored there yet. Run \`twichist up\` or \`twichist import\` first, or ${fix}.`;
}

async function hasSchema(client: ClickHouseClient): Promise<boolean> {
  try {
    const rs = await client.query({ query: 'EXISTS TABLE schema_migrations', format: 'JSONEachRow' });
    const rows = await rs.json<{ result: number }>();
    return Number(rows[0]?.result) === 1;
  } catch {
    return true; // cannot tell: keep ClickHouse's own message alone
  }
}
