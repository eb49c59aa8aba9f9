import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModerationState } from '../../enrich/analysis/moderation-risk.ts';
import { createAnalyzer } from '../../enrich/analysis/index.ts';
import { toxicity } from '../../enrich/analysis/toxicity.ts';
import { parseChatty, banLabels } from '../../enrich/eval/chatty.ts';
import { evalModerationLog, replayLog } from '../../enrich/eval/moderation.ts';
import { auc } from '../../enrich/eval/metrics.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data');
const riot = join(data, 'chatty', 'riotgames', 'riotgames1.log');
const haveData = existsSync(riot);
const skipMsg = haveData ? false : `skipped: ${riot} is absent (../shared/data is not part of a user's clone)`;

test('toxicity: slurs and leetspeak high, plain profanity low, clean text 0', () => {
  assert.ok(toxicity('kys') >= 0.8);
  assert.ok(toxicity('N1GG3RRR') >= 0.9);
  assert.ok(toxicity('you are a f4gg0t') >= 0.9);
  assert.ok(toxicity('you idiot') > toxicity('idiot'), 'directed insults weigh more');
  assert.ok(toxicity('that was fucking good') < 0.4);
  assert.equal(toxicity('gg well played'), 0);
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
  assert.deepEqual([...labels], [0, 1, 1], 'alice was banned 130 s later: outside the 60 s window');
});

test('moderation state stays bounded after 200k synthetic users', () => {
  const st = new ModerationState({ maxUsers: 10_000, maxTexts: 5_000 });
  let ts = 1_700_000_000_000;
  for (let i = 0; i < 200_000; i++) {
    st.score(`chan${i % 50}`, `user${i}`, `message number ${i} Kappa`, (ts += 5));
  }
  const s = st.size();
  assert.ok(s.users <= 10_000, `users ${s.users}`);
  assert.ok(s.texts <= 5_000, `texts ${s.texts}`);
  assert.ok(s.channels <= st.maxChannels);
});

test('moderation features: spam floods score above normal chat', () => {
  const st = new ModerationState();
  const normal = st.score('c', 'a', 'what a play by faker', 1000);
  const flood = st.score('c', 'b', 'Kappa Kappa Kappa Kappa Kappa Kappa Kappa Kappa Kappa Kappa', 2000);
  const symbols = st.score('c', 'd', '?????????????????????????????????????', 3000);
  assert.ok(flood > normal && symbols > normal, `${normal} ${flood} ${symbols}`);
});

test('auc helper', () => {
  assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(auc([1, 1, 1], [0, 1, 0]), 0.5);
});

test('moderation AUC on riotgames1 stays above the floor', { skip: skipMsg }, () => {
  const r = evalModerationLog(riot);
  assert.ok(r.positives > 1000);
  // measured 2026-11-21: 0.9284 in-sample with earlier bans fed, 0.9218 without (docs/sentiment.md);
  // toxicity alone is ~0.52
  assert.ok(r.auc >= 0.92, `AUC ${r.auc}`);
  assert.ok(evalModerationLog(riot, 60_000, false).auc >= 0.91);
  assert.ok(r.auc > r.toxicityAuc + 0.2);
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
