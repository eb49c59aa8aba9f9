/**
 * Bad input on every query and path parameter of every read route: wrong types, huge values, SQL
 * fragments, unicode, empty strings. Each answer must be a 4xx in the error shape or a correct 200,
 * never a 5xx; and no input may reach ClickHouse inside SQL text (values travel in query_params).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { xqcMissing } from './support/load.ts';
import { apiFixture, getJson, type ApiFixture } from './support/setup.ts';

const skip = xqcMissing();
let f: ApiFixture;
before(async () => {
  if (!skip) f = await apiFixture();
});
after(async () => {
  await f?.app.close();
});

const LONG = 'x'.repeat(5000);
/** Values that must never appear in SQL text (each is distinctive enough not to occur by chance). */
const MARKED = ["' OR 1=1 --", '; DROP TABLE messages', 'ñ✓😀', LONG, 'zz_fuzz_marker', "1'); DELETE FROM messages; --"];
const FUZZ = [...MARKED, '', ' ', 'abc', '-1', '0', '1e400', '99999999999999999999999', '3.5', 'true', 'null', '[]', '{login:String}', '%', '\u0000', '#', ',,,'];

/** Every GET route with the query parameters it takes; `{x}` path segments are fuzzed too. */
const ROUTES: Array<{ path: string; query: string[]; valid?: Record<string, string> }> = [
  { path: '/api/v1/channels', query: [] },
  { path: '/api/v1/channels/{channel}/stats', query: ['from', 'to'] },
  { path: '/api/v1/messages', query: ['channel', 'user', 'q', 'from', 'to', 'include_deleted', 'cursor', 'limit'] },
  { path: '/api/v1/messages/{id}', query: [] },
  { path: '/api/v1/users', query: ['prefix', 'limit'], valid: { prefix: 'a' } },
  { path: '/api/v1/users/{login}', query: [] },
  { path: '/api/v1/users/{login}/messages', query: ['channel', 'q', 'from', 'to', 'include_deleted', 'cursor', 'limit'] },
  { path: '/api/v1/users/{login}/moderation', query: ['channel', 'type', 'from', 'to', 'cursor', 'limit'] },
  { path: '/api/v1/moderation/actions', query: ['channel', 'type', 'target', 'from', 'to', 'cursor', 'limit'] },
  { path: '/api/v1/moderation/stats', query: ['channel', 'bucket', 'from', 'to'] },
  { path: '/api/v1/moderation/risk', query: ['channel', 'from', 'to', 'actioned', 'limit'], valid: { channel: 'xqc', from: '2023-05-01T00:00:00Z', to: '2023-05-02T00:00:00Z' } },
  { path: '/api/v1/analytics/{channel}/timeline', query: ['bucket', 'from', 'to'] },
  { path: '/api/v1/analytics/{channel}/emotes', query: ['bucket', 'from', 'to', 'limit'] },
  { path: '/api/v1/analytics/{channel}/emotes/timeline', query: ['emotes', 'bucket', 'from', 'to'], valid: { emotes: 'LUL' } },
  { path: '/api/v1/analytics/{channel}/bursts', query: ['limit'] },
  { path: '/api/v1/analytics/{channel}/topics', query: ['limit'] },
  { path: '/api/v1/analytics/{channel}/segments', query: ['limit'] },
  { path: '/api/v1/analytics/{channel}/hype', query: ['limit'] },
  { path: '/api/v1/analytics/{channel}/moderation/lag', query: ['limit'] },
  { path: '/api/v1/analytics/compare', query: ['channels', 'from', 'to'], valid: { channels: 'xqc,xqc' } },
  { path: '/list', query: ['channel', 'user', 'channelid', 'userid'], valid: { channel: 'xqc' } },
  { path: '/channel/{channel}/{year}/{month}/{day}', query: ['json', 'raw', 'type', 'reverse'] },
  { path: '/channel/{channel}/user/{user}/{year}/{month}', query: ['json', 'raw', 'type', 'reverse'] },
  { path: '/channel/{channel}/user/{user}', query: [] },
  { path: '/channel/{channel}/random', query: ['json'] },
  { path: '/channel/{channel}/user/{user}/random', query: ['json'] },
  { path: '/channelid/{channelid}/{year}/{month}/{day}', query: ['json'] },
  { path: '/channelid/{channelid}/userid/{userid}/{year}/{month}', query: ['json'] },
];
// A month without chat: the day-log routes answer fast, so hundreds of fuzzed requests stay cheap.
const PATH_DEFAULTS: Record<string, string> = { channel: 'xqc', login: 'xqc', user: 'xqc', id: 'nope', year: '2023', month: '5', day: '2', channelid: '71092938', userid: '1' };

