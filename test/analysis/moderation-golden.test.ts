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
  'cheflethalplays/cheflethalplays1.log': [1678, '0dac2b1d80270f541d5bcf0fa66887c1b09319e3f4ac7a1c1f9146be4af87f10', '1cdb037f692c35d354f8f81159ad4eb858fc6c3ad1cf77df72bc13a271ac471a'],
  'cheflethalplays/cheflethalplays10.log': [1552, '57adfac2f29418bb25243f78d2c18d39d65a8ad75ef496dd28a1f7e4fe104748', '714ddbeb337109d330ada1925e538230580a82941da17ffddee654bb32e8edba'],
  'cheflethalplays/cheflethalplays2.log': [600, '99a76ae37085378cc26f6215e50c05cc42afa5f46eb37a4466eb9b4f7b8fcbfd', 'ced6df5eb3754dfcf5dbf5a3f3c17dedb0f59e668344ca96c141ae2dbe45bca2'],
  'cheflethalplays/cheflethalplays3.log': [719, '6a1d5e5dc0e69858e7402ad36dd9251987ff02eb1df97fb15753c1ad920fcd97', 'fd9d84a6c7f512d14e3a2e5bafafc0904a541c3940359cd698553e567bb456b9'],
  'cheflethalplays/cheflethalplays4.log': [696, 'f711e2abc130c09b08635ea9b8838fd54f80baedc821801b6966124f85724945', '42278f4db0805c95a0b3ac1acfb8176b87a4ee82d53285678380783d338e146e'],
  'cheflethalplays/cheflethalplays5.log': [507, 'bf1b4ee797deb9416f79e7a9bdcaf9af33cf18746748f25442feda898ac1443d', '6b8630cf239f66cb9a45dbae20b07a41f93fcbea5339b17601593a1186d96751'],
  'cheflethalplays/cheflethalplays6.log': [1117, '0439d41e6a3a4207ed2e987f1b9ea3811f2c0e17ae562249046d007d12ea8b50', '0cb443ca8067e201c903cb45690673619f2a33449415f769ad1e9b9d3626b93c'],
  'cheflethalplays/cheflethalplays8.log': [1131, '3140c29a00ec4a0d5ccd7ea21e03ac57a10780539334b748886c16604fefe755', 'a73eaee26d92da74c27fcb75052c655e089430632f134d52e691f37df1de26a8'],
  'cheflethalplays/cheflethalplays9.log': [335, '370d93fe774e930f0177379fab73502e381d541da9926bde5d9214cff04fca09', '7314b09f9c4f50886919604548019701bca54412b6af2a57c0ca9b5872fca13d'],
  'hsdogdog/hsdogdog1.log': [3026, '644cd66dd0a99a1911d8c87c99f7c806ba3dfc710f40dea6cdd563aec9321d06', '13d6b85b0ce7f6521fddc973b31b42df278cc5bd794b6219603b1eb6c0ad10d7'],
  'hsdogdog/hsdogdog2.log': [4539, 'a0908cf1c68e69d143f6d3fa01e69c06bb5c049d5a4358e59cfbe89b421cb907', 'f20a7ce6945507995be64131c4baa4b90039f208f887b486b7d877a1aa8fd10f'],
  'hsdogdog/hsdogdog3.log': [14118, 'bc5724a8a677283cc563d0ebd50b6ef2e7927f443e15bc24784c2607622139a0', '120ec28106c758ea71b4a3825e906551a439a020b1a532714869f11ce4dc78fa'],
  'neviilz/neviilz1.log': [1208, 'b5b39a1b5aef0016bc0ba0ced991c603f69a3a800465c2cae5a7dfcb7a7b61ef', '8b36b176847e2e49278ac7ca976cc627c11cef79d1e38011f17c00a29374e036'],
  'reckful/reckful1.log': [1531, '62ee2cc794200bd640a1b8f2493206c078489447fac2d87ae60503b50dc24161', '92a59abee734caf060d60bf2395ce9b3b4b4bb942e5922b2326733e77e872d87'],
  'riotgames/riotgames1.log': [43289, '64d129a741eb19ef5c030a19d0eb0195e366bf802ab3034f034915884018cd92', '0d9bb7f28519ddbfe10839fc0c4d9d2aed6197adba9e306e0adc26b60a6ed9b8'],
  'tidesoftime/tidesoftime1.log': [1981, 'e97c574a0fe3d60b3e9e6eea3e7b4e2cc810f7e565760cb02d01715d7cc0b38a', 'd0a28306d61f678773fc9cb6843b520cd831c19871b06206532c796a84ae21a8'],
};
const MERGED: [number, string] = [78027, '8ed068cab2d75d5c2ae19409e6fa99dedcdf01ae363ee617e4f1cd737882d0cf'];

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
  // many times; the hash pins which entries go (taken 2026-11-21 on the eviction of commit 146740d;
  // retaken 2026-11-22 for model 2026.11.8 and its toxicity lexicon, eviction code unchanged)
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
  assert.deepEqual([n, h.digest('hex')], [78027, '543de63339af71300a058969922d61c6ff4f288ef65436ba28a7c2a6f8f3645e']);
  const size = st.size();
  assert.ok(size.users <= 700 && size.texts <= 900 && size.words <= 3000 && size.channels <= st.maxChannels, JSON.stringify(size));
  assert.ok(size.channels > 0.9 * st.maxChannels, `the channel cap was crossed: ${JSON.stringify(size)}`);
});
