/**
 * The enrich stage with transformer models, through the real wiring: the stage opens the runtime from
 * the models folder of its config (as `twichist up` and `twichist enrich` run it), refines sentiment and
 * toxicity of each batch, re-scores moderation risk with the blended toxicity, and computes topics of
 * the windows it stored with the embedding model. Tiny ONNX models (test/support/tiny-onnx.ts) stand in
 * for the real ones; without a models folder the stage says so in one line and keeps the lexicon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { InProcessBus } from '../../core/bus.ts';
import type { ChatEvent } from '../../core/events.ts';
import { createAnalyzer } from '../../enrich/analysis/index.ts';
import { startEnrich } from '../../enrich/index.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { sampleMessage } from '../support/events.ts';
import { createTinyModels, sharedModelsSkip, TINY_IDS } from '../support/tiny-onnx.ts';

function captureLogger(): { logger: pino.Logger; lines: Array<{ msg: string; level: number }> } {
  const lines: Array<{ msg: string; level: number }> = [];
  return { logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) }), lines };
}

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
/** Two subjects in one 5-minute window (enough messages for topics), some with the tiny model's toxic words. */
function chat(): ChatEvent[] {
  const texts = [
    ...Array.from({ length: 8 }, (_, i) => `the dragon fight was close ${i}`),
    ...Array.from({ length: 8 }, (_, i) => `baron steal incoming team ${i}`),
    'you are stupid', 'what an idiot play', 'that was trash', 'love this game',
  ];
  return texts.map((text, i) => ({
    ...sampleMessage, id: `m${i}`, channel: 'worlds', ts: T0 + i * 1000, received_at: T0 + i * 1000, login: `viewer${i % 7}`,
    text, emotes: [], badges: (i === 19 ? { moderator: '1' } : {}) as Record<string, string>,
  }));
}

/** Starts the stage as the commands do (models from its config), stores {@link chat}, refreshes topics, stops. */
async function storeChat(env: Record<string, string> = {}, extra: Partial<Parameters<typeof startEnrich>[0]> = {}) {
  const db = await testDatabase({ env });
  const logs = captureLogger();
  const bus = new InProcessBus();
  const stage = startEnrich({ config: db.config, logger: logs.logger, client: db.client, consumer: bus.consumer(), journalDir: null, topicsIntervalMs: 0, ...extra });
  const events = chat();
  await bus.publisher().publish('worlds', events);
  await bus.idle();
  await stage.stored();
  await stage.refreshTopics();
  await stage.stop();
  return { ...db, events, modelLines: logs.lines.filter((l) => l.msg.startsWith('models (')) };
}