function url(path: string, pathValues: Record<string, string>, query: Record<string, string>): string {
  const p = path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(pathValues[k] ?? PATH_DEFAULTS[k]));
  const qs = new URLSearchParams(query).toString();
  return qs ? `${p}?${qs}` : p;
}

async function check(u: string) {
  const r = await getJson(f.app, u);
  assert.ok(r.status < 500, `${u.slice(0, 200)} answered ${r.status}: ${r.text.slice(0, 300)}`);
  if (r.status >= 400) {
    assert.deepEqual(Object.keys(r.body ?? {}).sort(), ['details', 'error', 'message'], `${u.slice(0, 200)}: error shape`);
    assert.ok(r.body.message.length > 0);
  }
  return r;
}

describe('fuzzed parameters', { skip }, () => {
  for (const route of ROUTES) {
    it(`${route.path}: every parameter, every bad value: 4xx with a reason or a correct 200`, async () => {
      for (const name of route.query) {
        for (const v of FUZZ) await check(url(route.path, {}, { ...route.valid, [name]: v }));
      }
      for (const seg of route.path.match(/\{(\w+)\}/g) ?? []) {
        const k = seg.slice(1, -1);
        for (const v of FUZZ) await check(url(route.path, { [k]: v }, route.valid ?? {}));
      }
    });
  }

  it('mutating routes: fuzzed bodies and path values with a valid token are 4xx or a correct 200/201, never 5xx', async () => {
    const { TOKEN } = await import('./support/setup.ts');
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    for (const v of FUZZ) {
      for (const [method, url, payload] of [
        ['POST', '/api/v1/channels', { login: v }],
        ['POST', '/api/v1/channels', { login: 'fuzzchan', channel_id: v }],
        ['POST', '/api/v1/channels', { login: 'fuzzchan', enabled: v }],
        ['PATCH', `/api/v1/channels/${encodeURIComponent(v)}`, { enabled: false }],
        ['PATCH', '/api/v1/channels/fuzzchan', { enabled: v }],
        ['DELETE', `/api/v1/channels/${encodeURIComponent(v)}`, undefined],
        ['POST', `/api/v1/users/${encodeURIComponent(v)}/opt-out`, undefined],
      ] as const) {
        const r = await f.app.inject({ method, url, payload: payload === undefined ? undefined : JSON.stringify(payload), headers: payload === undefined ? { authorization: headers.authorization } : headers });
        assert.ok(r.statusCode < 500, `${method} ${url.slice(0, 80)} ${JSON.stringify(payload)?.slice(0, 80)}: ${r.statusCode} ${r.body.slice(0, 200)}`);
        if (r.statusCode >= 400) assert.deepEqual(Object.keys(JSON.parse(r.body)).sort(), ['details', 'error', 'message']);
      }
    }
  });

  it('an SQL fragment searched for is just text: no rows, no error, tables intact', async () => {
    const r = await check(`/api/v1/messages?q=${encodeURIComponent('; DROP TABLE messages')}`);
    assert.equal(r.status, 200);
    const all = await check('/api/v1/channels');
    assert.ok(all.body.items.find((c: { login: string }) => c.login === 'xqc').messages > 4000);
  });

  it('wrong types get a 400 naming the parameter', async () => {
    const r = await check('/api/v1/messages?limit=abc');
    assert.equal(r.status, 400);
    assert.match(r.body.message, /limit/);
    assert.equal(r.body.details[0].path, '/limit');
    const t = await check('/api/v1/analytics/xqc/timeline?bucket=5m');
    assert.equal(t.status, 400);
    assert.match(t.body.message, /bucket/);
  });

  it('no fuzz value ever reached ClickHouse inside SQL text', () => {
    assert.ok(f.queries.length > 500, `recorded ${f.queries.length} queries`);
    for (const q of f.queries) for (const v of MARKED) assert.ok(!q.includes(v), `query text contains input ${JSON.stringify(v.slice(0, 40))}: ${q.slice(0, 300)}`);
  });
});
