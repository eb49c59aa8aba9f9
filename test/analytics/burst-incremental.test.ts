/**
 * burst_windows_mv and bursts_mv recompute only the (channel, hour) slices whose chat changed (migration
 * 0053). After each step below, on real chat (riotgames1: LoL Worlds, 01:39-03:04 UTC), both views must
 * equal the full-history queries row for row (bursts without detected_at), with no duplicate keys: 0030's,
 * with the windows scored by the rules of 0058 (test/analytics/support/burst-reference.ts):
 * 1. initial load: the log up to 02:30;
 * 2. a later part appended: the rest of the log;
 * 3. older chat imported into the computed hours (another channel's log moved onto the same channel
 *    and times) and into hours never seen (riotgames1 a week earlier);
 * 4. more messages in a computed hour: Kreygasm bursts at 01:58:30-01:59:30, whose hour's totals change
 *    but not the next hour's, although the windows 02:00-02:09:30 read them in their baselines;
 * 5. more in the next hour, 02:00:00-02:00:30: the stored burst ending at 02:00 must grow across the
 *    hour boundary into one burst, not stay beside a second one.
 * 6. an opt-out (api/privacy.ts) of a chatter quoted in a burst's sample messages, after which the
 *    same number of messages and emote uses arrive in each hour the chatter had chatted in, 30 s
 *    away: every hour's totals are back at their markers' values, yet scores and samples changed.
 * 7. chat across a month boundary (the row tables are partitioned by month since migration 0057): a
 *    burst from 2016-09-30 into 2016-10-01, whose windows sit in two partitions; besides the views,
 *    the readers' own queries (Grafana's burst alerts and panels, the API's burst list: time
 *    filters that prune partitions) must give the reference's rows around the boundary.
 * 8. one refresh writing into more than 100 months (an archive imported at once), over ClickHouse's
 *    default limit of partitions per inserted block.
 * Each step also checks that hours the step did not touch kept their markers (nothing recomputed there).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { refreshDerived } from '../../analytics/refresh.ts';
import { optOut } from '../../api/privacy.ts';
import { createLogger } from '../../core/logger.ts';
import { chTime, CHATTY_DIR, insertRows, openTestDatabase, readChattyLog, RIOT_LOG, rows, sharedDataSkip, testDataDir, type ChatRow } from './support/db.ts';
import { referenceQueries } from './support/burst-reference.ts';

const OTHER_LOG = path.join(CHATTY_DIR, 'tidesoftime', 'tidesoftime1.log');
const skip = sharedDataSkip(RIOT_LOG) || sharedDataSkip(OTHER_LOG);
const toMs = (s: string) => Date.parse(s.replace(' ', 'T') + 'Z');
const DAY = 86_400_000;
const SPLIT = toMs('2016-09-30 02:30:00');

/** `count` Kreygasm-only messages from new users in each 30-s window starting at the given times. */
function kreygasm(channel: string, windows: string[], count: number, tag: string): ChatRow[] {
  return windows.flatMap((w) => Array.from({ length: count }, (_, i) => {
    const ts = chTime(toMs(w) + Math.floor((i * 30_000) / count));
    return { id: `${tag}-${w}-${i}`, channel, ts, received_at: ts, source: 'chatty', login: `${tag}_${i}`, text: 'Kreygasm', emote_names: ['Kreygasm'] };
  }));
}

