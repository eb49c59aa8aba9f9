import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModerationState, FEATURE_NAMES } from '../../enrich/analysis/moderation-risk.ts';
import { createAnalyzer } from '../../enrich/analysis/index.ts';
import { toxicity } from '../../enrich/analysis/toxicity.ts';
import { parseChatty, banLabels, readChatty } from '../../enrich/eval/chatty.ts';
import { evalModerationLog, evalModerationLogs, loadEvalEvents, replayLog, scoreLog } from '../../enrich/eval/moderation.ts';
import { auc } from '../../enrich/eval/metrics.ts';
import { SHARED_DATA as data, sharedDataMissing } from '../support/paths.ts';

const riot = join(data, 'chatty', 'riotgames', 'riotgames1.log');
const skipMsg = sharedDataMissing();

test('toxicity: slurs and leetspeak high, plain profanity low, clean text 0', () => {
  assert.ok(toxicity('kys') >= 0.8);
  assert.ok(toxicity('N1GG3RRR') >= 0.9);
  assert.ok(toxicity('you are a f4gg0t') >= 0.9);
  assert.ok(toxicity('you idiot') > toxicity('idiot'), 'directed insults weigh more');
  assert.ok(toxicity('that was fucking good') < 0.4);
  assert.equal(toxicity('gg well played'), 0);
  // forms the list does not spell out: slang plurals, "-es" after a sibilant, swear-word compounds
  assert.equal(toxicity('niggaz'), toxicity('nigga'));
  assert.equal(toxicity('dumbasses'), toxicity('dumbass'));
  assert.ok(toxicity('uk is not in the eu dumbfucks') > 0 && toxicity('shitstain') > 0);
  assert.equal(toxicity('spices'), 0, '"spices" is not a plural of a slur');
  assert.equal(toxicity('nigeria'), 0);
  // "ass" collapses to "as": only a token with the run counts
  assert.equal(toxicity('as good as it gets'), 0);
  assert.ok(toxicity('kick his ass') > 0 && toxicity('a$$') > 0);
});

test('Chatty reader: BOM, CRLF, badge prefixes, multi-user BAN lines, 60 s labels', () => {
  const log = '\uFEFF# Log started: 2016-09-30 09:39:38 +0800\r\n' +
    '[09:39:38] MOD: Mbarty, Nintendudessb\r\n' +
    '[09:39:40] <@Alice> hello\r\n' +
    '[09:39:41] <%+Bob> Kappa Kappa Kappa Kappa\r\n' +
    '[09:39:42] <carol> hi\r\n' +
    '[09:39:50] BAN: bob (600s), Carol (60s)\r\n' +
    '[09:41:50] BAN: alice\r\n' +
    '[09:42:00] ~World Championship (League of Legends)~\r\n';
  const ev = parseChatty(log);
  const { messages, labels } = banLabels(ev);
  assert.deepEqual(messages.map((m) => m.user), ['alice', 'bob', 'carol']);
  assert.deepEqual(messages.map((m) => m.badges), [{ moderator: '1' }, { subscriber: '0', turbo: '1' }, {}]);
  assert.deepEqual([...labels], [0, 1, 1], 'alice was banned 130 s later: outside the 60 s window');
});

test('Chatty reader, later versions: dated time stamps and ban reasons still label the banned author', () => {
  // a reason used to become part of the name ("bob (600s) [spam, links]"), so the ban matched no one
  const log = '# Log started: 2024-05-01 20:00:00 +0200\n' +
    '[2024-05-01 20:00:01] <!%Bob>* BUY FOLLOWERS cheap\n' +
    '[2024-05-01 20:00:02] <carol> hi\n' +
    '[2024-05-01 20:00:03] BAN: Bob (600s) [spam, links] {2d}\n';
  const ev = parseChatty(log);
  const { messages, labels } = banLabels(ev);
  assert.deepEqual(messages.map((m) => [m.user, m.action, m.badges]), [['bob', true, { vip: '1', subscriber: '0' }], ['carol', false, {}]]);
  assert.deepEqual([...labels], [1, 0]);
});

