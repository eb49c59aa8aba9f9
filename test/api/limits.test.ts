/**
 * What one request may cost (app.ts `ApiLimits`), on a handful of rows made here (no ../shared/data):
 * - every read carries `max_execution_time` and `max_memory_usage` (they carried none: a request could scan
 *   all history for as long as it took);
 * - a read stopped by a limit is a 503 naming the limit (it was a 500 "internal error");
 * - heavy routes (justlog logs, risk, compare) are served at most `maxHeavyRequests` at a time, more are a
 *   503 with Retry-After at once, and cheap routes still answer meanwhile (50 parallel compares made a
 *   profile wait 45.7 s on the embedded engine, which runs one parameterized query at a time);
 * - a justlog log of more than `maxLogEvents` events is a 413 pointing at the paginated endpoint (a
 *   930,000-message day took 35 s and 2.6 GB and then failed with a 500).
 * No timing: held queries are released by the test, limits are set low instead of waiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../api/app.ts';
import { apiRequestTimeoutMs } from '../../api/db.ts';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';
import type { ChatMessage } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { sampleMessage } from '../support/events.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';
import { storeEvents } from './support/load.ts';

let db: TestDatabase;

const msg = (i: number, login: string): ChatMessage => ({
  ...sampleMessage,
  id: `lim-${i}`,
  channel: 'somechan',
  channel_id: null,
  ts: Date.UTC(2016, 8, 30, 2, 0, i),
  received_at: Date.UTC(2016, 8, 30, 2, 0, i),
  source: 'import',
  user_id: null,
  login,
  display_name: login,
  text: `hello number ${i}`,
  emotes: [],
});

before(async () => {
  db = await testDatabase();
  await storeEvents(db.config, db.client, [msg(1, 'alice'), msg(2, 'alice'), msg(3, 'bob'), msg(4, 'bob'), msg(5, 'bob'), { ...msg(6, 'carol'), channel: 'otherchan' }]);
});
after(async () => {
  await db?.client.close();
});

/** The client with a hook on every `query` call (reads). */
function hooked(client: ClickHouseClient, onQuery: (params: { query: string; clickhouse_settings?: Record<string, unknown> }, run: () => Promise<unknown>) => Promise<unknown>): ClickHouseClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop !== 'query' || typeof v !== 'function') return v;
      return (params: { query: string; clickhouse_settings?: Record<string, unknown> }) => onQuery(params, () => v.call(target, params));
    },
  });
}

describe('query limits', () => {
  it('every read the routes send carries max_execution_time and max_memory_usage', async () => {
    const seen: Array<{ query: string; settings: Record<string, unknown> }> = [];
    const client = hooked(db.client, (p, run) => {
      seen.push({ query: p.query, settings: p.clickhouse_settings ?? {} });
      return run();
    });
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client, rateLimit: false, limits: { maxExecutionTimeS: 7, maxMemoryBytes: 123_000_000 } });
    try {
      for (const url of [
        '/api/v1/messages?q=hello',
        '/api/v1/users/bob',
        '/api/v1/analytics/somechan/timeline?bucket=1h',
        '/api/v1/analytics/compare?channels=somechan,otherchan&from=0',
        '/api/v1/moderation/risk?channel=somechan',
        '/channel/somechan/2016/9/30',
        '/channels',
      ]) {
        const r = await app.inject({ method: 'GET', url });
        assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      }
      assert.ok(seen.length >= 10, `reads seen: ${seen.length}`);
      for (const s of seen) {
        assert.equal(s.settings.max_execution_time, 7, s.query);
        assert.equal(String(s.settings.max_memory_usage), '123000000', s.query);
      }
    } finally {
      await app.close();
    }
  });

  it('API_QUERY_TIMEOUT_S sets max_execution_time (default 30)', async () => {
    assert.equal(loadConfig({}).api.queryTimeoutS, 30);
    const config = { ...db.config, api: { ...db.config.api, queryTimeoutS: loadConfig({ API_QUERY_TIMEOUT_S: '9' }).api.queryTimeoutS } };
    const seen: unknown[] = [];
    const client = hooked(db.client, (p, run) => {
      seen.push(p.clickhouse_settings?.max_execution_time);
      return run();
    });
    const app = await buildApp({ config, logger: createLogger('silent'), client, rateLimit: false });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/users/bob' })).statusCode, 200);
      assert.ok(seen.length > 0);
      assert.deepEqual([...new Set(seen)], [9]);
    } finally {
      await app.close();
    }
  });

  it('a read stopped by a limit is a 503 that names the limit, not a 500', async () => {
    for (const [code, words] of [
      ['159', /max_execution_time/],
      ['241', /max_memory_usage/],
    ] as const) {
      const client = hooked(db.client, async (p, run) => {
        if (p.query.includes('uniqExact(login)')) throw Object.assign(new Error(`Code: ${code}. DB::Exception: limit`), { code });
        return run();
      });
      const app = await buildApp({ config: db.config, logger: createLogger('silent'), client, rateLimit: false });
      try {
        const r = await app.inject({ method: 'GET', url: '/api/v1/analytics/compare?channels=somechan,otherchan&from=0' });
        assert.equal(r.statusCode, 503, r.body);
        const body = JSON.parse(r.body);
        assert.equal(body.error, 'unavailable');
        assert.match(body.message, words);
        assert.match(body.message, /shorter range/);
      } finally {
        await app.close();
      }
    }
  });
});