describe('incremental burst views equal the full recomputation on real chat', { skip }, () => {
  const data = testDataDir('burst-incremental');
  let client: ClickHouseClient;
  const ref = referenceQueries();
  const log = skip ? { messages: [], mods: [] } : readChattyLog(RIOT_LOG);

  before(async () => {
    client = await openTestDatabase(data.dir, 'burst_incremental');
  });
  after(() => data.cleanup());

  /** Hour -> marker version of burst_window_rows, for checking which hours a refresh rewrote. */
  async function markerVersions(): Promise<Map<string, number>> {
    const r = await rows<{ h: string; v: number }>(client, "SELECT concat(channel, ' ', toString(`window`)) AS h, max(version) AS v FROM burst_window_rows WHERE kind = '' GROUP BY h");
    return new Map(r.map((x) => [x.h, Number(x.v)]));
  }

  /**
   * Both directions of EXCEPT ALL (duplicates count), at most 5 rows each: a deepEqual of thousands of
   * rows that all differ builds a diff of many GB in node:assert.
   */
  async function assertSameRows(what: string, actual: string, expected: string, allowEmpty = false): Promise<void> {
    const [n] = await rows<{ a: number; e: number }>(client, `SELECT (SELECT count() FROM (${actual})) AS a, (SELECT count() FROM (${expected})) AS e`);
    assert.ok(allowEmpty || Number(n.e) > 0, `${what}: the reference has rows`);
    const extra = await rows(client, `SELECT * FROM (${actual} EXCEPT ALL ${expected}) ORDER BY ALL LIMIT 5`);
    const missing = await rows(client, `SELECT * FROM (${expected} EXCEPT ALL ${actual}) ORDER BY ALL LIMIT 5`);
    assert.deepEqual({ rows: Number(n.a), extra, missing }, { rows: Number(n.e), extra: [], missing: [] }, what);
  }

  async function refreshAndCompare(step: string): Promise<void> {
    await refreshDerived(client, { views: ['burst_windows_mv', 'bursts_mv'] });
    await assertSameRows(`${step}: burst_windows`, 'SELECT * FROM burst_windows', ref.windows);
    await assertSameRows(`${step}: bursts`, 'SELECT * EXCEPT detected_at FROM bursts', `SELECT * EXCEPT detected_at FROM (${ref.bursts})`);
  }

  /** Hours whose marker version changed between two snapshots. */
  function rewritten(before: Map<string, number>, now: Map<string, number>): string[] {
    return [...now].filter(([h, v]) => before.get(h) !== v).map(([h]) => h).sort();
  }

  test('1. initial load', async () => {
    await insertRows(client, log.messages.filter((m) => toMs(m.ts) < SPLIT), log.mods.filter((m) => toMs(m.ts) < SPLIT));
    await refreshAndCompare('initial load');
    assert.deepEqual([...(await markerVersions()).keys()].sort(), ['riotgames 2016-09-30 01:00:00', 'riotgames 2016-09-30 02:00:00']);
  });

  test('2. a later part of the log appended', async () => {
    const before = await markerVersions();
    await insertRows(client, log.messages.filter((m) => toMs(m.ts) >= SPLIT), log.mods.filter((m) => toMs(m.ts) >= SPLIT));
    await refreshAndCompare('later part');
    assert.deepEqual(rewritten(before, await markerVersions()), ['riotgames 2016-09-30 02:00:00', 'riotgames 2016-09-30 03:00:00']);
  });

  test('3. older chat imported into computed hours and into hours never seen', async () => {
    const other = readChattyLog(OTHER_LOG, 'riotgames');
    const shift = toMs(log.messages[0].ts) - toMs(other.messages[0].ts);
    const moved = other.messages.map((m) => ({ ...m, id: `other-${m.id}`, ts: chTime(toMs(m.ts) + shift), received_at: chTime(toMs(m.ts) + shift) }));
    const weekBefore = log.messages.map((m) => ({ ...m, id: `week-${m.id}`, ts: chTime(toMs(m.ts) - 7 * DAY), received_at: chTime(toMs(m.ts) - 7 * DAY) }));
    await insertRows(client, [...moved, ...weekBefore]);
    await refreshAndCompare('import');
  });

  test('4. more messages in a computed hour change the next hour\'s baselines', async () => {
    const before = await markerVersions();
    await insertRows(client, kreygasm('riotgames', ['2016-09-30 01:58:30', '2016-09-30 01:59:00', '2016-09-30 01:59:30'], 60, 'late4'));
    await refreshAndCompare('late messages before an hour boundary');
    assert.deepEqual(rewritten(before, await markerVersions()), ['riotgames 2016-09-30 01:00:00', 'riotgames 2016-09-30 02:00:00']);
    const [b] = await rows<{ start: string; end: string }>(client, "SELECT start, `end` FROM bursts WHERE kind = 'emote' AND emote = 'Kreygasm' AND start <= '2016-09-30 01:59:30' AND `end` > '2016-09-30 01:59:30'");
    assert.deepEqual(b, { start: '2016-09-30 01:58:30', end: '2016-09-30 02:00:00' });
  });

  test('5. a burst grows across the hour boundary into one', async () => {
    await insertRows(client, kreygasm('riotgames', ['2016-09-30 02:00:00', '2016-09-30 02:00:30'], 60, 'late5'));
    await refreshAndCompare('burst across an hour boundary');
    const found = await rows<{ start: string; end: string }>(client, "SELECT start, `end` FROM bursts WHERE kind = 'emote' AND emote = 'Kreygasm' AND start < '2016-09-30 02:01:00' AND `end` > '2016-09-30 01:58:30'");
    assert.deepEqual(found, [{ start: '2016-09-30 01:58:30', end: '2016-09-30 02:01:00' }]);
  });

  test('6. an opt-out whose lost chat is made up by new chat in the same hours', async () => {
    const [who] = await rows<{ login: string }>(client,
      "SELECT login FROM messages WHERE channel = 'riotgames' AND has((SELECT groupArrayArray(sample_messages) FROM bursts), text) GROUP BY login ORDER BY count(), login LIMIT 1");
    assert.ok(who, 'a chatter quoted in a burst');
    const theirs = await rows<{ ts: string; emote_names: string[] }>(client, "SELECT toString(ts) AS ts, emote_names FROM messages WHERE login = {l:String} ORDER BY ts", { l: who.login });
    await optOut(client, who.login, createLogger('silent'));
    await insertRows(client, theirs.map((m, i) => {
      const t = toMs(m.ts);
      const moved = Math.floor((t + 30_000) / 3_600_000) === Math.floor(t / 3_600_000) ? t + 30_000 : t - 30_000;
      return { id: `replacement-${i}`, channel: 'riotgames', ts: chTime(moved), received_at: chTime(moved), source: 'chatty', login: 'replacement', text: ['replacement', ...m.emote_names].join(' '), emote_names: m.emote_names };
    }));
    await refreshAndCompare('opt-out made up by new chat');
  });

  /** Active partitions of a row table. */
  async function partitions(table: string): Promise<string[]> {
    const r = await rows<{ p: string }>(client, 'SELECT DISTINCT partition AS p FROM system.parts WHERE database = currentDatabase() AND table = {t:String} AND active ORDER BY p', { t: table });
    return r.map((x) => x.p);
  }

  test('7. a burst across a month boundary, and the readers\' time filters around it', async () => {
    // Step 3 put riotgames1 alone a week back; its first burst of two windows or more, moved with the whole log
    // so that its second window starts at 2016-10-01 00:00, is the same burst there (same chat before it).
    const weekBack = (await rows<{ at: string }>(client,
      "SELECT toString(start) AS at FROM bursts WHERE channel = 'riotgames' AND start < '2016-09-24 00:00:00' AND `end` - start >= 60 ORDER BY start LIMIT 1"))[0];
    assert.ok(weekBack, 'a burst of two windows or more in riotgames1');
    const shift = toMs('2016-10-01 00:00:00') - 30_000 - (toMs(weekBack.at) + 7 * DAY);
    await insertRows(client, log.messages.map((m) => ({ ...m, id: `month-${m.id}`, ts: chTime(toMs(m.ts) + shift), received_at: chTime(toMs(m.ts) + shift) })));
    await refreshAndCompare('across a month boundary');
    assert.deepEqual(await partitions('burst_window_rows'), ['201609', '201610']);
    assert.deepEqual(await partitions('burst_rows'), ['201609', '201610']);
    const across = await rows<{ start: string }>(client, "SELECT start FROM bursts WHERE channel = 'riotgames' AND start < '2016-10-01 00:00:00' AND `end` > '2016-10-01 00:00:00'");
    assert.ok(across.some((b) => b.start === '2016-09-30 23:59:30'), `the moved burst runs from September into October: ${JSON.stringify(across)}`);

    // As grafana/build/alerts.ts and dashboards.ts read them ($__timeFilter expanded, channel variable set), and as
    // api/routes/analytics.ts lists bursts (plus a tie-break, so that LIMIT keeps the same rows on both sides).
    const reference = { burst_windows: `(${ref.windows})`, bursts: `(${ref.bursts})` };
    const readers: Array<[string, keyof typeof reference, (from: string) => string]> = [
      ['emote alert', 'burst_windows', (f) => `SELECT channel, emote, max(score) AS score FROM ${f} WHERE kind = 'emote' AND hot AND \`window\` >= toDateTime('2016-09-30 23:58:30') AND \`window\` <= toDateTime('2016-10-01 00:01:00') GROUP BY channel, emote`],
      ['volume alert', 'burst_windows', (f) => `SELECT channel, max(score) AS score FROM ${f} WHERE kind = 'volume' AND hot AND \`window\` >= toDateTime('2016-09-30 23:58:30') AND \`window\` <= toDateTime('2016-10-01 00:01:00') GROUP BY channel`],
      ['windows of an hour each side', 'burst_windows', (f) => `SELECT * FROM ${f} WHERE channel = 'riotgames' AND \`window\` >= toDateTime('2016-09-30 23:00:00') AND \`window\` < toDateTime('2016-10-01 01:00:00')`],
      ['bursts panel', 'bursts', (f) => `SELECT start, \`end\`, channel, kind, emote, round(score, 2) AS score, peak_count, top_emotes, sample_messages FROM ${f} WHERE start >= toDateTime('2016-09-30 23:00:00') AND start <= toDateTime('2016-10-01 01:00:00') AND channel IN ('riotgames') ORDER BY score DESC LIMIT 200`],
      ['burst list (API)', 'bursts', (f) => `SELECT * EXCEPT detected_at FROM ${f} WHERE channel = 'riotgames' ORDER BY start DESC, kind, emote LIMIT 100`],
    ];
    // riotgames1's volume bursts are rare: its alert may find none here, every other reader has rows.
    for (const [what, view, sql] of readers) await assertSameRows(what, `SELECT * FROM (${sql(view)})`, `SELECT * FROM (${sql(reference[view])})`, what === 'volume alert');
  });

  test('8. one refresh into more than 100 months', async () => {
    // A few messages on the first of each month from 2000-01 to 2008-06 (102 months), on their own channel,
    // inserted in three batches (`messages` and the rollups have the same limit per insert), refreshed once.
    const months = Array.from({ length: 102 }, (_, i) => Date.UTC(2000, i, 1, 12));
    const archive = months.flatMap((t, i) => Array.from({ length: 3 }, (_, k) => {
      const ts = chTime(t + k * 1_000);
      return { id: `archive-${i}-${k}`, channel: 'archive', ts, received_at: ts, source: 'chatty', login: `old_${k}`, text: 'Kappa', emote_names: ['Kappa'] };
    }));
    for (let i = 0; i < archive.length; i += 34 * 3) await insertRows(client, archive.slice(i, i + 34 * 3));
    await refreshAndCompare('an archive of 102 months');
    assert.ok((await partitions('burst_window_rows')).length >= 102);
  });
});
