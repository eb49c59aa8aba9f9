/** TWICHIST_EMOTE_SCORES: a channel's own emote scores reach the stored sentiment; a bad file stops enrich with the reason. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { InProcessBus } from '../../core/bus.ts';
import { readEmoteScores } from '../../enrich/analyzer.ts';
import { startEnrich } from '../../enrich/index.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { sampleMessage } from '../support/events.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-emote-scores-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

test('scores from the file decide messages made of those emotes, and the version names the file', async () => {
  const scores = file('ok.json', JSON.stringify({ zzqQwerty: 0.9, zzqAsdf: -0.9 }));
  const { config, client, database } = await testDatabase({ env: { TWICHIST_EMOTE_SCORES: scores } });
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: pino({ level: 'silent' }), client, consumer: bus.consumer(), journalDir: null, models: null, topicsIntervalMs: 0 });
  await bus.publisher().publish('c', ['zzqQwerty zzqQwerty', 'zzqAsdf'].map((text, i) => ({ ...sampleMessage, id: `e${i}`, ts: sampleMessage.ts + i, text, emotes: [] })));
  await bus.idle();
  await stage.stored();
  await stage.stop();
  const rs = await client.query({ query: 'SELECT text, sentiment_label, enrich_version FROM {db:Identifier}.messages ORDER BY ts', query_params: { db: database }, format: 'JSONEachRow' });
  const rows = await rs.json<{ text: string; sentiment_label: number; enrich_version: string }>();
  assert.deepEqual(rows.map((r) => r.sentiment_label), [1, -1]);
  assert.match(rows[0].enrich_version, /\+emotes-[0-9a-f]{8}$/);
  await client.close();
});

test('a bad score file is refused with the variable, the file and the problem', () => {
  assert.throws(() => readEmoteScores(path.join(dir, 'missing.json')), /TWICHIST_EMOTE_SCORES=.*missing\.json: cannot read it \(ENOENT\)/);
  assert.throws(() => readEmoteScores(file('bad.json', '{ nope')), /not JSON/);
  assert.throws(() => readEmoteScores(file('range.json', '{"LUL": 3}')), /"LUL": .*(<=|less|1)/i);
  assert.deepEqual(readEmoteScores(file('fine.json', '{"LUL": -0.2}')).scores, { LUL: -0.2 });
});

test('enrich does not start on a bad file: the consume loop fails with the reason', async () => {
  const { config, client } = await testDatabase({ env: { TWICHIST_EMOTE_SCORES: file('worse.json', '[1, 2]') } });
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: pino({ level: 'silent' }), client, consumer: bus.consumer(), journalDir: null, models: null, topicsIntervalMs: 0 });
  await assert.rejects(stage.done, /TWICHIST_EMOTE_SCORES=.*worse\.json: expected/);
  await stage.stop();
  await client.close();
});
