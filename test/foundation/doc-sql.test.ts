/**
 * The SQL the docs tell analysts to paste into `twichist sql` (clickhouse/README.md's ```sql blocks, and the
 * `twichist sql "..."` lines of README.md and docs/) runs against the migrated schema as written, comments
 * included: each is one statement that `twichist sql` prints rows for, and ClickHouse accepts it. What the
 * figures mean is checked where the tables are (test/analytics, test/api); this catches a renamed column or
 * table that a doc still names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isRead, singleStatement } from '../../cli/commands/sql.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';

/** The statements of a ```sql block, each with the comment lines above it (a blank line or a new comment ends one). */
function sqlBlockStatements(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/```sql\n([\s\S]*?)```/g)) {
    let lines: string[] = [];
    const flush = () => {
      if (lines.some((l) => !l.trim().startsWith('--'))) out.push(lines.join('\n'));
      lines = [];
    };
    for (const line of block[1].split('\n')) {
      const comment = line.trim().startsWith('--');
      if (line.trim() === '' || (comment && lines.some((l) => !l.trim().startsWith('--')))) flush();
      if (line.trim() !== '') lines.push(line);
    }
    flush();
  }
  return out;
}

function docExamples(): Array<{ where: string; sql: string }> {
  const out: Array<{ where: string; sql: string }> = [];
  for (const sql of sqlBlockStatements(fs.readFileSync(path.join(REPO_ROOT, 'clickhouse', 'README.md'), 'utf8'))) out.push({ where: 'clickhouse/README.md', sql });
  // up.ts: the queries `twichist up` suggests at start-up
  const docs = ['README.md', path.join('cli', 'commands', 'up.ts'), ...fs.readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];
  for (const file of docs) {
    for (const m of fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').matchAll(/twichist sql "([^"]+)"/g)) {
      if (!/^\s*(\.\.\.|<query>)\s*$/.test(m[1])) out.push({ where: file, sql: m[1] });
    }
  }
  return out;
}

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(async () => {
  await db?.client.close();
});

test('the docs have SQL examples to check (the extraction found them)', () => {
  const examples = docExamples();
  assert.ok(examples.filter((e) => e.where === 'clickhouse/README.md').length >= 20, `clickhouse/README.md: ${examples.length}`);
  assert.ok(examples.some((e) => e.where === 'README.md'));
  assert.ok(examples.filter((e) => e.where.endsWith('up.ts')).length >= 3);
  // A block's comment stays with the statement below it, as a reader copies it.
  assert.deepEqual(sqlBlockStatements('```sql\n-- a\nSELECT 1\n-- b\nSELECT 2\n\nSELECT 3\n```'), ['-- a\nSELECT 1', '-- b\nSELECT 2', 'SELECT 3']);
});

test('every SQL example of the docs runs in twichist sql as written', async () => {
  const failed: string[] = [];
  for (const { where, sql } of docExamples()) {
    const one = singleStatement(sql);
    if (one === null) {
      failed.push(`${where}: more than one statement: ${sql}`);
      continue;
    }
    if (!isRead(one)) {
      failed.push(`${where}: twichist sql would run it as a command and print OK: ${sql}`);
      continue;
    }
    try {
      const rs = await db.client.query({ query: one, format: 'JSONEachRow' });
      await rs.json();
    } catch (err) {
      failed.push(`${where}: ${(err as Error).message.split('\n')[0]}\n  ${sql.replace(/\n/g, '\n  ')}`);
    }
  }
  assert.deepEqual(failed, []);
});