test('a /me message (coloured text) is riskier than the same text said plainly', () => {
  const a = new ModerationState(), b = new ModerationState();
  const plain = a.score('c', 'u', 'BALON BALON BALON', 1_000);
  const me = b.score('c', 'u', 'BALON BALON BALON', 1_000, { action: true });
  assert.ok(me > plain * 1.5, `${me} vs ${plain}`);
});

test('labels follow log order: a ban logged before a message in the same second is not its label', () => {
  const log = '\uFEFF# Log started: 2016-09-30 09:39:38 +0800\r\n' +
    '[09:39:40] <dave> first\r\n' +
    '[09:39:41] BAN: dave (1s)\r\n' +
    '[09:39:41] <dave> after the purge\r\n' +
    '[09:39:41] <erin> spam spam spam\r\n' +
    '[09:39:41] BAN: erin (600s)\r\n';
  const { messages, labels } = banLabels(parseChatty(log));
  assert.deepEqual(messages.map((m) => m.text), ['first', 'after the purge', 'spam spam spam']);
  assert.deepEqual([...labels], [1, 0, 1], 'dave\'s second message follows his ban; erin\'s ban follows hers in the same second');
});

test('moderation state stays bounded after 200k synthetic users', () => {
  const st = new ModerationState({ maxUsers: 10_000, maxTexts: 5_000, maxWords: 8_000 });
  let ts = 1_700_000_000_000;
  for (let i = 0; i < 200_000; i++) {
    st.score(`chan${i % 50}`, `user${i}`, `message number ${i} Kappa w${i * 7}`, (ts += 5));
    if (i % 100 === 0) st.ban(`chan${i % 50}`, `user${i}`, ts);
  }
  const s = st.size();
  assert.ok(s.users <= 10_000, `users ${s.users}`);
  assert.ok(s.texts <= 5_000, `texts ${s.texts}`);
  assert.ok(s.words <= 8_000 && s.words > 1_000, `words ${s.words}`);
  assert.ok(s.channels <= st.maxChannels);
});

test('moderation features: spam floods score above normal chat', () => {
  const st = new ModerationState();
  const normal = st.score('c', 'a', 'what a play by faker', 1000);
  const flood = st.score('c', 'b', 'Kappa Kappa Kappa Kappa Kappa Kappa Kappa Kappa Kappa Kappa', 2000);
  const symbols = st.score('c', 'd', '?????????????????????????????????????', 3000);
  assert.ok(flood > normal && symbols > normal, `${normal} ${flood} ${symbols}`);
});

test('ban rate of words: once moderators ban "7777" floods, a new user\'s shorter "777" rises', () => {
  const run = (withBans: boolean) => {
    const st = new ModerationState();
    let ts = 1_000_000;
    for (let i = 0; i < 6; i++) {
      // lengths vary, so neither the exact text nor the skeleton (digits dropped) matches: only the word does
      st.score('c', `flooder${i}`, '7'.repeat(30 + i), (ts += 2000));
      if (withBans) st.ban('c', `flooder${i}`, ts + 500);
    }
    for (let i = 0; i < 20; i++) st.score('c', `fan${i}`, i % 2 ? 'LUL' : 'what a play', (ts += 500));
    const f = st.features('c', 'newcomer', '77777777777', (ts += 1000));
    return { rate: f[FEATURE_NAMES.indexOf('tokBanRate')], shape: f[FEATURE_NAMES.indexOf('shapeBanRate')] };
  };
  const banned = run(true), free = run(false);
  assert.ok(banned.rate > 0.5 && banned.shape > 0.5, `${JSON.stringify(banned)}`);
  assert.equal(free.rate, 0);
  const st = new ModerationState();
  let ts = 1_000_000;
  for (let i = 0; i < 6; i++) { st.score('c', `flooder${i}`, '7'.repeat(30 + i), (ts += 2000)); st.ban('c', `flooder${i}`, ts + 500); }
  const after = st.score('c', 'newcomer', '77777777777', (ts += 1000));
  const st2 = new ModerationState();
  ts = 1_000_000;
  for (let i = 0; i < 6; i++) st2.score('c', `flooder${i}`, '7'.repeat(30 + i), (ts += 2000));
  const before = st2.score('c', 'newcomer', '77777777777', (ts += 1000));
  assert.ok(after > before, `risk with the word banned ${after} vs not ${before}`);
});

