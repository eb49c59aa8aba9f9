/**
 * Golden outputs of ModerationState: every Chatty log in ../shared/data replayed through the eval's
 * replay path (`replayLog`, bans before each message fed first, as scripts/train-moderation.ts does),
 * SHA-256 over every feature vector's bytes and, on a second state, over every score's bytes. Any change
 * to a feature, a score, the state's eviction while below its caps, or the order of floating-point
 * operations shows here; a deliberate change of outputs (new model, new feature) updates the hashes.
 * A last case interleaves all logs in one state (distinct channels, time order) as the enrich stage does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ModerationState } from '../../enrich/analysis/moderation-risk.ts';
import { readChatty, banLabels, type ChattyEvent } from '../../enrich/eval/chatty.ts';
import { replayLog } from '../../enrich/eval/moderation.ts';
import { SHARED_DATA, sharedDataMissing } from '../support/paths.ts';

const chatty = join(SHARED_DATA, 'chatty');
const skipMsg = sharedDataMissing();

/** Log (channel/file) -> [messages, sha256 of the feature vectors, sha256 of the scores]. */
const EXPECTED: Record<string, [number, string, string]> = {
  'cheflethalplays/cheflethalplays1.log': [1678, '48b66c5af75180fe51f8601a0b81fa2891cb3ff6b1e6b31105c91c340a8487fb', '980a2b7220e5e313aac3dee154a8d29aef01a7690fb248273fc527796f08cf57'],
  'cheflethalplays/cheflethalplays10.log': [1552, 'fd6d1a45b95956b78400f77e91c642cf3e50d05b3a45dfcdd0e01f0cdaca724b', 'a4eadbbd42acca84225aaba0986baca2ae6b3397d635b32ae88ebfc9bc0845d7'],
  'cheflethalplays/cheflethalplays2.log': [600, '8e0184dbd3ccfd15359b1a5d402d61593001922611e930825a783cd832f7cb93', '67b079bdb33b97f9637d7b47fee8a81c1993962d9193d29e40300c55c56e0529'],
  'cheflethalplays/cheflethalplays3.log': [719, '91fdfe1c2a1193e4da39c849aa30a61866b2256f17f8937024a9526d79974251', '66549e32833148bfd5ece3f9d6f34b06aaea4a3aee9e2bf455bed54d9e891a41'],
  'cheflethalplays/cheflethalplays4.log': [696, 'd436f66d1bf6b4a34d009e11f0905249ec7a590489a791edb8a580cbbf80473c', '037ed1eee5e9b82263a3258a0c7d354fb60b03d5d3bc50bb48a2cc390b14f983'],
  'cheflethalplays/cheflethalplays5.log': [507, '698cd8c00b551b10a69056aaa0ffc0d09c531e288d206693b88cb43fab90e791', '7edd94aeddec06f4224311147105dc9d52702f9fa095bc2512392fd0de777845'],
  'cheflethalplays/cheflethalplays6.log': [1117, '9d5b3fa36720aac584879333fb5923055a5462faad167fad5702b7024db40847', '8fcbc7b22c9b9f113952744d1af1a904c4018c4f69e709885a46d5bedc010c93'],
  'cheflethalplays/cheflethalplays8.log': [1131, 'e0641bac2c6f09d6fe7be0aee86b5060023bd244e9a4e9db79a906a1e2e02d9c', '559efc62b8de59b81ac920efee21f2c4b31bfadd53bb245b5d11c218ec91942e'],
  'cheflethalplays/cheflethalplays9.log': [335, '370d93fe774e930f0177379fab73502e381d541da9926bde5d9214cff04fca09', 'f3d5bfab1af35efc400ce10b32389cec6eacd4440c1acef6a9e1402f4555fdc9'],
  'hsdogdog/hsdogdog1.log': [3026, 'a1037a6438dec0f23ab76080344178e0847d1db30b31a870d288e12c0c4f53c1', '9d2cf798fce0bf694d2cff7e778dd4235dc58b388afe5d534a7b8fae8e8e84a7'],
  'hsdogdog/hsdogdog2.log': [4539, 'faebb78f67ae45a52dc3788ed513b0d1511fb33521d1cfc21d71643faa877b93', '0b99bd66eb8ba539a31699bab49f9fdd9a50a5dcbf58da0edd8baf0056fe9194'],
  'hsdogdog/hsdogdog3.log': [14118, '2c41040dbf75a8cbbb8a2300ad585ba13fdc29a35086491fc5bf32aafdec5817', 'cc5cd2e793f761b8e2d8ca22cb96fea0e8b2d65278db5100b2da701186a595f2'],
  'neviilz/neviilz1.log': [1208, 'a77839d045a385067d4f6bed477c3b4f41bd97b85820507bf897b0877b9c6c17', '750f3b0e6fa72dd6809f0f0dd1c680c0e6f1cee6d56e36e3a1c5934431ed10df'],
  'reckful/reckful1.log': [1531, '1ad38eff6d55b95fe2693196fb9f0dbf40b4a8c167ddeeeca3c02ef712242bbf', 'f02b73f0d25a844bde93798fca8b31ac9bfe0c7363cd88f4b0227918c35331f7'],
  'riotgames/riotgames1.log': [43289, '1f5b73378d2fe9a5d78e92c937ca0f63e73891bdc7c578e26e1ff44eb78fea01', '301d34f2673285fc00001ee2e5599a1c0e6ed652451b29d188a686df59f139fd'],
  'tidesoftime/tidesoftime1.log': [1981, '776ee7ceaa6838fde709e0f06ce01a52a1ed20999e9954364918a56abf2ddcde', 'a8556d0d172c86081b933cddb1d7940eb697c6663db578141feb84d91ab7ea12'],
};
const MERGED: [number, string] = [78027, '90d373dcffba6ba9ac207fb1453578d3d9d092fca090a9497d2fde3866625893'];

