/**
 * Every provisioned query (panels, template variables, annotations, alert rules), expanded exactly
 * as Grafana and grafana-clickhouse-datasource expand it (test/grafana/macros.ts), runs against
 * ClickHouse filled with real chat through import + enrich + analytics, and returns rows in the
 * shape its panel needs. The SQL text carries values here on purpose: it is what Grafana sends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { evalModerationLog } from '../../enrich/eval/moderation.ts';
import { SHARED_DATA, sharedDataMissing } from '../support/paths.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { expandDashboardQuery, expandMacros, queryIntervalMs, type TimeRange, type Variable } from './macros.ts';
import { fillWithRealChat } from './support/fill.ts';
import { migratedTables, provisionedQueries, runSql, shapeProblem, type ProvisionedQuery } from './support/provisioned.ts';

const skip = sharedDataMissing();
const MAX_DATA_POINTS = 1000;

let client: ClickHouseClient;
/** Named time ranges and the rollup resolution each reaches at 1000 points. */
const ranges = new Map<string, { tier: string; range: TimeRange }>();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let channels: string[] = [];
let emotes: string[] = [];
let busyLogin = '';

const one = async <T>(sql: string) => (await runSql(client, sql)).data[0] as T;
const at = (v: unknown) => new Date(`${String(v).replace(' ', 'T')}Z`);

before(async () => {
  if (skip) return;
  const db = await testDatabase();
  client = db.client;
  await fillWithRealChat(client, db.config);
  const all = await one<{ first: string; last: string }>('SELECT min(ts) AS first, max(ts) AS last FROM messages');
  ranges.set('all history', { tier: '1d', range: { from: new Date(at(all.first).getTime() - HOUR), to: new Date(at(all.last).getTime() + HOUR) } });
  // Around two streams: riotgames (busy, moderated, no emote tags) and xqc (Twitch emote tags).
  for (const channel of ['riotgames', 'xqc']) {
    const s = await one<{ first: string; last: string }>(`SELECT min(ts) AS first, max(ts) AS last FROM messages WHERE channel = '${channel}'`);
    const start = at(s.first).getTime();
    ranges.set(`${channel}, 90 days`, { tier: '1h', range: { from: new Date(start - 45 * DAY), to: new Date(start + 45 * DAY) } });
    ranges.set(`${channel}, 1 day`, { tier: '1m', range: { from: new Date(start - DAY / 2), to: new Date(start + DAY / 2) } });
    ranges.set(`${channel} stream`, { tier: '30s', range: { from: new Date(start - 60_000), to: new Date(at(s.last).getTime() + 60_000) } });
  }
  channels = (await runSql(client, 'SELECT DISTINCT channel FROM messages ORDER BY channel')).data.map((r) => String(r.channel));
  // The emote variable's values, as Grafana gets them from its query (the first column: the name in hex).
  const emoteVariable = provisionedQueries().find((q) => q.where === 'emotes-and-bursts.json / variable emote')!;
  const allChannels: Variable[] = [{ name: 'channel', value: ['$__all'], options: channels }];
  const expanded = expandDashboardQuery(emoteVariable.sql, allChannels, { range: ranges.get('all history')!.range, intervalMs: 60_000 });
  emotes = (await runSql(client, expanded)).data.slice(0, 5).map((r) => String(Object.values(r)[0]));
  busyLogin = String((await one<{ login: string }>("SELECT login FROM messages WHERE channel = 'riotgames' GROUP BY login ORDER BY count() DESC LIMIT 1")).login);
});

after(async () => {
  await client?.close();
});

/** The variable selections a dashboard is tested with: the defaults (All, empty user) and a pick. */
function selections(): Array<{ name: string; vars: Variable[] }> {
  return [
    {
      name: 'defaults (All)',
      vars: [
        { name: 'channel', value: ['$__all'], options: channels },
        { name: 'emote', value: ['$__all'], options: emotes },
        { name: 'user', value: '' },
      ],
    },
    {
      name: "picked (riotgames + xqc, two emotes, a user)",
      vars: [
        { name: 'channel', value: ['riotgames', 'xqc'], options: channels },
        { name: 'emote', value: emotes.slice(0, 2), options: emotes },
        { name: 'user', value: busyLogin },
      ],
    },
  ];
}

const known = migratedTables();

/** Runs one expanded query; an unknown table is a skip only while no migration creates it. */
const skippedMissing = new Set<string>();