describe('search across channels', () => {
  it('walks back from the newest message when `to` lies far beyond it (it scanned everything at once)', async () => {
    const windows: Array<{ wlo: number; whi: number }> = [];
    const client = hooked(db.client, (p, run) => {
      const q = (p as { query_params?: { wlo?: number; whi?: number } }).query_params;
      if (q?.whi !== undefined) windows.push({ wlo: Number(q.wlo), whi: Number(q.whi) });
      return run();
    });
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client, rateLimit: false });
    try {
      const r = await app.inject({ method: 'GET', url: '/api/v1/messages?q=hello&limit=2&from=0&to=8000000000000' });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(JSON.parse(r.body).items.length, 2);
      const newest = Date.UTC(2016, 8, 30, 2, 0, 6);
      assert.deepEqual(windows[0], { wlo: newest + 1 - 3_600_000, whi: newest + 1 });
      assert.equal(windows.length, 1, 'the newest hour filled the page');
    } finally {
      await app.close();
    }
  });
});

describe('heavy requests', () => {
  it('beyond maxHeavyRequests at once a heavy route is a 503 with Retry-After; cheap routes still answer', async () => {
    // Reads of the channel day log are held until released, so two requests stay in flight.
    const held: Array<() => void> = [];
    let onHeld: () => void = () => {};
    const client = hooked(db.client, async (p, run) => {
      if (/FROM messages WHERE channel = \{channel:String\} AND ts >= /.test(p.query)) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          onHeld();
        });
      }
      return run();
    });
    const heldCount = (n: number) =>
      new Promise<'held'>((resolve) => {
        const check = () => held.length >= n && resolve('held');
        onHeld = check;
        check();
      });
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client, rateLimit: false, limits: { maxHeavyRequests: 2 } });
    try {
      const first = app.inject({ method: 'GET', url: '/channel/somechan/2016/9/30' });
      const second = app.inject({ method: 'GET', url: '/channel/somechan/user/bob/2016/9' });
      await heldCount(2);
      // Without the bound the third is held too: that ends the race instead of a hang.
      const third = await Promise.race([app.inject({ method: 'GET', url: '/channel/somechan/2016/9/30' }), heldCount(3)]);
      assert.notEqual(third, 'held', 'a third heavy request was served while two were in flight');
      if (third === 'held') return;
      assert.equal(third.statusCode, 503, third.body);
      assert.equal(third.headers['retry-after'], '5');
      assert.match(JSON.parse(third.body).message, /busy/);
      const cheap = await app.inject({ method: 'GET', url: '/api/v1/users/alice' });
      assert.equal(cheap.statusCode, 200, cheap.body);
      // from here on nothing stays held
      onHeld = () => held.splice(0).forEach((r) => r());
      onHeld();
      assert.equal((await first).statusCode, 200);
      assert.equal((await second).statusCode, 200);
      // the slots are given back
      assert.equal((await app.inject({ method: 'GET', url: '/channel/somechan/2016/9/30' })).statusCode, 200);
    } finally {
      for (const release of held.splice(0)) release();
      await app.close();
    }
  });
});

describe('justlog log size', () => {
  it('a log of more than maxLogEvents events is a 413 naming the paginated endpoint; at the bound it is served', async () => {
    const small = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false, limits: { maxLogEvents: 4 } });
    try {
      const day = await small.inject({ method: 'GET', url: '/channel/somechan/2016/9/30?json' });
      assert.equal(day.statusCode, 413, day.body);
      const body = JSON.parse(day.body);
      assert.equal(body.error, 'payload_too_large');
      assert.match(body.message, /more than 4 events/);
      assert.match(body.message, /\/api\/v1\/messages\?channel=somechan&from=\d+&to=\d+/);
      // bob's month holds 3 messages: within the bound
      const month = await small.inject({ method: 'GET', url: '/channel/somechan/user/bob/2016/9' });
      assert.equal(month.statusCode, 200, month.body);
      assert.equal(month.body.trim().split('\n').length, 3);
    } finally {
      await small.close();
    }
    const exact = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false, limits: { maxLogEvents: 5 } });
    try {
      const day = await exact.inject({ method: 'GET', url: '/channel/somechan/2016/9/30' });
      assert.equal(day.statusCode, 200, day.body);
      assert.equal(day.body.trim().split('\n').length, 5);
    } finally {
      await exact.close();
    }
  });
});

describe('opt-out', () => {
  it("runs without the read limits: it reads between its deletes and rebuilds, and stopped there a retry left the user's topics", async () => {
    const token = 'limits-test-token-0123456789';
    const optDb = await testDatabase({ env: { TWICHIST_API_TOKEN: token } });
    await storeEvents(optDb.config, optDb.client, [msg(11, 'dave'), msg(12, 'dave'), msg(13, 'erin')]);
    const limited: string[] = [];
    const client = hooked(optDb.client, (p, run) => {
      if (p.clickhouse_settings?.max_execution_time !== undefined) limited.push(p.query.slice(0, 80));
      return run();
    });
    const app = await buildApp({ config: optDb.config, logger: createLogger('silent'), client, rateLimit: false });
    try {
      const r = await app.inject({ method: 'POST', url: '/api/v1/users/dave/opt-out', headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(limited, [], 'no read of the opt-out carries max_execution_time');
    } finally {
      await app.close();
      await optDb.client.close();
    }
  });
});

describe('HTTP request timeout of a process serving the API', () => {
  it('outlasts the read limit, so ClickHouse stops a slow read (503) before the client abandons it (500; the query kept running)', () => {
    for (const s of [1, 5, 30, 55, 60, 600, 3600]) assert.ok(apiRequestTimeoutMs(s) > s * 1000, `API_QUERY_TIMEOUT_S=${s}`);
    assert.equal(apiRequestTimeoutMs(30), 60_000, 'the client default where it already suffices');
    assert.ok(apiRequestTimeoutMs(0) >= 86_400_000, '0 = no read limit: a day');
  });
});
