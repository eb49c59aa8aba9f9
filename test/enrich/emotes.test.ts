/** Emote tokens: code-point offsets, zero-width attachment, provider JSON shapes, the real 7TV nymn set. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../core/logger.ts';
import { createEmoteSource, EmoteIndex, parseEmoteJson } from '../../enrich/emotes.ts';
import { SHARED_DATA, sharedDataMissing } from '../support/paths.ts';

const NYMN = path.join(SHARED_DATA, 'emotes', '7tv-emote-set-nymn.json');
const GLOBALS = path.join(SHARED_DATA, 'emotes', 'globalemotes.json');

test('native emote offsets are code points: an emoji before the emote does not shift it', () => {
  const index = new EmoteIndex();
  // "😂 Kappa 🎉 LUL": 😂 is one code point (two UTF-16 units), so Kappa is 2-6 and LUL is 10-12.
  const text = '😂 Kappa 🎉 LUL';
  const t = index.tokens('c', text, [{ id: '25', start: 2, end: 6 }, { id: '425618', start: 10, end: 12 }]);
  assert.deepEqual(t.names, ['Kappa', 'LUL']);
  assert.deepEqual(t.ids, ['25', '425618']);
  assert.deepEqual(t.providers, ['twitch', 'twitch']);
  // A range that does not cover a whole word still slices by code points.
  const partial = index.tokens('c', '👍🏽x Kappa', [{ id: '1', start: 2, end: 2 }]);
  assert.deepEqual(partial.names, []);
  const inner = index.tokens('c', '👍🏽xKappa', [{ id: '25', start: 0, end: 0 }]);
  assert.deepEqual(inner.names, ['👍']);
});

test('7TV zero-width emotes attach to the emote before them', () => {
  const set = parseEmoteJson({
    username: 'somechan',
    emote_set: { emotes: [
      { id: 'a', name: 'PagMan', flags: 0, data: { flags: 0 } },
      { id: 'b', name: 'RainTime', flags: 1, data: { flags: 256 } },
      { id: 'c', name: 'SteerR', flags: 0, data: { flags: 256 } },
    ] },
  });
  assert.ok(set);
  assert.equal(set.channel, 'somechan');
  const index = new EmoteIndex();
  index.addSet(set);
  const t = index.tokens('somechan', 'PagMan RainTime SteerR hi RainTime', []);
  assert.deepEqual(t.names, ['PagMan', 'RainTime', 'SteerR', 'RainTime']);
  assert.deepEqual(t.attachedTo, [-1, 0, 0, -1], 'stacked zero-width emotes attach to the base; one after a word stands alone');
  assert.deepEqual(t.providers, ['7tv', '7tv', '7tv', '7tv']);
  // Another channel does not see this channel's set.
  assert.deepEqual(index.tokens('other', 'PagMan', []).names, []);
});

test('BTTV and FFZ API shapes, modifiers as zero-width, channel names shadowing globals', () => {
  const bttvGlobal = parseEmoteJson([{ id: 'b1', code: 'catJAM', imageType: 'gif' }, { id: 'b2', code: 'SoSnowy', imageType: 'gif' }]);
  const bttvUser = parseEmoteJson({ id: 'x', channelEmotes: [{ id: 'b3', code: 'monkaSTEER' }], sharedEmotes: [{ id: 'b4', code: 'catJAM' }] }, 'chan');
  const ffzRoom = parseEmoteJson({ room: { id: 'chan' }, sets: { '9': { emoticons: [{ id: 77, name: 'OMEGALUL' }, { id: 78, name: 'ffzHat', modifier: true }] } } });
  const ffzGlobal = parseEmoteJson({ default_sets: [3], sets: { '3': { emoticons: [{ id: 1, name: 'ZreknarF' }] } } });
  assert.equal(bttvUser?.channel, 'chan');
  assert.equal(ffzRoom?.channel, 'chan');
  const index = new EmoteIndex();
  for (const s of [bttvGlobal, bttvUser, ffzRoom, ffzGlobal]) index.addSet(s!);
  const t = index.tokens('chan', 'catJAM SoSnowy OMEGALUL ffzHat ZreknarF monkaSTEER', []);
  assert.deepEqual(t.names, ['catJAM', 'SoSnowy', 'OMEGALUL', 'ffzHat', 'ZreknarF', 'monkaSTEER']);
  assert.deepEqual(t.ids, ['b4', 'b2', '77', '78', '1', 'b3'], 'the channel copy of catJAM wins over the global one');
  assert.deepEqual(t.providers, ['bttv', 'bttv', 'ffz', 'ffz', 'ffz', 'bttv']);
  assert.deepEqual(t.attachedTo, [-1, 0, -1, 2, -1, -1]);
});

test('the real 7TV nymn set and Twitch globals, loaded as offline files', { skip: sharedDataMissing() }, () => {
  const source = createEmoteSource({ files: [NYMN, GLOBALS], cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'emotes-')), online: false, logger: createLogger('silent') });
  const t = source.index.tokens('nymn', 'PagMan Clueless xdd Kappa TakingNotes lol', []);
  assert.deepEqual(t.names, ['PagMan', 'Clueless', 'Kappa', 'TakingNotes']);
  assert.deepEqual(t.providers, ['7tv', '7tv', 'twitch', '7tv']);
  assert.deepEqual(t.attachedTo, [-1, -1, -1, 2], 'TakingNotes is zero-width in the nymn set');
  assert.equal(t.ids[0], '60ae9a57ac03cad60771b2d8');
  assert.deepEqual(source.index.tokens('forsen', 'PagMan Kappa', []).names, ['Kappa'], 'the nymn set is per channel');
  source.close();
});

test('fetched sets are cached on disk and used offline after a restart', async () => {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotes-'));
  const fakeFetch = (async (url: string) => {
    if (url.includes('betterttv') && url.includes('/users/')) return new Response(JSON.stringify({ channelEmotes: [{ id: 'z1', code: 'zChan' }], sharedEmotes: [] }));
    return new Response('nope', { status: 503 });
  }) as typeof fetch;
  const online = createEmoteSource({ files: [], cacheDir, online: true, logger: createLogger('silent'), fetch: fakeFetch });
  online.noteChannel('chan', '123');
  for (let i = 0; i < 50 && online.index.tokens('chan', 'zChan', []).names.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(online.index.tokens('chan', 'zChan', []).names, ['zChan']);
  online.close();
  const offline = createEmoteSource({ files: [], cacheDir, online: false, logger: createLogger('silent') });
  assert.deepEqual(offline.index.tokens('chan', 'zChan', []).providers, ['bttv']);
  offline.close();
});
