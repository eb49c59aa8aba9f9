/**
 * `twichist import` returns only when the derived tables (bursts, burst windows, chatter features, ...)
 * reflect the import: an analyst can query them right away, without waiting for a refresh schedule. Its
 * summary counts what was stored, and a re-import stores nothing twice.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sharedDataMissing, SHARED_DATA } from '../support/paths.ts';
import { runCli } from './harness.ts';

test('derived tables reflect an import when the command returns', { skip: sharedDataMissing() }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-import-derived-'));
  try {
    const env = { TWICHIST_DATA_DIR: dir, TWICHIST_ONLINE: 'false' };
    const imp = await runCli(['import', path.join(SHARED_DATA, 'chatty', 'reckful', 'reckful1.log')], env, 300_000);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stderr, /derived tables refreshed/);
    // the summary says what was stored; a second import of the same file stores nothing and says so
    const events = Number(/: (\d+) events read, /.exec(imp.stdout)?.[1]);
    assert.ok(events >= 1542, imp.stdout);
    assert.match(imp.stdout, new RegExp(`: ${events} events read, ${events} stored in ClickHouse\n`));
    const again = await runCli(['import', path.join(SHARED_DATA, 'chatty', 'reckful', 'reckful1.log')], env, 300_000);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`: ${events} events read, 0 stored in ClickHouse, ${events} already stored \\(same ids: kept once\\)\n`));
    const q = async (sql: string) => {
      const r = await runCli(['sql', sql, '--format', 'json'], env);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Record<string, number>;
    };
    // 1,542 messages in the log (counted by the importer tests); every one is in a scored 30-s window.
    assert.deepEqual(await q("SELECT count() AS n FROM messages WHERE channel = 'reckful'"), { n: 1542 });
    const windows = await q("SELECT sum(count) AS n FROM burst_windows WHERE channel = 'reckful' AND kind = 'volume'");
    assert.equal(windows.n, 1542, 'burst_windows covers every imported message');
    const features = await q("SELECT count() AS chatters, sum(messages) AS messages FROM chatter_features WHERE channel = 'reckful'");
    assert.ok(features.chatters > 0);
    assert.equal(features.messages, 1542);
    // topics: computed by the import's enrich stage, and again by hand over the log's day
    const topics = await q("SELECT count() AS n, uniqExact(window_start) AS windows FROM topics FINAL WHERE channel = 'reckful'");
    assert.ok(topics.n > 0, 'topics of the imported windows');
    assert.ok((await q("SELECT countIf(topic_id >= 0) AS n FROM message_topics FINAL WHERE channel = 'reckful'")).n > 0, 'messages have topic ids');
    // ... in message_topics only: the refreshes no longer mutate messages (its topic_id is deprecated)
    assert.deepEqual(await q("SELECT countIf(topic_id != -1) AS n FROM messages WHERE channel = 'reckful'"), { n: 0 });
    const day = await q("SELECT toString(toDate(min(ts))) AS d FROM messages WHERE channel = 'reckful'");
    const by = await runCli(['analytics', 'topics', '--channel', 'reckful', '--since', `${day.d}T00:00:00Z`, '--until', `${day.d}T23:59:59Z`], env, 120_000);
    assert.equal(by.code, 0, by.stderr);
    assert.match(by.stdout, new RegExp(`^topics: \\d+ in ${topics.windows} windows of 1 channel\\(s\\), \\d+ messages, keywords$`, 'm'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without models, an import says so once, in one short info line naming `twichist models pull`', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-import-models-'));
  try {
    const imp = await runCli(['import', 'samples'], { TWICHIST_DATA_DIR: dir, TWICHIST_ONLINE: 'false', LOG_LEVEL: 'info' }, 300_000);
    assert.equal(imp.code, 0, imp.stderr);
    const lines = imp.stderr.split('\n').filter((l) => /model/i.test(l));
    assert.equal(lines.length, 1, lines.join('\n'));
    const rec = JSON.parse(lines[0]) as { level: number; msg: string };
    assert.equal(rec.level, 30, 'info');
    assert.match(rec.msg, /found: none; not found: sentiment, toxicity, embeddings -- .*`twichist models pull`/);
    // was 1,082 characters (with a short temporary folder): each model's id, folder and missing files, twice (message and fields)
    assert.ok(lines[0].length < 400, `${lines[0].length} characters: ${lines[0]}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an import spread over months computes each topic window once, with no delete mutations, and stops cleanly', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-import-sparse-'));
  try {
    // one message a month for two years: 24 windows, each its own refresh range (a quiet channel's archive)
    const lines = Array.from({ length: 24 }, (_, i) => {
      const ts = Date.UTC(2021 + Math.floor(i / 12), i % 12, 3, 12, 0, 0);
      return `@id=sparse-${i};room-id=1;tmi-sent-ts=${ts};user-id=2 :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #quiet :message ${i} of a quiet year`;
    });
    const file = path.join(dir, 'quiet.irc');
    fs.writeFileSync(file, lines.join('\r\n') + '\r\n');
    const env = { TWICHIST_DATA_DIR: path.join(dir, 'data'), TWICHIST_ONLINE: 'false', LOG_LEVEL: 'warn' };
    const imp = await runCli(['import', file], env, 300_000);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /24 events read, 24 stored/);
    // the shutdown's topic run went on after the database was closed ("ChdbConnection is closed")
    assert.doesNotMatch(imp.stderr, /topic refresh failed|is closed/);
    const q = async (sql: string) => {
      const r = await runCli(['sql', sql, '--format', 'json'], env);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Record<string, number>;
    };
    // Before: every range queued two DELETE mutations (nothing to delete on new windows), each slower than the
    // one before (0.1 s rising to 5 s), and the shutdown recomputed the windows stored within 10 s of the last run.
    assert.deepEqual(
      await q("SELECT uniqExact(window_start) AS windows, max(n) AS versions FROM (SELECT window_start, uniqExact(computed_at) AS n FROM topic_window_state WHERE channel = 'quiet' AND computed_at > 0 GROUP BY window_start)"),
      { windows: 24, versions: 1 },
    );
    assert.deepEqual(await q("SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table IN ('topics', 'message_topics')"), { n: 0 });
    assert.deepEqual(await q("SELECT count() AS n FROM message_topics WHERE channel = 'quiet'"), { n: 24 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
