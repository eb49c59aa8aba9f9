/**
 * The publishing side of `twichist import` / `replay` / `ingest`: with NATS_URL, JetStream (returns
 * once every publish is acknowledged); without, the in-process bus plus the enrich stage in this
 * process (returns once everything is stored). Also the dead-letter writer for rejected lines.
 */
import { InProcessBus, type BusPublisher } from '../core/bus.ts';
import { createClickHouse, NoControlServerError, type ClickHouseClient } from '../core/clickhouse.ts';
import type { Config } from '../core/config.ts';
import { deterministicId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, ensureChatStream, JetStreamPublisher, MicroBatcher } from './jetstream.ts';
import type { Reject } from './importers/types.ts';

export interface PublishPipeline {
  mode: 'jetstream' | 'in-process';
  publisher: BusPublisher;
  batcher: MicroBatcher;
  nc: NatsConnection | null;
  /** ClickHouse, opened on first use (in-process mode opens it at start for the enrich stage). */
  clickhouse(): Promise<ClickHouseClient>;
  /** Publishes what is batched and waits until it is acknowledged (JetStream) or stored (in-process). */
  settle(): Promise<void>;
  /**
   * In-process only (null with JetStream, where another process stores): what this process's enrich stage did
   * with the events so far: stored, skipped as already stored (a re-import's same ids), dropped for opted-out users.
   */
  storeCounts(): { stored: number; alreadyStored: number; optedOut: number } | null;
  close(): Promise<void>;
}

/**
 * @param opts.servedClickHouse JetStream mode with embedded ClickHouse: reach the database only through the
 * control server of the process holding it (enrich), waiting for one, never by opening the folder here.
 * For short commands (`import`, `replay`) that must not lock a restarting enrich out of its folder.
 * @param opts.topicTimer in-process: refresh topics on the config's timer (default true: `ingest` without NATS
 * runs for hours); false for an import, whose settle() refreshes every due window once all is stored (the
 * timer's runs recomputed windows still being filled, and their deletes were most of a sparse import's time).
 */
export async function openPublishPipeline(
  config: Config,
  logger: Logger,
  batch: { maxEvents?: number; maxDelayMs?: number; maxInFlight?: number } = {},
  opts: { servedClickHouse?: boolean; topicTimer?: boolean } = {},
): Promise<PublishPipeline> {
  // servedClickHouse: embedded ClickHouse belongs to the enrich process. Opening the folder here (to
  // write dead letters) held its lock until this command exited, so an enrich restarting meanwhile could
  // not start ("Cannot lock file"), while settleDerived waited up to 5 minutes for that very consumer.
  const served = config.nats.url !== null && opts.servedClickHouse === true;
  let client: Promise<ClickHouseClient> | null = null;
  /** Opened on first use and shared; a failed open is retried by the next call. */
  const clickhouse = () =>
    (client ??= (served ? openViaServingProcess(config, logger, SHARED_WAIT_MS) : createClickHouse(config)).catch((err: unknown) => {
      client = null;
      throw err;
    }));
  const onError = (err: unknown, channel: string, events: unknown[]) => logger.error({ err: String(err), channel, events: events.length }, 'bus publish failed; events lost');
  if (config.nats.url !== null) {
    const nc = await connectNats(config.nats.url);
    await ensureChatStream(nc, config.nats);
    const publisher = new JetStreamPublisher({ nc, subjectPrefix: config.nats.subjectPrefix, logger });
    const batcher = new MicroBatcher({ publisher, onError, ...batch });
    return {
      mode: 'jetstream',
      publisher,
      batcher,
      nc,
      clickhouse,
      settle: () => batcher.flush(),
      storeCounts: () => null,
      async close() {
        await batcher.close();
        await publisher.close();
        if (!nc.isClosed()) await nc.drain();
        if (client) await (await client.catch(() => null))?.close();
      },
    };
  }
  // Single process: the enrich stage stores what the in-process bus carries.
  const ch = await clickhouse();
  const { migrateUp } = await import('../clickhouse/migrate.ts');
  await migrateUp(ch);
  const { startEnrich } = await import('../enrich/index.ts');
  const bus = new InProcessBus();
  const publisher = bus.publisher();
  const stage = startEnrich({ config, logger, client: ch, consumer: bus.consumer(), ...(opts.topicTimer === false ? { topicsIntervalMs: 0 } : {}) });
  const batcher = new MicroBatcher({ publisher, onError, ...batch });
  return {
    mode: 'in-process',
    publisher,
    batcher,
    nc: null,
    clickhouse,
    async settle() {
      await batcher.flush();
      await bus.idle();
      await stage.stored();
      await stage.refreshTopics();
    },
    storeCounts() {
      const m = stage.metrics;
      return { stored: Object.values(m.eventsOut).reduce((a, n) => a + n, 0), alreadyStored: m.duplicatesDropped, optedOut: m.optedOutDropped };
    },
    async close() {
      await batcher.close();
      await bus.idle();
      await stage.stored();
      await stage.stop();
      bus.close();
      await ch.close();
    },
  };
}

