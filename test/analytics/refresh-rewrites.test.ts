/**
 * Views rewritten for speed write the same rows as the queries they replaced, on real chat: every Chatty
 * log of ../shared/data (6 channels; cheflethalplays and hsdogdog have several streams), one insert per
 * log (several parts, as live inserts leave them), with moderation actions (windows that hold only
 * actions) and deterministic made-up sentiment and toxicity (the logs have none), so the means are not
 * all zero. The reference is the original migration's query, run as a plain SELECT on the same data.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { refreshDerived } from '../../analytics/refresh.ts';
import { MIGRATIONS_DIR } from '../../clickhouse/migrate.ts';
import { CHATTY_DIR, insertRows, openTestDatabase, readChattyLog, rows, sharedDataSkip, testDataDir } from './support/db.ts';

const skip = sharedDataSkip(CHATTY_DIR);

/** The SELECT of `view` as the migration `file` created it. */
function originalQuery(file: string, view: string): string {
  const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8');
  const from = sql.indexOf(' AS\n', sql.indexOf(`CREATE MATERIALIZED VIEW ${view} `)) + 4;
  return sql.slice(from, sql.indexOf(';\n', from));
}

/** Deterministic scores in [0, 1) from a message id, with a few values above 0.5 (flagged). */
function score(id: string, salt: number): number {
  let h = salt;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) >>> 0;
  return (h % 10_007) / 10_007;
}

describe('rewritten refreshable views write the rows of the original queries', { skip }, () => {
  const data = testDataDir('rewrites');
  let client: ClickHouseClient;
  before(async () => {
    client = await openTestDatabase(data.dir, 'rewrites');
    for (const channel of fs.readdirSync(CHATTY_DIR).sort()) {
      for (const file of fs.readdirSync(path.join(CHATTY_DIR, channel)).filter((f) => f.endsWith('.log')).sort()) {
        const log = readChattyLog(path.join(CHATTY_DIR, channel, file), channel);
        const tag = path.basename(file, '.log');
        const messages = log.messages.map((m) => {
          const id = `${tag}-${m.id}`;
          const sentiment = 2 * score(id, 7) - 1;
          return { ...m, id, sentiment, sentiment_label: sentiment < -0.3 ? -1 : sentiment > 0.3 ? 1 : 0, toxicity: score(id, 11) };
        });
        await insertRows(client, messages, log.mods.map((m) => ({ ...m, id: `${tag}-${m.id}` })));
      }
    }
    await refreshDerived(client);
  });
  after(() => data.cleanup());

  test('channel_streams (0051) equals 0031', async () => {
    const stored = await rows<Record<string, unknown>>(client, 'SELECT * FROM channel_streams ORDER BY channel, stream_no');
    const expected = await rows<Record<string, unknown>>(client, `SELECT * FROM (${originalQuery('0031_create_audience_tables.up.sql', 'channel_streams_mv')}) ORDER BY channel, stream_no`);
    assert.ok(stored.length >= 10 && new Set(stored.map((r) => r.channel)).size === 6, `${stored.length} streams`);
    assert.deepEqual(stored, expected);
  });

  test('channel_signatures (0052) equals 0032; means to 1e-9 relative', async () => {
    const order = 'ORDER BY channel, period, period_start';
    const stored = await rows<Record<string, unknown>>(client, `SELECT * FROM channel_signatures ${order}`);
    const expected = await rows<Record<string, unknown>>(client, `SELECT * FROM (${originalQuery('0032_create_signature_tables.up.sql', 'channel_signatures_mv')}) ${order}`);
    assert.equal(stored.filter((r) => r.period === 'all').length, 6);
    assert.ok(stored.length > 12, `${stored.length} signatures`);
    const means = ['sentiment_mean', 'toxicity_mean', 'length_mean'];
    const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => !means.includes(k)));
    assert.deepEqual(stored.map(strip), expected.map(strip));
    for (let i = 0; i < stored.length; i++) {
      for (const k of means) {
        const [a, b] = [stored[i][k] as number, expected[i][k] as number];
        assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${stored[i].channel} ${stored[i].period_start} ${k}: ${a} != ${b}`);
      }
    }
    assert.ok(stored.some((r) => (r.sentiment_mean as number) !== 0 && (r.toxicity_mean as number) > 0), 'scores are not all zero');
  });
});
