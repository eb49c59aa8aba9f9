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
  let client: Awaited<ReturnType<typeof createClickHouse>> | null = null;
  try {
    client = await createClickHouse(o.config);
    const started = Date.now();
    const views = await refreshDerived(client);
    o.say(`derived tables refreshed (${views.length} views, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    // in-process imports refresh topics in their pipeline; the enrich service does it on its timer
    if (o.config.nats.url !== null) {
      o.say(o.config.enrich.topicsIntervalMs > 0
        ? `topics: the enrich service computes them for the imported windows within TOPICS_INTERVAL_S (${o.config.enrich.topicsIntervalMs / 1000} s here)`
        : 'topics: off (TOPICS_INTERVAL_S=0): the imported windows get none until `twichist analytics topics` runs');
    }
    return true;
  } catch (err) {
    // The import itself is done (stored, or acknowledged by JetStream); only the convenience refresh failed,
    // e.g. the enrich process serving the embedded database stopped meanwhile ("fetch failed").
    if (o.config.nats.url === null) throw err;
    o.say(`derived tables not refreshed now (${(err as Error).message ?? String(err)}): the events are safe; the views refresh on their schedule`);
    return false;
  } finally {
    await client?.close();
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
      } catch (err) {
        // only "consumer not found" means enrich never ran; anything else (NATS down, a timeout) is said as it is
        const notFound = /consumer not found/i.test(String((err as Error).message ?? err));
        o.say(notFound
          ? `no enrich consumer '${consumer}' on stream ${stream} yet: the events are safe in JetStream and will be stored when enrich runs; derived tables refresh on their schedule`
          : `cannot read enrich consumer '${consumer}' on stream ${stream} (${(err as Error).message ?? String(err)}): the events are in JetStream (acknowledged); derived tables refresh on their schedule`);
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