test('duplicate BAN lines of one user count their messages as banned once', () => {
  const st = new ModerationState();
  st.score('c', 'a', 'buy cheap followers', 1000);
  for (const t of [1500, 1500, 2500]) st.ban('c', 'a', t);
  const f = st.features('c', 'b', 'buy cheap followers', 3000);
  // one banned poster (decayed by a few seconds of a 5 min time constant), not three
  const banned = Math.expm1(f[FEATURE_NAMES.indexOf('logShapeBanned')]);
  assert.ok(banned > 0.98 && banned <= 1, `banned ${banned}`);
});

test('session features describe the user\'s earlier messages, not this one', () => {
  const st = new ModerationState();
  const at = (name: string) => FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number]);
  const first = st.features('c', 'a', 'a long message of more than thirty characters', 1000);
  assert.equal(first[at('logUserLongMsgs')], 0);
  assert.equal(first[at('logUserRate2m')], 0);
  const second = st.features('c', 'a', 'short', 1000 + 120_000);
  assert.equal(second[at('logUserLongMsgs')], Math.log1p(1));
  // one earlier message, decayed over one time constant
  assert.ok(Math.abs(second[at('logUserRate2m')] - Math.log1p(Math.exp(-1))) < 1e-12);
});

test('auc helper', () => {
  assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(auc([1, 1, 1], [0, 1, 0]), 0.5);
});

test('moderation AUC on riotgames1 stays above the floor', { skip: skipMsg }, () => {
  const r = evalModerationLog(riot);
  assert.ok(r.positives > 1000);
  // measured 2026-11-21, session 6 (model 2026.11.10, 30 min and word-pair ban rates): 0.9279 / 0.9122;
  // 2026-11-23 (model 2026.11.9, /me lines read as messages): 0.9250 in-sample with earlier bans
  // fed, 0.9108 without (docs/sentiment.md; 2026.11.8 on the reader that skipped /me: 0.9255 / 0.9118; 2026.11.6: 0.9256 / 0.9120; 2026.11.5: 0.9216 / 0.9107; in-sample is below
  // 2026.11.4's 0.9328 by design: early positives weigh 0.25); toxicity alone is ~0.52
  assert.ok(r.auc !== null && r.toxicityAuc !== null);
  assert.ok(r.auc >= 0.925, `AUC ${r.auc}`);
  assert.ok(evalModerationLog(riot, 60_000, false).auc! >= 0.91);
  assert.ok(r.auc > r.toxicityAuc + 0.2);
});

test('moderation AUC on channels the model never saw stays above the floor', { skip: skipMsg }, () => {
  // measured 2026-11-21, session 6 (model 2026.11.10): hsdogdog 0.8896, tidesoftime 0.8760, reckful 0.9068,
  // neviilz 0.8286, cheflethalplays 0.7745;
  // 2026-11-23 (model 2026.11.9, /me lines read as messages): hsdogdog 0.8867, tidesoftime 0.8728,
  // reckful 0.9002, neviilz 0.8286, cheflethalplays 0.7752; 2026-11-22 (model 2026.11.8, badges from the
  // Chatty name marks; 2026.11.6 without badges in brackets): hsdogdog 0.8800 (0.8732), tidesoftime 0.8792
  // (0.8607), reckful 0.8849 (0.8803), neviilz 0.8352 (0.8082), cheflethalplays 0.7786 (0.6562: a third of
  // its messages are its moderators');
  // floors ~0.01-0.02 below, since 23-55 positives move these figures by ~0.01 for a few ranks
  const floors: Record<string, number> = { hsdogdog: 0.865, tidesoftime: 0.865, reckful: 0.89, neviilz: 0.82, cheflethalplays: 0.76 };
  for (const [ch, floor] of Object.entries(floors)) {
    const dir = join(data, 'chatty', ch);
    const r = evalModerationLogs(readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => join(dir, f)));
    assert.ok(r.pooled.auc !== null && r.pooled.auc >= floor, `${ch}: AUC ${r.pooled.auc} < ${floor}`);
  }
});

