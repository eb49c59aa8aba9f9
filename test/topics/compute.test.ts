import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openModelRuntime } from '../../enrich/models/index.ts';
import { computeTopics, cTfIdf, messageTerms, sphericalKMeans, type TopicEmbedder, type TopicMessage } from '../../enrich/topics/index.ts';
import { createTinyModels, sharedModelsSkip } from '../support/tiny-onnx.ts';

const T0 = Date.UTC(2026, 0, 1, 20, 0, 0);
const MIN = 60_000;

/** Two 5-minute windows: the first about a pizza, the second about a goal; "gg" everywhere. */
function chat(): TopicMessage[] {
  const lines: Array<[number, string, string[]?]> = [
    [0, 'pizza time gg'],
    [0.5, 'that pizza looks good'],
    [1, 'pineapple pizza is a crime'],
    [1.2, 'pizza pizza pizza'],
    [1.5, 'gg'],
    [2, 'PogChamp the boss is down', ['PogChamp']],
    [2.2, 'boss fight was insane PogChamp', ['PogChamp']],
    [2.4, 'that boss PogChamp', ['PogChamp']],
    [5.1, 'what a goal'],
    [5.5, 'goal goal goal KEKW', ['KEKW']],
    [6, 'that goal was offside KEKW', ['KEKW']],
    [6.5, 'offside for sure KEKW', ['KEKW']],
    [7, 'gg'],
    [7.5, 'no way that goal counts'],
  ];
  return lines.map(([m, text, emotes], i) => ({ id: `m${i}`, channel: 'streamer', ts: T0 + m * MIN, text, emoteNames: emotes ?? [] }));
}

describe('terms and c-TF-IDF', () => {
  test('emotes keep their case; stopwords, numbers, links, mentions and contractions are dropped; distinct per message', () => {
    assert.deepEqual(messageTerms("KEKW that's 100 KEKW @bob https://x.com/a the goal Goal", ['KEKW']), ['KEKW', 'goal']);
  });

  test('a term frequent in one class and rare elsewhere outranks a term everywhere', () => {
    const [a] = cTfIdf([[['pizza', 'gg'], ['pizza', 'gg']], [['goal', 'gg'], ['goal', 'gg']]]);
    assert.equal(a[0].term, 'pizza');
    assert.ok(a[0].weight > a.find((t) => t.term === 'gg')!.weight);
  });

  test('spherical k-means is deterministic for a seed', () => {
    const v = (x: number, y: number) => Float32Array.from([x, y].map((c) => c / Math.hypot(x, y)));
    const pts = [v(1, 0.1), v(1, 0), v(0.9, 0.1), v(0, 1), v(0.1, 1), v(0.1, 0.9)];
    const a = sphericalKMeans(pts, 2, { seed: 7 });
    assert.deepEqual(a, sphericalKMeans(pts, 2, { seed: 7 }));
    assert.equal(new Set(a.slice(0, 3)).size, 1);
    assert.equal(new Set(a.slice(3)).size, 1);
    assert.notEqual(a[0], a[3]);
  });
});

describe('computeTopics', () => {
  test('keyword topics per 5-minute window, labelled by distinctive terms, every message assigned', async () => {
    const msgs = chat();
    const r = await computeTopics(msgs);
    assert.equal(r.method, 'keywords');
    const w1 = r.topics.filter((t) => t.windowStart === T0);
    const w2 = r.topics.filter((t) => t.windowStart === T0 + 5 * MIN);
    assert.deepEqual(w1.map((t) => [t.topicId, t.terms[0], t.messages]), [[0, 'pizza', 4], [1, 'PogChamp', 3]]);
    // "boss" ties with the emote on every count; ties go by term order (uppercase first).
    assert.equal(w1[1].terms[1], 'boss');
    assert.deepEqual(w2.map((t) => [t.topicId, t.terms[0], t.messages]), [[0, 'goal', 4]]);
    // Emotes are terms: KEKW rides with the goal topic, PogChamp with the boss topic.
    assert.ok(w2[0].terms.includes('KEKW'));
    assert.ok(w1[1].terms.includes('PogChamp'));
    assert.match(w1[0].label, /^pizza · /);
    assert.equal(r.assignments.size, msgs.length);
    assert.equal(r.assignments.get('m4'), -1, '"gg" alone belongs to no topic');
    assert.equal(r.assignments.get('m0'), 0);
    assert.equal(r.assignments.get('m5'), 1);
    // Same input, same output.
    assert.deepEqual(await computeTopics(msgs), r);
  });

  test('channels are separate, and the window length is an option', async () => {
    const msgs = [...chat(), ...chat().map((m) => ({ ...m, id: `o${m.id}`, channel: 'other' }))];
    const r = await computeTopics(msgs, { windowMs: 10 * MIN });
    assert.deepEqual([...new Set(r.topics.map((t) => `${t.channel}@${t.windowStart}`))], [`other@${T0}`, `streamer@${T0}`]);
  });

  test('with an embedder: clusters of message vectors, labelled by their terms', async () => {
    // Vectors by subject word; anything else points a third way. Counts calls to prove dedup.
    let embedded = 0;
    const embedder: TopicEmbedder = {
      available: { embeddings: 'fake/embedder' },
      async embed(texts) {
        embedded += texts.length;
        return texts.map((t) => Float32Array.from(/pizza|pineapple/.test(t) ? [1, 0.05, 0] : /boss/.test(t) ? [0, 1, 0.05] : [0.05, 0, 1]));
      },
    };
    const r = await computeTopics(chat().slice(0, 8), { embedder });
    assert.equal(r.method, 'embeddings');
    assert.equal(embedded, 8);
    // 8 messages -> k = round(sqrt(8 / 2)) = 2: the lone "gg" joins the nearer cluster.
    assert.deepEqual(r.topics.map((t) => [t.terms[0], t.messages]), [['pizza', 4], ['PogChamp', 4]]);
    assert.equal(r.topics[1].terms[1], 'boss');
    assert.deepEqual(['m0', 'm1', 'm2', 'm3', 'm5', 'm6', 'm7'].map((id) => r.assignments.get(id)), [0, 0, 0, 0, 1, 1, 1]);
    const small = await computeTopics(chat().slice(0, 8), { embedder, minMessages: 5 });
    assert.equal(small.topics.length, 0, 'clusters below minMessages are dropped');
    assert.ok([...small.assignments.values()].every((t) => t === -1));
  });
});

describe('computeTopics through the tiny embedding model', { skip: sharedModelsSkip() }, () => {
  test('the real loading path clusters repeated subjects apart', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twichist-topics-models-'));
    await createTinyModels(dir, { embeddings: true });
    const rt = await openModelRuntime({ modelsDir: dir, models: { sentiment: null, toxicity: null } });
    try {
      const subjects = ['pizza pineapple', 'goal offside', 'boss fight'];
      const msgs: TopicMessage[] = [];
      for (let i = 0; i < 18; i++) msgs.push({ id: `e${i}`, channel: 'c', ts: T0 + i * 1000, text: `${subjects[i % 3]} ${subjects[i % 3]} ${['wow', 'nice', 'lol'][Math.floor(i / 6)]}` });
      const r = await computeTopics(msgs, { embedder: rt, maxTopics: 3 });
      assert.equal(r.method, 'embeddings');
      const bySubject = subjects.map((_, s) => new Set(msgs.filter((_, i) => i % 3 === s).map((m) => r.assignments.get(m.id))));
      for (const s of bySubject) assert.equal(s.size, 1, 'one subject, one topic');
      assert.equal(new Set(bySubject.map((s) => [...s][0])).size, 3, 'three subjects, three topics');
    } finally {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
