/**
 * Segments, retention, signatures, similarity, overlap and moderation on a small hand-made chat,
 * with every expected number worked out by hand below. Dates are in 2020 (an "historical import").
 *
 * Channel alpha, three streams (one per day, 10:00 UTC; > 30 min apart, so three streams):
 *   S1 2020-01-01: pat 20 msgs, reg 1, cas 1, spam 6 x "buy followers" (toxicity 0.9),
 *                  emo 5: "Kappa", "Kappa LUL", "LUL", "hello LUL" (toxicity 0.8), "hi"
 *   S2 2020-01-02: pat 20, reg 1, cas 1
 *   S3 2020-01-03: pat 20, reg 1, once 1 x "Kappa"
 *   mod: spam timed out at 10:01:30 on day 1 (its last flagged message 10:01:05 -> lag 25 s) and
 *        again at 10:20:00 (more than 10 min after a flagged message: not counted as a reaction).
 * Channel beta, one stream 2020-01-01 12:00: pat "hello beta", reg "hi beta", zed "Kappa", "Kappa Kappa".
 *
 * Segments (rules in migration 0031): pat 3 streams x 20 msgs -> power_user; reg 3 streams -> regular;
 * cas 2 streams -> casual; spam 6 msgs, repeated_ratio 1 - 1/6 = 0.833 -> spammer; emo 5 msgs in one
 * stream -> casual (emote_only_ratio 3/5 = 0.6); once -> occasional; everyone in beta -> occasional.
 * Retention alpha: S1 5 chatters; S2 3 chatters, all 3 were in S1 -> 3/5 = 0.6; S3 3 chatters, pat and
 * reg were in S2 -> 2/3.
 * Signatures alpha 'all': 20*3 + 3 + 2 + 6 + 1 + 5 = 77 messages, 6 chatters (77/6 per chatter);
 *   emote uses Kappa 3 (emo 2 + once 1), LUL 3 -> top ['Kappa', 'LUL'] with shares [0.5, 0.5].
 *   alpha day 2020-01-01: 20 + 1 + 1 + 6 + 5 = 33 messages, 5 chatters.
 * Similarity alpha/beta: p = {Kappa .5, LUL .5}, q = {Kappa 1}, m = {Kappa .75, LUL .25}
 *   JSD = .5(.5 log2(.5/.75) + .5 log2(.5/.25)) + .5(1 log2(1/.75)) = .5 * .207519 + .5 * .415037 = .311278
 *   -> emote_js_similarity = 0.688722.
 * Overlap: alpha {pat, reg, cas, spam, emo, once}, beta {pat, reg, zed}: 2 shared, 7 in the union -> 2/7.
 * Moderation: flagged users spam and emo (2), actioned 1 (spam) -> share 0.5, median lag 25 s.
 *   moderation_toxicity alpha 2020-01-01, 5-minute windows: pat's messages are 20 s apart from 10:00:00,
 *   so 15 fall in 10:00 and 5 in 10:05. 10:00: 15 + 1 + 1 + 6 + 5 = 28 messages, 7 toxic -> 7/28,
 *   1 timeout; 10:05: 5 messages, no action; 10:20: 0 messages, 1 timeout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { refreshDerived } from '../../analytics/refresh.ts';
import { chTime, emotesOf, insertRows, openTestDatabase, rows, testDataDir } from './support/db.ts';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

function handMadeChat() {
  const messages: object[] = [];
  const say = (channel: string, at: string, login: string, text: string, toxicity = 0) => {
    const ts = chTime(Date.parse(at + 'Z'));
    messages.push({ id: `${channel}-${messages.length}`, channel, ts, received_at: ts, source: 'test', login, text, emote_names: emotesOf(text), toxicity });
  };
  const at = (day: number, hms: string) => `2020-01-0${day}T${hms}`;
  const sec = (s: number) => `10:${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  for (const day of [1, 2, 3]) {
    for (let i = 0; i < 20; i++) say('alpha', at(day, sec(20 * i)), 'pat', `pat says ${day}-${i}`);
    say('alpha', at(day, '10:00:10'), 'reg', `hello from reg ${day}`);
  }
  say('alpha', at(1, '10:00:20'), 'cas', 'cas here');
  say('alpha', at(2, '10:00:20'), 'cas', 'cas again');
  for (let i = 0; i < 6; i++) say('alpha', at(1, `10:01:0${i}`), 'spam', 'buy followers', 0.9);
  say('alpha', at(1, '10:02:00'), 'emo', 'Kappa');
  say('alpha', at(1, '10:02:10'), 'emo', 'Kappa LUL');
  say('alpha', at(1, '10:02:20'), 'emo', 'LUL');
  say('alpha', at(1, '10:02:30'), 'emo', 'hello LUL', 0.8);
  say('alpha', at(1, '10:02:40'), 'emo', 'hi');
  say('alpha', at(3, '10:05:00'), 'once', 'Kappa');
  say('beta', at(1, '12:00:00'), 'pat', 'hello beta');
  say('beta', at(1, '12:00:10'), 'reg', 'hi beta');
  say('beta', at(1, '12:00:20'), 'zed', 'Kappa');
  say('beta', at(1, '12:00:30'), 'zed', 'Kappa Kappa');
  const mod = (at: string, i: number) => ({ id: `mod-${i}`, channel: 'alpha', ts: chTime(Date.parse(at + 'Z')), received_at: chTime(Date.parse(at + 'Z')), source: 'test', action: 'timeout', target_login: 'spam', duration_s: 600 });
  return { messages, mods: [mod('2020-01-01T10:01:30', 0), mod('2020-01-01T10:20:00', 1)] };
}

describe('audience, signatures, similarity and moderation on hand-made chat', () => {
  const data = testDataDir('audience');
  let client: ClickHouseClient;
  before(async () => {
    client = await openTestDatabase(data.dir, 'audience');
    const { messages, mods } = handMadeChat();
    await insertRows(client, messages, mods);
    await refreshDerived(client);
  });
  after(() => data.cleanup());

  test('streams: three for alpha, one for beta', async () => {
    const s = await rows<{ channel: string; stream_no: number; start: string; messages: number; chatters: number }>(client, 'SELECT channel, stream_no, start, messages, chatters FROM channel_streams ORDER BY channel, stream_no');
    assert.deepEqual(s.map((r) => [r.channel, r.stream_no, r.start, r.messages, r.chatters]), [
      ['alpha', 1, '2020-01-01 10:00:00', 33, 5],
      ['alpha', 2, '2020-01-02 10:00:00', 22, 3],
      ['alpha', 3, '2020-01-03 10:00:00', 22, 3],
      ['beta', 1, '2020-01-01 12:00:00', 4, 3],
    ]);
  });

  test('chatter features and segments', async () => {
    const seg = await rows<{ channel: string; login: string; segment: string }>(client, 'SELECT channel, login, segment FROM chatter_segments ORDER BY channel, login');
    assert.deepEqual(Object.fromEntries(seg.map((r) => [`${r.channel}/${r.login}`, r.segment])), {
      'alpha/cas': 'casual', 'alpha/emo': 'casual', 'alpha/once': 'occasional', 'alpha/pat': 'power_user', 'alpha/reg': 'regular', 'alpha/spam': 'spammer',
      'beta/pat': 'occasional', 'beta/reg': 'occasional', 'beta/zed': 'occasional',
    });
    const f = await rows<{ login: string; messages: number; streams_attended: number; messages_per_stream: number; active_hours: number; repeated_ratio: number; emote_only_ratio: number }>(client,
      "SELECT login, messages, streams_attended, messages_per_stream, active_hours, repeated_ratio, emote_only_ratio FROM chatter_features WHERE channel = 'alpha' ORDER BY login");
    const by = Object.fromEntries(f.map((r) => [r.login, r]));
    assert.deepEqual([by.pat.messages, by.pat.streams_attended, by.pat.messages_per_stream, by.pat.active_hours], [60, 3, 20, 3]);
    close(by.spam.repeated_ratio, 5 / 6);
    close(by.emo.emote_only_ratio, 0.6);
    close(by.once.emote_only_ratio, 1);
    close(by.pat.repeated_ratio, 0);
  });

  test('returning-chatter retention between streams', async () => {
    const r = await rows<{ stream_no: number; chatters: number; previous_chatters: number; returning: number; retention: number | null }>(client,
      "SELECT stream_no, chatters, previous_chatters, returning, retention FROM chatter_retention WHERE channel = 'alpha' ORDER BY stream_no");
    assert.deepEqual(r.map((x) => [x.stream_no, x.chatters, x.previous_chatters, x.returning]), [[1, 5, 0, 0], [2, 3, 5, 3], [3, 3, 3, 2]]);
    assert.equal(r[0].retention, null);
    close(r[1].retention!, 0.6);
    close(r[2].retention!, 2 / 3);
  });

  test('signatures per day and whole history', async () => {
    const all = await rows<{ messages: number; chatters: number; messages_per_chatter: number; top_emotes: string[]; top_emote_shares: number[]; emote_uses: number }>(client,
      "SELECT messages, chatters, messages_per_chatter, top_emotes, top_emote_shares, emote_uses FROM channel_signatures WHERE channel = 'alpha' AND period = 'all'");
    assert.equal(all.length, 1);
    assert.deepEqual([all[0].messages, all[0].chatters, all[0].emote_uses, all[0].top_emotes, all[0].top_emote_shares], [77, 6, 6, ['Kappa', 'LUL'], [0.5, 0.5]]);
    close(all[0].messages_per_chatter, 77 / 6);
    const days = await rows<{ period_start: string; messages: number; chatters: number }>(client, "SELECT period_start, messages, chatters FROM channel_signatures WHERE channel = 'alpha' AND period = 'day' ORDER BY period_start");
    assert.deepEqual(days.map((d) => [d.period_start, d.messages, d.chatters]), [['2020-01-01', 33, 5], ['2020-01-02', 22, 3], ['2020-01-03', 22, 3]]);
  });

  test('similarity (Jensen-Shannon over emotes, cosine over features) and chatter overlap (Jaccard)', async () => {
    const [s] = await rows<{ channel_a: string; channel_b: string; emote_js_similarity: number; feature_cosine: number }>(client, 'SELECT * FROM channel_similarity');
    assert.deepEqual([s.channel_a, s.channel_b], ['alpha', 'beta']);
    close(s.emote_js_similarity, 1 - (0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(0.5 / 0.25)) + 0.5 * Math.log2(1 / 0.75)));
    close(s.emote_js_similarity, 0.688722, 1e-6);
    // The cosine, recomputed here from the signature columns the view documents.
    const sig = await rows<{ v: number[] }>(client,
      "SELECT [sentiment_neg_share, sentiment_neu_share, sentiment_pos_share, toxicity_mean, emote_message_share, least(length_mean / 100, 1), least(messages_per_chatter / 100, 1)] AS v FROM channel_signatures WHERE period = 'all' ORDER BY channel");
    const [a, b] = sig.map((r) => r.v);
    const dot = a.reduce((t, x, i) => t + x * b[i], 0);
    close(s.feature_cosine, dot / (Math.hypot(...a) * Math.hypot(...b)));
    const [o] = await rows<{ channel_a: string; channel_b: string; chatters_a: number; chatters_b: number; shared: number; jaccard: number }>(client, 'SELECT * FROM chatter_overlap');
    assert.deepEqual([o.channel_a, o.channel_b, o.chatters_a, o.chatters_b, o.shared], ['alpha', 'beta', 6, 3, 2]);
    close(o.jaccard, 2 / 7);
  });

  test('moderation versus toxicity, and moderation lag', async () => {
    const [lag] = await rows<{ flagged_messages: number; flagged_users: number; actioned_users: number; actioned_share: number; lag_median_s: number }>(client, "SELECT * FROM moderation_lag WHERE channel = 'alpha'");
    assert.deepEqual([lag.flagged_messages, lag.flagged_users, lag.actioned_users, lag.actioned_share, lag.lag_median_s], [7, 2, 1, 0.5, 25]);
    const w = await rows<{ window: string; messages: number; toxic_share: number; timeouts: number }>(client,
      "SELECT `window`, messages, toxic_share, timeouts FROM moderation_toxicity WHERE channel = 'alpha' AND `window` < '2020-01-02' ORDER BY `window`");
    assert.deepEqual(w.map((r) => [r.window, r.messages, r.timeouts]), [['2020-01-01 10:00:00', 28, 1], ['2020-01-01 10:05:00', 5, 0], ['2020-01-01 10:20:00', 0, 1]]);
    close(w[0].toxic_share, 7 / 28);
  });
});
