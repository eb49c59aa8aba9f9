/**
 * The OpenAPI document at /docs/json against what the app answers: every status a route can give
 * must be listed there, since clients are generated from it. Needs no database: the document is
 * built from the route schemas alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-openapi-'));
let app: FastifyInstance;

before(async () => {
  const config = loadConfig({ TWICHIST_DATA_DIR: dir, TWICHIST_API_TOKEN: 'openapi-test-token-0123456789' });
  const client = { query: async () => { throw new Error('no database in this test'); } } as never;
  app = await buildApp({ config, logger: createLogger('silent'), client, rateLimit: false });
  await app.ready();
});
after(async () => {
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('OpenAPI document', () => {
  it('lists 401 and 403 on every mutating operation, as the token check answers them', async () => {
    const doc = JSON.parse((await app.inject({ method: 'GET', url: '/docs/json' })).body) as { paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>> };
    const mutating = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).filter(([m]) => ['post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => ({ at: `${m.toUpperCase()} ${p}`, op })));
    assert.ok(mutating.length >= 4, 'the channel and opt-out mutations are in the document');
    for (const { at, op } of mutating) {
      assert.ok(op.responses['401'], `${at} documents 401 (no token sent)`);
      assert.ok(op.responses['403'], `${at} documents 403 (wrong token, or none configured)`);
      assert.deepEqual(op.security, [{ bearer: [] }], `${at} names the bearer scheme`);
    }
    // The documented codes are the ones given: no header, then a wrong token.
    const none = await app.inject({ method: 'DELETE', url: '/api/v1/channels/somechan' });
    assert.equal(none.statusCode, 401);
    const wrong = await app.inject({ method: 'DELETE', url: '/api/v1/channels/somechan', headers: { authorization: 'Bearer not-the-token-at-all-xx' } });
    assert.equal(wrong.statusCode, 403);
  });

  it('documents the 404 for an unknown channel on every read that takes one (api/known-channels.ts)', async () => {
    const doc = JSON.parse((await app.inject({ method: 'GET', url: '/docs/json' })).body) as { paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; description?: string }>; responses: Record<string, unknown> }>> };
    let reads = 0;
    for (const [p, ops] of Object.entries(doc.paths)) {
      if (!p.startsWith('/api/v1/') || p.startsWith('/api/v1/live')) continue;
      const op = ops.get;
      const param = op?.parameters?.find((x) => x.name === 'channel' || x.name === 'channels');
      if (!op || !param) continue;
      reads++;
      assert.ok(op.responses['404'], `GET ${p} lists 404`);
      assert.match(param.description ?? '', /404 `not_found` naming/, `GET ${p} ${param.in} ${param.name} says when it is a 404`);
    }
    assert.equal(reads, 16, `${reads}: stats, 8 analytics reads, compare, 3 moderation reads, messages, 2 user reads`);
  });
});
