/**
 * After an import: make every derived table (bursts, segments, signatures, ...) reflect what was just
 * imported before the command returns. In single-process mode the events are already stored; with
 * JetStream they are stored by a separate enrich service, so first wait until its durable consumer has
 * nothing pending or unacknowledged.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { refreshDerived } from '../analytics/refresh.ts';
import { createClickHouse } from '../core/clickhouse.ts';
import type { Config } from '../core/config.ts';

export interface SettleOptions {
  config: Config;
  /** Longest wait for the enrich consumer to catch up (JetStream mode). */
  timeoutMs?: number;
  say: (line: string) => void;
}

/** Waits for enrich (JetStream mode) and refreshes the derived tables; returns false when it could not. */
export async function settleDerived(o: SettleOptions): Promise<boolean> {
  if (o.config.nats.url !== null && !(await waitForConsumer(o))) return false;
  const client = await createClickHouse(o.config);
  try {
    const started = Date.now();
    const views = await refreshDerived(client);
    o.say(`derived tables refreshed (${views.length} views, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    // in-process imports refresh topics in their pipeline; the enrich service does it on its timer
    if (o.config.nats.url !== null) o.say(`topics: the enrich service computes them for the imported windows within TOPICS_INTERVAL_S (${o.config.enrich.topicsIntervalMs / 1000} s here)`);
    return true;
  } finally {
    await client.close();
  }
}

async function waitForConsumer(o: SettleOptions): Promise<boolean> {
  const { url, stream, consumer } = o.config.nats;
  const nc = await connect({ servers: url!.split(',').map((s) => s.trim()), name: `twichist-import-${process.pid}` });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + (o.timeoutMs ?? 300_000);
    for (;;) {
      let info;
      try {
        info = await jsm.consumers.info(stream, consumer);
      } catch {
        o.say(`no enrich consumer '${consumer}' on stream ${stream} yet: the events are safe in JetStream and will be stored when enrich runs; derived tables refresh on their schedule`);
        return false;
      }
      if (info.num_pending === 0 && info.num_ack_pending === 0) return true;
      if (Date.now() > deadline) {
        o.say(`enrich still has ${info.num_pending + info.num_ack_pending} messages to store; derived tables will catch up on their schedule`);
        return false;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await nc.close();
  }
}
