/** Shared helpers of the enrich tests: counts that must be exact, waiting, publishing to JetStream. */
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../../../core/config.ts';
import type { ChatEvent } from '../../../core/events.ts';
import { importFile } from '../../../ingest/importers/index.ts';
import { ensureChatStream, JetStreamPublisher, MicroBatcher } from '../../../ingest/jetstream.ts';

export interface Counts {
  messages: number;
  modActions: number;
  deadLetters: number;
  /** sum(messages) over chat_30s, chat_1m, chat_1h, chat_1d. */
  rollupMessages: number[];
  /** sum(bans + timeouts) over the same tables. */
  rollupModActions: number[];
  /** Distinct chatters over all time, from chat_30s and from messages. */
  chatters30s: number;
  chattersRaw: number;
  /** sum(uses) over emotes_30s and emotes_1d, and emote occurrences in messages. */
  emoteUses: number[];
}

async function one<T>(client: ClickHouseClient, query: string): Promise<T> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return (await rs.json<T>())[0];
}

/** Plain counts, no FINAL/DISTINCT: exactly what analysts would type. */
export async function counts(client: ClickHouseClient): Promise<Counts> {
  const n = async (q: string) => Number((await one<{ n: number }>(client, q)).n);
  const rollupMessages: number[] = [];
  const rollupModActions: number[] = [];
  for (const t of ['chat_30s', 'chat_1m', 'chat_1h', 'chat_1d']) {
    rollupMessages.push(await n(`SELECT sum(messages) AS n FROM ${t}`));
    rollupModActions.push(await n(`SELECT sum(bans) + sum(timeouts) AS n FROM ${t}`));
  }
  return {
    messages: await n('SELECT count() AS n FROM messages'),
    modActions: await n('SELECT count() AS n FROM mod_actions'),
    deadLetters: await n('SELECT count() AS n FROM dead_letters'),
    rollupMessages,
    rollupModActions,
    chatters30s: await n('SELECT uniqExactMerge(chatters) AS n FROM chat_30s'),
    chattersRaw: await n('SELECT uniqExact(login) AS n FROM messages'),
    emoteUses: [
      await n('SELECT sum(uses) AS n FROM emotes_30s'),
      await n('SELECT sum(uses) AS n FROM emotes_1d'),
      await n('SELECT sum(length(emote_names)) AS n FROM messages'),
    ],
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (done(last)) return last;
    } catch {
      // the store may be briefly unreachable (restarting child); try again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Publishes events through the ingest engineer's JetStream publisher (micro-batched, with Nats-Msg-Id). */
export async function publishAll(nc: NatsConnection, config: Config, events: ChatEvent[], maxEvents = 200): Promise<void> {
  await ensureChatStream(nc, config.nats);
  const publisher = new JetStreamPublisher({ nc, subjectPrefix: config.nats.subjectPrefix });
  const batcher = new MicroBatcher({ publisher, maxEvents });
  for (const e of events) await batcher.push(e);
  await batcher.close();
  await publisher.flush();
}

/** Env for a test that owns its stream, subject prefix and durable consumer. */
export function uniqueNatsEnv(url = 'nats://127.0.0.1:4222'): Record<string, string> {
  const tag = `twichist_test_${randomBytes(5).toString('hex')}`;
  return { NATS_URL: url, NATS_STREAM: tag.toUpperCase(), NATS_SUBJECT_PREFIX: tag, NATS_CONSUMER: `enrich_${tag}`, TWICHIST_ONLINE: 'false' };
}

/** Messages the durable consumer has not yet had acknowledged (pending delivery + awaiting ack). */
export async function unacked(nc: NatsConnection, config: Config): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(config.nats.stream, config.nats.consumer);
  return info.num_pending + info.num_ack_pending;
}

/** The riotgames1 log as events, read by the ingest engineer's Chatty importer. */
export async function importEvents(file: string, channel: string | null = null): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  await importFile(file, (e) => void events.push(e), { channel, source: 'import' });
  return events;
}
