/**
 * Helpers for tests and benchmarks that need JetStream: a config with a unique stream and subject
 * prefix (`twichist_test_<random>`), reading a stream back with a plain ordered consumer, and cleanup.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { loadConfig, type Config } from '../../core/config.ts';
import { splitEventLines } from '../../core/bus.ts';

export const TEST_NATS_URL = 'nats://127.0.0.1:4222';

/** Connects to the local nats-server, or returns null (with the reason) when it is not running. */
export async function tryConnectNats(url = TEST_NATS_URL): Promise<{ nc: NatsConnection | null; reason: string | null }> {
  try {
    const nc = await connect({ servers: url, timeout: 2000, maxReconnectAttempts: 0 });
    return { nc, reason: null };
  } catch (err) {
    return { nc: null, reason: `no nats-server at ${url}: ${String(err)}` };
  }
}

/** Environment for `loadConfig` with a stream, subject prefix and durable consumer of this test only. */
export function uniqueNatsEnv(url = TEST_NATS_URL): Record<string, string> {
  const tag = `twichist_test_${randomBytes(5).toString('hex')}`;
  return { NATS_URL: url, NATS_STREAM: tag.toUpperCase(), NATS_SUBJECT_PREFIX: tag, NATS_CONSUMER: `${tag}_enrich` };
}

/** A config whose stream and subject prefix belong to this test only. */
export function uniqueNatsConfig(env: Record<string, string | undefined> = {}, url = TEST_NATS_URL): Config {
  return loadConfig({ ...uniqueNatsEnv(url), TWICHIST_DATA_DIR: '/tmp/twichist-test-unused', ...env });
}

export interface StreamMessage {
  seq: number;
  msgId: string | null;
  subject: string;
  /** The NDJSON lines of the bus message. */
  events: unknown[];
}

/** Every message currently in `stream`, in order, read with an ordered (ephemeral) consumer. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info(stream)).state.messages;
  const out: StreamMessage[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 500 });
  for await (const m of messages) {
    out.push({ seq: m.seq, msgId: m.headers?.get('Nats-Msg-Id') ?? null, subject: m.subject, events: splitEventLines(m.string()).map((l) => JSON.parse(l)) });
    if (out.length >= total || m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => undefined);
}
