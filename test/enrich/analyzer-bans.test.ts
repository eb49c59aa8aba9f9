/** Moderation risk uses bans seen so far: enrich must hand each ban/timeout to the analyzer, in stream order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InProcessBus } from '../../core/bus.ts';
import type { ChatEvent } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import type { Analyzer } from '../../enrich/analyzer.ts';
import { startEnrich } from '../../enrich/index.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { sampleMessage } from '../support/events.ts';

const base = { v: 1 as const, channel: 'c', channel_id: null, received_at: 2000, source: 'live' as const, tags: {} };

/** Runs `events` through the enrich stage with a spy analyzer (neutral scores) and stops it. */
async function throughSpy(events: ChatEvent[], spy: Pick<Analyzer, 'analyze' | 'recordBan'>): Promise<void> {
  const { config, client } = await testDatabase();
  const analyzer: Analyzer = { version: 'spy-1', ...spy };
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: createLogger('silent'), client, consumer: bus.consumer(), analyzer, journalDir: null });
  await bus.publisher().publish('c', events);
  await bus.idle();
  await stage.stop();
}
const neutral = { sentiment: 0, sentimentLabel: 0, toxicity: 0, modRisk: 0 };

test('bans and timeouts reach the analyzer before the messages that follow them', async () => {
  const calls: string[] = [];
  await throughSpy([
    { ...sampleMessage, ...base, id: 'm1', ts: 1000, login: 'a' },
    { ...base, kind: 'timeout', id: 't1', ts: 1500, target_user_id: null, target_login: 'spammer', duration_s: 600, reason: null },
    { ...base, kind: 'ban', id: 'b1', ts: 1600, target_user_id: null, target_login: 'bot', reason: null },
    { ...base, kind: 'delete', id: 'd1', ts: 1700, target_msg_id: 'm1', target_login: 'a', text: 'x' },
    { ...sampleMessage, ...base, id: 'm2', ts: 1800, login: 'b' },
  ], {
    analyze: (i) => (calls.push(`analyze ${i.login}`), neutral),
    recordBan: (channel, login, ts) => calls.push(`ban ${channel} ${login} ${ts}`),
  });
  assert.deepEqual(calls, ['analyze a', 'ban c spammer 1500', 'ban c bot 1600', 'analyze b']);
});

test("the analyzer gets each message's badges and /me flag: moderation risk reads the author's standing and coloured text", async () => {
  const seen: unknown[] = [];
  await throughSpy([
    { ...sampleMessage, ...base, id: 'm1', ts: 1000, login: 'mod', badges: { moderator: '1', subscriber: '12' } },
    { ...sampleMessage, ...base, id: 'm2', ts: 1100, login: 'viewer', badges: {}, action: true },
  ], {
    analyze: (i) => (seen.push([i.login, i.badges, i.action]), neutral),
    recordBan: () => {},
  });
  assert.deepEqual(seen, [['mod', { moderator: '1', subscriber: '12' }, false], ['viewer', {}, true]]);
});
