import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, envSchema, loadConfig } from '../../core/config.ts';
import { validateEvent } from '../../core/events.ts';
import { deterministicId } from '../../core/ids.ts';
import { sampleMessage } from '../support/events.ts';


describe('events', () => {
  test('a valid message passes', () => {
    const r = validateEvent(sampleMessage);
    assert.equal(r.ok, true);
  });

  test('an invalid event is rejected with a reason naming the field', () => {
    const r = validateEvent({ ...sampleMessage, ts: 'yesterday' });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /^message\.ts: /);
    const r2 = validateEvent({ ...sampleMessage, emotes: [{ id: '25', start: -1, end: 4 }] });
    assert.match(!r2.ok ? r2.reason : '', /message\.emotes\.0\.start/);
    const r3 = validateEvent({ kind: 'nonsense' });
    assert.equal(r3.ok, false);
    assert.match(!r3.ok ? r3.reason : '', /kind/);
    assert.equal(validateEvent(null).ok, false);
  });

  test('deterministic ids are stable and distinguish their parts', () => {
    assert.equal(deterministicId('x', 'a', 1, null), deterministicId('x', 'a', 1, null));
    assert.notEqual(deterministicId('x', 'ab', 'c'), deterministicId('x', 'a', 'bc'));
    assert.notEqual(deterministicId('x', null), deterministicId('x', 'null'));
  });

  test('deterministic ids never change (stored rows and re-imports depend on them)', () => {
    // Values from the first implementation (one hash update per part and separator).
    assert.equal(deterministicId('chatty', 'riotgames', 1475199578000, 'user', 'Kappa 🙂 hi', 0), 'chatty:429dffe7dacfdbbafc21a5e56dc916fb');
    assert.equal(deterministicId('x', 'a', 1, null), 'x:a9c272cf5b86f770bc2bb09c5563eabe');
    assert.equal(deterministicId('p'), 'p:da39a3ee5e6b4b0d3255bfef95601890');
  });
});

describe('config', () => {
  test('defaults', () => {
    const c = loadConfig({});
    assert.equal(c.clickhouse.url, null);
    assert.equal(c.clickhouse.database, 'twichist');
    assert.equal(c.nats.url, null);
    assert.equal(c.api.port, 3000);
    assert.match(c.clickhouse.embeddedPath, /data[/\\]clickhouse$/);
    assert.deepEqual(c.twitch.channels, []);
  });

  test('channels are normalised and de-duplicated', () => {
    assert.deepEqual(loadConfig({ TWITCH_CHANNELS: '#XQC, forsen forsen' }).twitch.channels, ['xqc', 'forsen']);
  });

  test('a bad value names the setting', () => {
    for (const [env, setting] of [
      [{ CLICKHOUSE_URL: 'localhost:8123' }, 'CLICKHOUSE_URL'],
      [{ NATS_URL: 'http://x' }, 'NATS_URL'],
      [{ API_PORT: 'eighty' }, 'API_PORT'],
      [{ CLICKHOUSE_DATABASE: 'x; DROP' }, 'CLICKHOUSE_DATABASE'],
      [{ TWITCH_CHANNELS: 'not a/login' }, 'TWITCH_CHANNELS'],
      [{ TWITCH_CLIENT_ID: 'abc' }, 'TWITCH_CLIENT_ID'],
    ] as const) {
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.issues[0].setting === setting && e.message.includes(setting));
    }
  });

  test('a blank number is an error like every other blank variable, not 0 (API_PORT= bound a random port, API_QUERY_TIMEOUT_S= lifted the limit)', () => {
    for (const setting of ['API_PORT', 'API_QUERY_TIMEOUT_S', 'ENRICH_METRICS_PORT', 'TOPICS_INTERVAL_S', 'TWICHIST_RETENTION_DAYS', 'ENRICH_BATCH_SIZE']) {
      for (const blank of ['', ' ']) {
        assert.throws(() => loadConfig({ [setting]: blank }), (e: unknown) => e instanceof ConfigError && e.issues[0].setting === setting && /is empty/.test(e.message), `${setting}=${JSON.stringify(blank)}`);
      }
    }
    assert.equal(loadConfig({ API_PORT: ' 8080 ' }).api.port, 8080);
    assert.equal(loadConfig({ API_PORT: '0' }).api.port, 0);
  });

  const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

  test("README's Configuration table lists exactly the variables config.ts reads, with their defaults", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = new Map([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]));
    assert.deepEqual([...rows.keys()].sort(), Object.keys(envSchema.shape).sort());
    const defaults = envSchema.parse({}) as Record<string, unknown>;
    for (const [name, cell] of rows) {
      const literal = /^`([^`$]*)`$/.exec(cell);
      // `empty`, `unset: ...`, `none`, `Twitch`, `$TWICHIST_DATA_DIR/models`: no value of its own.
      const want = literal ? literal[1] : cell === 'empty' ? '' : null;
      const got = defaults[name];
      if (want === null) assert.ok(got === null || (Array.isArray(got) && got.length === 0), `${name}: README says ${cell}, config.ts defaults to ${JSON.stringify(got)}`);
      else assert.equal(String(got), want, `${name}: README says ${cell}`);
    }
  });

  test('no file but core/config.ts reads process.env (DEVELOPERS.md: config is parsed once and passed down)', () => {
    // Any use in code, not only `process.env.X` / `process.env[...]`: `const { X } = process.env` and
    // `{ ...process.env }` read it too. Comment lines may name it.
    const readsEnv = (text: string) => text.split('\n').some((l) => !/^\s*(\/\/|\*|\/\*)/.test(l) && /\bprocess\.env\b/.test(l));
    assert.ok(readsEnv('const { A } = process.env;') && readsEnv('f({ ...process.env })') && !readsEnv('// into process.env'));
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(p);
        } else if (e.name.endsWith('.ts') && readsEnv(fs.readFileSync(p, 'utf8'))) {
          offenders.push(path.relative(ROOT, p));
        }
      }
    };
    // test/ is left out: tests pass environments to the processes they start.
    for (const d of fs.readdirSync(ROOT, { withFileTypes: true })) if (d.isDirectory() && !['node_modules', 'test'].includes(d.name) && !d.name.startsWith('.')) walk(path.join(ROOT, d.name));
    assert.deepEqual(offenders.filter((f) => f !== path.join('core', 'config.ts')), []);
  });
});
