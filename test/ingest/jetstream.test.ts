/**
 * The publish path's encodings must stay byte-identical to the shared contracts: `encodeEventBatch` to
 * core/bus.ts `encodeEvents` (what consumers split), `batchMsgId` to `deterministicId('batch', ...)`
 * (the Nats-Msg-Id a retried batch must repeat, also across versions within the duplicate window).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeEvents } from '../../core/bus.ts';
import type { ChatEvent } from '../../core/events.ts';
import { deterministicId } from '../../core/ids.ts';
import { batchMsgId, encodeEventBatch } from '../../ingest/jetstream.ts';
import { parseIrcLine } from '../../ingest/irc-parser.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const XQC = path.resolve(repoRoot, '..', 'shared', 'data', 'irc', 'xqc-2023-04-01.raw.irc');

function sampleEvents(): ChatEvent[] {
  const lines = fs.existsSync(XQC)
    ? fs.readFileSync(XQC, 'utf8').split('\r\n')
    : ['@id=a;tmi-sent-ts=1 :x!x@x PRIVMSG #c :hello 😀 ☕ é', '@id=b;tmi-sent-ts=2 :y!y@y PRIVMSG #c :plain', '@tmi-sent-ts=3;ban-duration=5 :tmi.twitch.tv CLEARCHAT #c :z'];
  return lines.flatMap((l) => {
    const r = parseIrcLine(l, { receivedAt: 1, source: 'live' });
    return r.ok ? [r.event] : [];
  });
}

test('encodeEventBatch is byte-identical to encodeEvents (ASCII, two-byte and astral text)', () => {
  const all = sampleEvents();
  assert.ok(all.some((e) => e.kind === 'message' && /[^\u0000-\u00ff]/.test(e.text)), 'the sample has non-latin1 text');
  for (let i = 0; i < all.length; i += 200) {
    const batch = all.slice(i, i + 200);
    assert.ok(Buffer.from(encodeEventBatch(batch)).equals(Buffer.from(encodeEvents(batch), 'utf8')), `batch at ${i} differs`);
  }
});

test('batchMsgId equals deterministicId("batch", n, ...ids), and a single event keeps its own id', () => {
  const all = sampleEvents();
  for (const n of [2, 3, 200]) {
    const batch = all.slice(0, n);
    assert.equal(batchMsgId(batch), deterministicId('batch', batch.length, ...batch.map((e) => e.id)));
  }
  assert.equal(batchMsgId(all.slice(0, 1)), all[0].id);
});
