/** What every route plugin gets: the dependencies `buildApp` was given. */
import type { ClickHouseClient } from '../core/clickhouse.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import type { FastifyReply } from 'fastify';
import type { ApiLimits } from './app.ts';
import type { LiveSource } from './live.ts';

/** `stalled`: a followed channel whose latest lifecycle row says joined or joining, but no heartbeat came for INGEST_STALLED_PERIODS periods. */
export type IngestState = 'joined' | 'joining' | 'parted' | 'disabled' | 'stalled';

/** The in-process ingestor, when the API runs inside `twichist up`. */
export interface IngestControl {
  /** Current state per channel login. */
  state(): Record<string, IngestState>;
  /** Replaces the followed channel list at once (no restart). */
  setChannels?(list: string[]): void | Promise<void>;
}

/** Anything that renders Prometheus text (enrich exposes `toPrometheus()`). */
export interface MetricsProvider {
  toPrometheus(): string | Promise<string>;
}

/** Reachability of the bus, for `/health`. */
export interface NatsHealth {
  /** Resolves when the server answers (e.g. `nc.flush()`), rejects otherwise. */
  ping(): Promise<void>;
}

/** Tells ingest processes elsewhere that the `channels` table changed (they re-read it at once instead of at their next poll). */
export interface ChannelNotifier {
  channelsChanged(): void | Promise<void>;
}

export interface ApiContext {
  config: Config;
  logger: Logger;
  /** Reads of the routes: every `query` carries the API's read limits (app.ts `ApiLimits`). */
  client: ClickHouseClient;
  /**
   * The same database without the read limits, for work that must not stop halfway: the opt-out reads
   * between its deletes and rebuilds, and a read stopped there would leave the rest undone for good.
   */
  unboundedClient: ClickHouseClient;
  live: LiveSource | null;
  ingest: IngestControl | null;
  metrics: MetricsProvider | null;
  nats: NatsHealth | null;
  notifier: ChannelNotifier | null;
  limits: ApiLimits;
  /** The opt-out's wait before deleting (BuildAppOptions.optOutSettleMs); null: the default. */
  optOutSettleMs: number | null;
  /** Runs the work of a heavy route within {@link ApiLimits.maxHeavyRequests}, or throws a 503. */
  heavy<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T>;
}