/** Runs one expanded query and returns its row count; an unknown table is a skip only while no migration creates it. */
async function check(q: ProvisionedQuery, sql: string, label: string, needRows: boolean, t: { skip: (m: string) => void }): Promise<number> {
  let result;
  try {
    result = await runSql(client, sql);
  } catch (err) {
    const m = /Unknown table expression identifier '(?:\w+\.)?(\w+)'|Table \w+\.(\w+) does not exist/.exec(String(err));
    const table = m?.[1] ?? m?.[2];
    if (table && !known.has(table)) {
      t.skip(`${q.where}: table ${table} has no migration yet`);
      skippedMissing.add(q.where);
      return 0;
    }
    throw new Error(`${q.where} [${label}] failed: ${String(err).split('\n')[0]}\n--- sent SQL ---\n${sql}`);
  }
  const problem = shapeProblem(q.shape, result);
  assert.equal(problem, null, `${q.where} [${label}]: ${problem}\n--- sent SQL ---\n${sql}`);
  if (needRows) assert.ok(result.data.length > 0, `${q.where} [${label}] returned no rows from the imported chat\n--- sent SQL ---\n${sql}`);
  return result.data.length;
}

const queries = provisionedQueries();

describe('provisioned dashboard queries against imported real chat', { skip }, () => {
  for (const q of queries.filter((q) => q.kind !== 'alert')) {
    test(q.where, async (t) => {
      const tiersWithRows = new Set<string>();
      for (const [rangeName, { tier, range }] of ranges) {
        for (const sel of selections()) {
          const intervalMs = queryIntervalMs(range, MAX_DATA_POINTS, q.interval);
          const sql = expandDashboardQuery(q.sql, sel.vars, { range, intervalMs });
          // Every range and selection must run and have the panel's shape; the whole history with
          // the default variables must have rows.
          const rows = await check(q, sql, `${rangeName}, ${sel.name}`, rangeName === 'all history' && sel.name.startsWith('defaults'), t);
          if (rows > 0) tiersWithRows.add(tier);
        }
      }
      // A time series must show data at every rollup resolution (each tier table is really read).
      if (q.shape === 'timeseries' && !skippedMissing.has(q.where)) {
        assert.deepEqual([...tiersWithRows].sort(), ['1d', '1h', '1m', '30s'], `${q.where}: no rows at some resolution`);
      }
    });
  }
});