/** How long a JetStream-mode command waits for the process serving the embedded database (as long as settleDerived waits for enrich). */
const SHARED_WAIT_MS = 300_000;

/**
 * ClickHouse for a command publishing to JetStream: the server (CLICKHOUSE_URL), or the embedded
 * database through the control server of the process that holds it, waiting up to `waitMs` for one to
 * (re)appear; never the folder itself.
 */
async function openViaServingProcess(config: Config, logger: Logger, waitMs: number): Promise<ClickHouseClient> {
  if (config.clickhouse.url !== null) return createClickHouse(config);
  const deadline = Date.now() + waitMs;
  let said = false;
  for (;;) {
    try {
      return await createClickHouse(config, { controlOnly: true });
    } catch (err) {
      if (!(err instanceof NoControlServerError) || Date.now() > deadline) throw err;
      if (!said) logger.warn({ dataDir: config.dataDir }, 'waiting for a twichist process (enrich) to serve the embedded database; start `twichist enrich` with the same TWICHIST_DATA_DIR');
      said = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Writes rejected lines to `dead_letters` with a deterministic id (stage, source, reason, payload), and
 * skips ids already there, so importing the same bad file twice stores each bad line once.
 * Buffers up to `flushEvery` rejects; `flush()` at the end.
 */
export class DeadLetterWriter {
  private readonly open: () => Promise<ClickHouseClient>;
  private readonly logger: Logger;
  private readonly stage: string;
  private readonly flushEvery: number;
  private buf: Reject[] = [];
  private chain: Promise<void> = Promise.resolve();
  written = 0;
  failed = 0;

  constructor(opts: { clickhouse: () => Promise<ClickHouseClient>; logger: Logger; stage?: string; flushEvery?: number }) {
    this.open = opts.clickhouse;
    this.logger = opts.logger;
    this.stage = opts.stage ?? 'ingest';
    this.flushEvery = opts.flushEvery ?? 1000;
  }

  add(r: Reject): void {
    this.buf.push(r);
    if (this.buf.length >= this.flushEvery) void this.flush();
  }

  flush(): Promise<void> {
    const batch = this.buf;
    this.buf = [];
    if (batch.length === 0) return this.chain;
    this.chain = this.chain.then(() => this.write(batch));
    return this.chain;
  }

  private async write(batch: Reject[]): Promise<void> {
    const now = Date.now();
    const rows = batch.map((r) => ({ id: deterministicId('dead', this.stage, r.source, r.reason, r.payload), ts: chTime(now), stage: this.stage, source: r.source, reason: r.reason, payload: r.payload }));
    try {
      const client = await this.open();
      const rs = await client.query({ query: 'SELECT id FROM dead_letters WHERE id IN {ids:Array(String)}', query_params: { ids: rows.map((r) => r.id) }, format: 'JSONEachRow' });
      const have = new Set((await rs.json<{ id: string }>()).map((r) => r.id));
      const fresh = rows.filter((r) => !have.has(r.id) && (have.add(r.id), true));
      if (fresh.length > 0) await client.insert({ table: 'dead_letters', values: fresh, format: 'JSONEachRow' });
      this.written += fresh.length;
    } catch (err) {
      this.failed += batch.length;
      this.logger.error({ err: String(err), rejects: batch.length }, 'could not write dead letters to ClickHouse');
    }
  }
}