describe('enrich with models from the models folder', { skip: sharedModelsSkip() }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'twichist-enrich-models-'));
    await createTinyModels(path.join(dir, 'models'), { sentiment: true, toxicity: true, embeddings: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('blends model sentiment and toxicity, re-scores moderation risk with it, and writes embedding topics', async () => {
    // a generous model budget: a loaded CI machine must not turn this into a lexicon-only batch
    const { client, database, events, modelLines } = await storeChat({ TWICHIST_MODELS_DIR: path.join(dir, 'models') }, { modelBudgetMs: 20_000 });
    assert.equal(modelLines.length, 1);
    assert.match(modelLines[0].msg, /found: sentiment=.*toxicity=.*embeddings=/);

    const rs = await client.query({
      query: 'SELECT id, toxicity, mod_risk, enrich_version FROM {db:Identifier}.messages ORDER BY ts',
      query_params: { db: database },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ id: string; toxicity: number; mod_risk: number; enrich_version: string }>();
    assert.equal(rows.length, events.length);
    assert.ok(rows.every((r) => r.enrich_version.endsWith('+model')), 'every message refined');
    const byId = new Map(rows.map((r) => [r.id, r]));
    // toxicity = max(model, lexicon): never below the lexicon, above it where the model sees more
    const lexicon = createAnalyzer();
    let raised = 0;
    for (const e of events) {
      if (e.kind !== 'message') continue;
      const lex = lexicon.analyze({ channel: e.channel, userId: e.user_id, login: e.login, text: e.text, ts: e.ts, emoteNames: [], badges: e.badges }).toxicity;
      assert.ok(byId.get(e.id)!.toxicity >= lex - 1e-6, `${e.id}: ${byId.get(e.id)!.toxicity} < lexicon ${lex}`);
      if (byId.get(e.id)!.toxicity > lex + 0.05) raised++;
    }
    assert.ok(raised >= 3, `messages whose toxicity the model raised: ${raised}`);

    // Moderation risk as stored = the scorer's risk for the blended toxicity, every other feature as
    // scored in stream order (a second analyzer replays the same messages); and not the lexicon's risk.
    const replay = createAnalyzer();
    let changed = 0;
    for (const e of events) {
      if (e.kind !== 'message') continue;
      const r = replay.analyze({ channel: e.channel, userId: e.user_id, login: e.login, text: e.text, ts: e.ts, emoteNames: [], badges: e.badges, keepModInputs: true });
      const stored = byId.get(e.id)!;
      assert.ok(Math.abs(stored.mod_risk - r.modRiskWith!(stored.toxicity)) < 1e-6, `${e.id}: ${stored.mod_risk} vs ${r.modRiskWith!(stored.toxicity)}`);
      if (Math.abs(stored.mod_risk - r.modRisk) > 1e-4) changed++;
    }
    assert.ok(changed >= 3, `model toxicity moved moderation risk of ${changed} messages`);
    assert.ok(byId.get('m19')!.mod_risk < byId.get('m18')!.mod_risk, "the moderator's message ranks below a viewer's");

    const ts = await client.query({
      query: 'SELECT method, model, count() AS n, sum(messages) AS m FROM {db:Identifier}.topics GROUP BY method, model',
      query_params: { db: database },
      format: 'JSONEachRow',
    });
    const topics = await ts.json<{ method: string; model: string; n: string; m: string }>();
    assert.equal(topics.length, 1);
    assert.deepEqual([topics[0].method, topics[0].model], ['embeddings', TINY_IDS.embeddings]);
    assert.ok(Number(topics[0].n) >= 1);
    const assigned = await client.query({ query: 'SELECT countIf(topic_id >= 0) AS n FROM {db:Identifier}.message_topics FINAL', query_params: { db: database }, format: 'JSONEachRow' });
    assert.ok(Number((await assigned.json<{ n: string }>())[0].n) >= 3, 'messages have their topic ids');
    await client.close();
  });
});

test('without models: one start-up line says so, scores come from the lexicon, topics from keywords', async () => {
  const { client, database, modelLines } = await storeChat();
  assert.equal(modelLines.length, 1);
  assert.match(modelLines[0].msg, /found: none; .*lexicon\/learned scorers/);
  const rs = await client.query({
    query: `SELECT countIf(enrich_version LIKE '%+model') AS refined, (SELECT countIf(topic_id >= 0) FROM {db:Identifier}.message_topics FINAL) AS with_topic,
              (SELECT groupUniqArray(method) FROM {db:Identifier}.topics) AS methods
            FROM {db:Identifier}.messages`,
    query_params: { db: database },
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ refined: string; with_topic: string; methods: string[] }>();
  assert.equal(Number(r.refined), 0);
  assert.ok(Number(r.with_topic) >= 3, `messages with a topic: ${r.with_topic}`);
  assert.deepEqual(r.methods, ['keywords']);
  await client.close();
});

test('the periodic refresh computes topics of what was stored, without being asked', async () => {
  const { config, client, database } = await testDatabase();
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: pino({ level: 'silent' }), client, consumer: bus.consumer(), journalDir: null, models: null, topicsIntervalMs: 200 });
  await bus.publisher().publish('worlds', chat());
  await bus.idle();
  await stage.stored();
  const deadline = Date.now() + 30_000;
  let n = 0;
  while (Date.now() < deadline) {
    const rs = await client.query({ query: 'SELECT count() AS n FROM {db:Identifier}.topics', query_params: { db: database }, format: 'JSONEachRow' });
    n = Number((await rs.json<{ n: string }>())[0].n);
    if (n > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stage.stop();
  assert.ok(n > 0, 'topics written by the timer');
  assert.ok(stage.metrics.topicRefreshes >= 1);
  await client.close();
});