describe('provisioned alert rule queries against imported real chat', { skip }, () => {
  for (const q of queries.filter((q) => q.kind === 'alert')) {
    test(q.where, async (t) => {
      assert.ok(!q.sql.includes('$__conditionalAll') && !/\$\{?(channel|emote|user)\b/.test(q.sql), 'alert queries run in the backend only: no template variables');
      // Evaluate "now" just after the busiest minute, so a burst rule has something to score.
      const table = q.sql.includes('emotes_1m') ? 'emotes_1m' : 'chat_1m';
      const busiest = await one<{ w: string }>(`SELECT \`window\` AS w FROM ${table} GROUP BY \`window\` ORDER BY sum(${table === 'emotes_1m' ? 'uses' : 'messages'}) DESC LIMIT 1`);
      const to = new Date(at(busiest.w).getTime() + 90_000);
      const range = { from: new Date(to.getTime() - (q.lookbackS ?? 600) * 1000), to };
      // The alerting engine sends a 1 s interval and no template variables: backend macros only.
      await check(q, expandMacros(q.sql, { range, intervalMs: 1000 }), `now = ${to.toISOString()}`, true, t);
    });
  }
});

describe('moderation risk panels against the eval', { skip }, () => {
  test("'Moderation risk against actions' gives the AUC eval:moderation prints for riotgames1, from the stored scores and bans", async () => {
    const q = queries.find((x) => x.where.endsWith('/ Moderation risk against actions'))!;
    const vars: Variable[] = [{ name: 'channel', value: ['riotgames'], options: channels }];
    const sql = expandDashboardQuery(q.sql, vars, { range: ranges.get('riotgames stream')!.range, intervalMs: 30_000 });
    const [row] = (await runSql(client, sql)).data as { channel: string; messages: number; actioned: number; auc: number }[];
    const ev = evalModerationLog(`${SHARED_DATA}/chatty/riotgames/riotgames1.log`);
    // the eval replays the log; the panel reads what import + enrich stored (scores as Float32, labels by stored
    // time). The importer puts a second's k-th line k ms into it (file order within the second), so a ban in the
    // 60th second after a message counts only when it comes at least as early in its second as the message did in
    // its own: 4 of the eval's 1,153 positives (authors banned in exactly the 60th second) are not actioned here;
    // the eval counts whole seconds. At the other edge both agree: a ban logged before a message of its second is
    // before it.
    assert.equal(row.channel, 'riotgames');
    assert.equal(Number(row.messages), ev.messages);
    assert.equal(Number(row.actioned), ev.positives - 4);
    assert.ok(Math.abs(Number(row.auc) - ev.auc!) < 0.001, `panel ${row.auc} vs eval ${ev.auc}`);
  });

  test("'Highest moderation risk' marks which of its messages were actioned", async () => {
    const q = queries.find((x) => x.where.endsWith('/ Highest moderation risk'))!;
    const vars: Variable[] = [{ name: 'channel', value: ['riotgames'], options: channels }];
    const sql = expandDashboardQuery(q.sql, vars, { range: ranges.get('riotgames stream')!.range, intervalMs: 30_000 });
    const rows = (await runSql(client, sql)).data as { mod_risk: number; actioned: number; author_action: string }[];
    assert.equal(rows.length, 100);
    for (let i = 1; i < rows.length; i++) assert.ok(Number(rows[i - 1].mod_risk) >= Number(rows[i].mod_risk));
    // riotgames1's highest-risk messages are mostly followed by a timeout (the rule-tripping ones)
    const actioned = rows.filter((r) => Number(r.actioned) === 1).length;
    assert.ok(actioned >= 50, `actioned ${actioned} of 100`);
    for (const r of rows) if (Number(r.actioned) === 1) assert.ok(['ban', 'timeout'].includes(r.author_action));
  });
});

describe('range totals against the raw tables', { skip }, () => {
  test('stat panels count the minutes that overlap an absolute range: the one holding `from`, not the one starting at `to`', async () => {
    // riotgames1 runs 01:39-03:04 UTC; an unaligned start and a whole-minute end, as an analyst picks them
    const range = { from: new Date(Date.UTC(2016, 8, 30, 2, 0, 30)), to: new Date(Date.UTC(2016, 8, 30, 3, 0, 0)) };
    const vars: Variable[] = [{ name: 'channel', value: ['riotgames'], options: channels }];
    const panel = async (title: string) => {
      const q = queries.find((x) => x.where === `channel.json / ${title}`)!;
      return Number((await runSql(client, expandDashboardQuery(q.sql, vars, { range, intervalMs: 60_000 }))).data[0].value);
    };
    // the same range read from the raw tables, widened to whole minutes: [02:00:00, 03:00:00)
    const exact = await one<{ messages: number; chatters: number }>("SELECT count() AS messages, uniqExact(login) AS chatters FROM messages WHERE channel = 'riotgames' AND ts >= '2016-09-30 02:00:00' AND ts < '2016-09-30 03:00:00'");
    const actions = await one<{ n: number }>("SELECT count() AS n FROM mod_actions WHERE channel = 'riotgames' AND ts >= '2016-09-30 02:00:00' AND ts < '2016-09-30 03:00:00'");
    assert.equal(await panel('Messages'), Number(exact.messages));
    assert.equal(await panel('Unique chatters'), Number(exact.chatters));
    assert.equal(await panel('Mod actions'), Number(actions.n));
  });
});

describe('data range panel', { skip }, () => {
  test("'Data range' gives the stored chat to the hour, not whole days", async () => {
    const q = queries.find((x) => x.where === 'overview.json / Data range')!;
    const vars: Variable[] = [{ name: 'channel', value: ['riotgames'], options: channels }];
    const [row] = (await runSql(client, expandDashboardQuery(q.sql, vars, { range: ranges.get('riotgames stream')!.range, intervalMs: 60_000 }))).data as { from_ms: number; to_ms: number }[];
    // riotgames1 runs 01:39:38-03:04:45 UTC
    assert.deepEqual([new Date(Number(row.from_ms)).toISOString(), new Date(Number(row.to_ms)).toISOString()], ['2016-09-30T01:00:00.000Z', '2016-09-30T04:00:00.000Z']);
  });
});

describe('the harness catches broken queries', { skip }, () => {
  test('a typo in a column name fails', async () => {
    const q = queries.find((x) => x.where.endsWith('/ Top channels'))!;
    const broken = { ...q, sql: q.sql.replace('sum(messages)', 'sum(mesages)') };
    assert.notEqual(broken.sql, q.sql);
    const range = ranges.get('riotgames stream')!.range;
    const sql = expandDashboardQuery(broken.sql, selections()[0].vars, { range, intervalMs: 30_000 });
    await assert.rejects(check(broken, sql, 'self-test', true, { skip: () => assert.fail('a typo must not be skipped') }), /failed/);
  });

  test('a time series without a time column fails the shape check', async () => {
    const q = queries.find((x) => x.shape === 'timeseries')!;
    const range = ranges.get('riotgames stream')!.range;
    const sql = expandDashboardQuery(q.sql.replaceAll(' AS time,', ' AS t,').replace('ORDER BY time', 'ORDER BY t'), selections()[0].vars, { range, intervalMs: 30_000 });
    await assert.rejects(check(q, sql, 'self-test', true, { skip: () => assert.fail('must not skip') }), /time/);
  });

  test('a table that no migration creates is reported, not silently passed', async () => {
    const q: ProvisionedQuery = { kind: 'panel', where: 'self-test', sql: 'SELECT 1 AS x FROM no_such_table', shape: 'table' };
    let skipped = '';
    await check(q, q.sql, 'self-test', true, { skip: (m) => (skipped = m) });
    assert.match(skipped, /no_such_table has no migration/);
  });
});
