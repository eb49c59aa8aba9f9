/**
 * JetStream side of the bus for the enrich stage: a durable pull consumer (`config.nats.consumer`)
 * with explicit acks on `config.nats.stream`. The consume loop restarts after errors (as in nats.js
 * `jetstream/examples/`); the client's idle heartbeats notice a dead server, and the bounded
 * `max_ack_pending` keeps a stalled ClickHouse from pulling the whole stream into memory.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { BusConsumer, Delivery } from '../core/bus.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { chatStreamSubjects } from '../core/subjects.ts';

export interface JetStreamConsumerOptions {
  config: Config;
  logger: Logger;
  /** Unacknowledged messages the server lets this consumer hold (each may carry many events). Default 2,000. */
  maxAckPending?: number;
  /** Redelivery after this long without ack or `working()`. Default 30 s. */
  ackWaitMs?: number;
  /** Messages pulled per request. Default 500. */
  pullBatch?: number;
  /** Use an open connection instead of connecting to `config.nats.url` (it is then not closed here). */
  connection?: NatsConnection;
}

export interface JetStreamConsumer extends BusConsumer {
  /** Drains and closes the NATS connection: call after the last ack (see cli/commands/enrich.ts). */
  close(): Promise<void>;
}

function toDelivery(m: JsMsg): Delivery {
  return {
    data: m.string(),
    msgId: m.headers?.get('Nats-Msg-Id') || `seq:${m.seq}`,
    seq: m.seq,
    deliveryCount: m.info.deliveryCount,
    publishedAt: Number(m.timestampNanos / 1_000_000n),
    ack: async () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    term: (reason) => m.term(reason),
    working: () => m.working(),
  };
}

/**
 * Connects, makes sure the stream (created like ingest does, if ingest has not yet) and the durable
 * consumer exist, and returns a {@link BusConsumer} over it.
 */
export async function createJetStreamConsumer(opts: JetStreamConsumerOptions): Promise<JetStreamConsumer> {
  const { config, logger } = opts;
  const { url, stream, consumer: durable, subjectPrefix, duplicateWindowMs } = config.nats;
  if (!opts.connection && url === null) throw new Error('NATS_URL is not set: the JetStream consumer needs a NATS server');
  const nc = opts.connection ?? (await connect({ servers: url!.split(',').map((s) => s.trim()), name: `twichist-enrich-${process.pid}`, maxReconnectAttempts: -1 }));
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(stream);
  } catch {
    await jsm.streams.add({ name: stream, subjects: chatStreamSubjects(subjectPrefix), duplicate_window: nanos(duplicateWindowMs) });
    logger.info({ stream }, 'created the JetStream stream');
  }
  const consumerConfig = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_ack_pending: opts.maxAckPending ?? 2000,
  };
  try {
    await jsm.consumers.info(stream, durable);
    await jsm.consumers.update(stream, durable, { ack_wait: consumerConfig.ack_wait, max_ack_pending: consumerConfig.max_ack_pending });
  } catch {
    await jsm.consumers.add(stream, consumerConfig);
    logger.info({ stream, consumer: durable }, 'created the durable JetStream consumer');
  }
  const js = jetstream(nc);
  let stopped = false;
  let current: ConsumerMessages | null = null;
  let wake: (() => void) | null = null;
  return {
    async *deliveries() {
      while (!stopped) {
        try {
          const c = await js.consumers.get(stream, durable);
          current = await c.consume({ max_messages: opts.pullBatch ?? 500 });
          void (async () => {
            for await (const s of current!.status()) {
              if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') logger.warn({ status: s.type }, 'JetStream consumer status');
            }
          })().catch(() => {});
          for await (const m of current) {
            yield toDelivery(m);
            if (stopped) break;
          }
        } catch (err) {
          if (stopped) break;
          logger.warn({ err: (err as Error).message }, 'JetStream consume failed; restarting in 1 s');
        }
        if (!stopped) await new Promise<void>((r) => ((wake = r), setTimeout(r, 1000)));
      }
    },
    async stop() {
      stopped = true;
      // Messages pulled but not yet yielded are redelivered after ack_wait: nothing is lost.
      current?.stop();
      wake?.();
    },
    async close() {
      stopped = true;
      current?.stop();
      // drain() flushes the acks already written before the socket closes.
      if (!opts.connection && !nc.isClosed()) await nc.drain();
    },
  };
}