function logs(): string[] {
  const out: string[] = [];
  for (const ch of readdirSync(chatty).sort()) for (const f of readdirSync(join(chatty, ch)).sort()) if (f.endsWith('.log')) out.push(`${ch}/${f}`);
  return out;
}

test('moderation features and scores of every Chatty log are bit-identical to the golden hashes', { skip: skipMsg }, () => {
  const got: Record<string, [number, string, string]> = {};
  for (const name of logs()) {
    const channel = name.split('/')[0];
    const events = readChatty(join(chatty, name));
    const { messages } = banLabels(events);
    const fh = createHash('sha256');
    const fs = new ModerationState();
    replayLog(events, messages, fs, channel, (_i, m) => fh.update(fs.features(channel, m.user, m.text, m.ts)));
    const scores = new Float64Array(messages.length);
    const ss = new ModerationState();
    replayLog(events, messages, ss, channel, (i, m) => { scores[i] = ss.score(channel, m.user, m.text, m.ts); });
    got[name] = [messages.length, fh.digest('hex'), createHash('sha256').update(scores).digest('hex')];
  }
  assert.deepEqual(got, EXPECTED, `actual:\n${JSON.stringify(got, null, 2)}`);
});

test('moderation scores of all Chatty logs interleaved in one state are bit-identical to the golden hash', { skip: skipMsg }, () => {
  // every channel's events in time order (stable: log order within a second), one state for all
  const all: { ch: string; e: ChattyEvent }[] = [];
  for (const name of logs()) for (const e of readChatty(join(chatty, name))) all.push({ ch: name.split('/')[0], e });
  all.sort((a, b) => a.e.ts - b.e.ts);
  const st = new ModerationState();
  const h = createHash('sha256');
  const one = new Float64Array(1);
  let n = 0;
  for (const { ch, e } of all) {
    if (e.kind === 'ban') { for (const u of e.users) st.ban(ch, u, e.ts); continue; }
    if (e.kind !== 'msg') continue;
    one[0] = st.score(ch, e.user, e.text, e.ts);
    h.update(one);
    n++;
  }
  assert.deepEqual([n, h.digest('hex')], MERGED);
});

test('above its caps (users, texts, words and the 10,000 channels) the state evicts the same entries as when the hash was taken', { skip: skipMsg }, () => {
  // small caps and every 5 messages a new channel name (12,000 in turn), so each eviction path runs
  // many times; the hash pins which entries go (taken 2026-11-21 on the eviction of commit 146740d)
  const all: { ch: string; e: ChattyEvent }[] = [];
  for (const name of logs()) for (const e of readChatty(join(chatty, name))) all.push({ ch: name.split('/')[0], e });
  all.sort((a, b) => a.e.ts - b.e.ts);
  const st = new ModerationState({ maxUsers: 700, maxTexts: 900, maxWords: 3000 });
  const h = createHash('sha256');
  const one = new Float64Array(1);
  let n = 0;
  for (const { ch, e } of all) {
    const channel = `${ch}_${Math.floor(n / 5) % 12_000}`;
    if (e.kind === 'ban') { for (const u of e.users) st.ban(channel, u, e.ts); continue; }
    if (e.kind !== 'msg') continue;
    one[0] = st.score(channel, e.user, e.text, e.ts);
    h.update(one);
    n++;
  }
  assert.deepEqual([n, h.digest('hex')], [78027, '55e2f1e7f4f479f7b20a0772c4c92b8fd92a54fb95d563bccd3add2517c667fd']);
  const size = st.size();
  assert.ok(size.users <= 700 && size.texts <= 900 && size.words <= 3000 && size.channels <= st.maxChannels, JSON.stringify(size));
  assert.ok(size.channels > 0.9 * st.maxChannels, `the channel cap was crossed: ${JSON.stringify(size)}`);
});
