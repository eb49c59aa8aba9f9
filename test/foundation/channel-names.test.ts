/**
 * A channel name is read the same way wherever a user gives one (core/channels.ts): TWITCH_CHANNELS,
 * the API's paths, bodies and query strings, and the CLI's channel flags. Needs no database.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loginListSchema, loginSchema } from '../../api/schemas.ts';
import { channelFlag, channelListFlag } from '../../cli/command.ts';
import { loadConfig } from '../../core/config.ts';

const env = (channels: string) => loadConfig({ TWICHIST_DATA_DIR: '/tmp/unused', TWITCH_CHANNELS: channels }).twitch.channels;

test('one name: #, case and surrounding space are read alike by the environment, the API and the CLI', () => {
  for (const raw of ['#NorthernLion', ' #northernlion ', 'NORTHERNLION', 'northernlion']) {
    assert.deepEqual(env(raw), ['northernlion'], `TWITCH_CHANNELS=${raw}`);
    assert.equal(loginSchema.parse(raw), 'northernlion', `API ${raw}`);
    assert.deepEqual(loginListSchema(10).parse(raw), ['northernlion'], `API list ${raw}`);
    assert.equal(channelFlag({ channel: raw }, 'channel'), 'northernlion', `--channel ${raw}`);
    assert.deepEqual(channelListFlag({ channels: raw }, 'channels'), ['northernlion'], `--channels ${raw}`);
  }
});

test('lists: commas and spaces separate, repeats are dropped, in TWITCH_CHANNELS, ?channels= and --channels alike', () => {
  // ?channels=#a #b was a 400 while TWITCH_CHANNELS took it.
  for (const raw of ['#xqc, #Lirik', '#xqc #lirik', 'xqc,lirik,XQC', ' xqc ,, lirik ']) {
    assert.deepEqual(env(raw), ['xqc', 'lirik'], `TWITCH_CHANNELS=${raw}`);
    assert.deepEqual(loginListSchema(10).parse(raw), ['xqc', 'lirik'], `?channels=${raw}`);
    assert.deepEqual(channelListFlag({ channels: raw }, 'channels'), ['xqc', 'lirik'], `--channels ${raw}`);
  }
});

test('a name that is not a Twitch login is refused everywhere, with the reason', () => {
  for (const raw of ['not a-login!', '#', 'x'.repeat(26), 'ä']) {
    // `#` alone is an empty list there, as an empty TWITCH_CHANNELS is
    if (raw !== '#') assert.throws(() => loadConfig({ TWITCH_CHANNELS: raw }), /TWITCH_CHANNELS: must be Twitch logins/, raw);
    const api = loginSchema.safeParse(raw);
    assert.equal(api.success, false, raw);
    assert.match(api.error!.issues[0].message, /must be a Twitch login/);
    assert.throws(() => channelFlag({ channel: raw }, 'channel'), /--channel must be a Twitch login/, raw);
  }
  assert.throws(() => channelListFlag({ channels: 'xqc,no!' }, 'channels'), /--channels: 'no!' is not a Twitch login/);
  assert.equal(loginListSchema(10).safeParse('xqc,no!').success, false);
});