test('eval:moderation reads raw IRC through the importer: CLEARCHAT timeouts are the labels, badges come from the tags', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'twichist-modeval-'));
  const f = join(dir, 'x.irc');
  const line = (ts: number, user: string, badges: string, text: string) =>
    `@badge-info=;badges=${badges};color=;display-name=${user};emotes=;id=${user}-${ts};mod=0;room-id=1;subscriber=0;tmi-sent-ts=${ts};turbo=0;user-id=${ts} :${user}!${user}@${user}.tmi.twitch.tv PRIVMSG #demo :${text}`;
  const t0 = Date.UTC(2023, 3, 1, 12);
  writeFileSync(f, [
    line(t0, 'spammer', '', 'BUY FOLLOWERS cheap at example.com'),
    `@ban-duration=600;room-id=1;target-user-id=9;tmi-sent-ts=${t0 + 1000} :tmi.twitch.tv CLEARCHAT #demo :spammer`,
    line(t0 + 2000, 'helper', 'moderator/1', 'BUY FOLLOWERS cheap at example.com is a scam, do not click'),
    line(t0 + 3000, 'fan', 'subscriber/3', 'what a play'),
    line(t0 + 4000, 'copycat', '', 'BUY FOLLOWERS cheap at example.com'),
    `@ban-duration=600;room-id=1;target-user-id=8;tmi-sent-ts=${t0 + 5000} :tmi.twitch.tv CLEARCHAT #demo :copycat`,
  ].join('\r\n') + '\r\n');
  try {
    const events = await loadEvalEvents(f);
    assert.deepEqual(events.map((e) => e.kind === 'msg' ? `${e.user} ${JSON.stringify(e.badges)}` : `ban ${e.users}`), [
      'spammer {}', 'ban spammer', 'helper {"moderator":"1"}', 'fan {"subscriber":"3"}', 'copycat {}', 'ban copycat',
    ]);
    const r = evalModerationLogs([f], 60_000, true, [events]).logs[0];
    assert.deepEqual([r.messages, r.positives, r.auc], [4, 2, 1]);
    // a log without bans has nothing to rank
    assert.equal(evalModerationLogs([f], 60_000, true, [events.filter((e) => e.kind === 'msg')]).logs[0].auc, null);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('moderation AUC on the raw IRC recording of #xqc (2023, badges from the tags) stays above the floor', { skip: skipMsg }, async () => {
  const f = join(data, 'irc', 'xqc-2023-04-01.raw.irc');
  const r = evalModerationLogs([f], 60_000, true, [await loadEvalEvents(f)]).logs[0];
  assert.deepEqual([r.messages, r.positives], [4029, 53]);
  // measured 2026-11-21, session 6: 0.8007 (model 2026.11.10); 2026-11-23: 0.7988 (model 2026.11.9); 2026-11-22: 0.7980 with badges (model 2026.11.8; 2026.11.6 without badges 0.7964; 26 timeouts in 5 minutes: noisy)
  assert.ok(r.auc !== null && r.auc >= 0.78, `AUC ${r.auc}`);
});

test('eval replay feeds only bans before a message: a later ban (the label) never changes its score', () => {
  const head = '\uFEFF# Log started: 2016-09-30 09:39:38 +0800\r\n';
  const lines = [
    '[09:39:40] <spammer> BUY FOLLOWERS cheap at example.com',
    '[09:39:41] BAN: spammer (600s)',
    '[09:39:45] <copycat> BUY FOLLOWERS cheap at example.com',
    '[09:39:50] <copycat> hello',
    '[09:40:10] BAN: copycat (600s)',
  ];
  const score = (log: string) => {
    const ev = parseChatty(log);
    const { messages } = banLabels(ev);
    const st = new ModerationState();
    const out: number[] = [];
    replayLog(ev, messages, st, 'c', (_i, m) => out.push(st.score('c', m.user, m.text, m.ts)));
    return out;
  };
  const full = score(head + lines.join('\r\n') + '\r\n');
  const noLater = score(head + lines.slice(0, 4).join('\r\n') + '\r\n');
  assert.deepEqual(full, noLater, 'the ban at 09:40:10 comes after every message');
  const noBans = score(head + [lines[0], lines[2], lines[3]].join('\r\n') + '\r\n');
  assert.equal(full[0], noBans[0]);
  assert.ok(full[1] > noBans[1], `same text as a user banned before it: ${full[1]} vs ${noBans[1]}`);
});

test('the eval scores each message from what came before it: cutting riotgames1 short changes no earlier score', { skip: skipMsg }, () => {
  // The AUC is of the score a live enrich stage stores, so nothing after a message may reach it. A
  // "settled" score that looked ahead at the author's next messages scores 0.98 on the time split
  // (docs/sentiment.md) and would fail here.
  const events = readChatty(riot);
  const full = scoreLog(riot, 60_000, true, events).scored.risk;
  const cut = Math.floor(events.length * 0.6);
  const prefix = scoreLog(riot, 60_000, true, events.slice(0, cut)).scored.risk;
  assert.ok(prefix.length > 20_000);
  assert.deepEqual(prefix, full.subarray(0, prefix.length));
});

test('badges: moderators and the broadcaster rank below anyone, subscribers and VIPs below plain chatters', () => {
  // the same message in the same history from authors of each standing (a fresh state each: no shared history)
  const risk = (badges: Record<string, string> | null) => {
    const st = new ModerationState();
    for (let i = 0; i < 6; i++) st.score('c', `fan${i}`, 'what a play', 1000 + i * 500);
    return st.score('c', 'author', 'GIVE AWAY GIVE AWAY GIVE AWAY GIVE AWAY http://free-rp.example', 5000, { badges });
  };
  const plain = risk(null);
  assert.equal(risk({}), plain);
  assert.equal(risk({ turbo: '1', premium: '1' }), plain, 'paid badges are not standing');
  for (const b of [{ moderator: '1' }, { broadcaster: '1', subscriber: '12' }, { staff: '1' }, { global_mod: '1' }] as Record<string, string>[]) {
    assert.ok(risk(b) < plain * 0.01, `${JSON.stringify(b)}: ${risk(b)} vs ${plain}`);
  }
  for (const b of [{ subscriber: '3' }, { vip: '1' }, { founder: '0' }] as Record<string, string>[]) {
    const r = risk(b);
    assert.ok(r < plain && r > plain * 0.3, `${JSON.stringify(b)}: ${r} vs ${plain}`);
  }
  // and through the analyzer, from the event's badges
  const a = createAnalyzer(), b = createAnalyzer();
  const base = { channel: 'c', userId: null, login: 'x', text: 'GIVE AWAY GIVE AWAY GIVE AWAY GIVE AWAY', ts: 1000, emoteNames: [] };
  assert.ok(a.analyze({ ...base, badges: { moderator: '1' } }).modRisk < b.analyze({ ...base, badges: {} }).modRisk * 0.01);
});

test('analyzer.recordBan feeds the same state as analyze', () => {
  const a = createAnalyzer();
  const b = createAnalyzer();
  const base = { channel: 'c', userId: null, emoteNames: [] };
  for (const x of [a, b]) x.analyze({ ...base, login: 'Spammer', text: 'BUY FOLLOWERS cheap at example.com', ts: 1000 });
  a.recordBan('c', 'Spammer', 2000);
  const ra = a.analyze({ ...base, login: 'copycat', text: 'BUY FOLLOWERS cheap at example.com', ts: 3000 }).modRisk;
  const rb = b.analyze({ ...base, login: 'copycat', text: 'BUY FOLLOWERS cheap at example.com', ts: 3000 }).modRisk;
  assert.ok(ra > rb, `${ra} vs ${rb}`);
});
