/**
 * Single-process wiring: what `twichist up` runs, and what other long-running commands may reuse.
 * Opens ClickHouse, applies migrations, serves the embedded database to other local processes
 * (control server), creates the bus (in-process, or JetStream when `NATS_URL` is set), starts enrich,
 * the ingest source (live channels or a replayed file) and the API, and stops them in an order that
 * loses nothing (see {@link Runtime.stop}).
 *
 * The stages are owned by other modules; this file only calls their public functions. Each is
 * imported lazily so `twichist sql` and `--help` never load Fastify, NATS or the enrich pipeline.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClickHouse, shutdownEmbedded, type ClickHouseClient } from './clickhouse.ts';
import { ConfigError, type Config } from './config.ts';
import type { BusConsumer, BusPublisher } from './bus.ts';
import type { Logger } from './logger.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EnrichStage } from '../enrich/index.ts';
import type { IngestControl, NatsHealth } from '../api/context.ts';
import { apiRequestTimeoutMs } from '../api/db.ts';
import { makeDirs } from './dirs.ts';
import type { LiveSource } from '../api/live.ts';
import type { IrcConnectionState } from '../ingest/live.ts';
import type { ChatEvent } from './events.ts';

/** The chat sample that ships with the project (see `samples/NOTICE`). */
export const SAMPLE_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'samples', 'northernlion-98355852.v5-rechat.json.gz');

/** What {@link preflight} checks besides the data folder. */
export interface PreflightOptions {
  /** Check that `API_PORT` is free on `API_HOST` (the process will listen there). Default false. */
  api?: boolean;
  /** Check NATS reachability and JetStream when `NATS_URL` is set. Default true. */
  nats?: boolean;
  /** Check `TWITCH_TOKEN_FILE` when set. Default true. */
  twitch?: boolean;
  /**
   * Per-check time limit. A check that needs longer than this is reported as unreachable: a
   * start-up that hangs for a minute on a typo is worse than a false alarm on a very slow network.
   */
  timeoutMs?: number;
}

/** Shortest accepted `TWICHIST_API_TOKEN`: 16 characters is ~80 bits for a random token, enough for a bearer secret. */
export const MIN_API_TOKEN_LENGTH = 16;

const fail = (setting: string, problem: string): never => {
  throw new ConfigError([{ setting, problem }]);
};

const reason = (err: unknown): string => {
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  return e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? String(err);
};

/**
 * Checks the settings a start-up depends on, with short time limits, before anything is opened:
 * the data folder is writable and no other twichist process runs on it, a ClickHouse server
 * (`CLICKHOUSE_URL`) answers and accepts the credentials, NATS (`NATS_URL`) answers and has
 * JetStream, the API token is long enough, the Twitch token file is readable JSON, the API port is
 * free. Throws {@link ConfigError} naming the setting and the fix. Cost: well under a second when
 * everything is fine (one HTTP round trip, one NATS connect, one file write).
 */
export async function preflight(config: Config, opts: PreflightOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  checkDataDir(config);
  await checkFolderFree(config);
  checkApiToken(config);
  if (opts.twitch ?? true) checkTokenFile(config);
  if (config.clickhouse.url !== null) await checkClickHouse(config, timeoutMs);
  if (config.nats.url !== null && (opts.nats ?? true)) await checkNats(config.nats.url, timeoutMs);
  if (opts.api) await checkPortFree(config.api.host, config.api.port);
}

/** Embedded ClickHouse allows one process per folder; a second long-running process must not start on it. */
async function checkFolderFree(config: Config): Promise<void> {
  if (config.clickhouse.url !== null) return;
  const { connectControl } = await import('./control.ts');
  const running = await connectControl(config.dataDir);
  if (running === null) return;
  let pid = '?';
  try {
    pid = String((JSON.parse(fs.readFileSync(path.join(config.dataDir, 'control.json'), 'utf8')) as { pid: number }).pid);
  } catch {
    // gone in the meantime; the message still holds
  }
  fail('TWICHIST_DATA_DIR', `another twichist process (pid ${pid}) is running on ${config.dataDir}; stop it first, use \`twichist sql\`/\`import\` alongside it, or set TWICHIST_DATA_DIR to another folder`);
}

function checkDataDir(config: Config): void {
  // Always needed: control.json, emotes/ and models/ live there even when ClickHouse is a server.
  const dirs = [config.dataDir, ...(config.clickhouse.url === null ? [config.clickhouse.embeddedPath] : [])];
  for (const dir of dirs) {
    const probe = path.join(dir, `.twichist-write-test-${process.pid}`);
    try {
      makeDirs(dir);
      fs.writeFileSync(probe, '');
      fs.unlinkSync(probe);
    } catch (err) {
      fail('TWICHIST_DATA_DIR', `cannot write to ${dir} (${reason(err)}); set TWICHIST_DATA_DIR to a folder this user can write, or fix its permissions`);
    }
  }
}

/**
 * The token guards every changing request, so each command that serves the API checks it (`up` in
 * {@link preflight}, `api` on its own, which runs no preflight): a short one would be guessable.
 */
export function checkApiToken(config: Config): void {
  const token = config.api.token;
  if (token === null) return;
  if (token.trim().length === 0) fail('TWICHIST_API_TOKEN', 'is blank; set a random secret of at least 16 characters (e.g. `openssl rand -hex 24`) or unset it to run the API without a token');
  if (token.length < MIN_API_TOKEN_LENGTH) fail('TWICHIST_API_TOKEN', `is ${token.length} characters, too short to be a secret; use at least ${MIN_API_TOKEN_LENGTH} (e.g. \`openssl rand -hex 24\`)`);
}

/**
 * Read by every command that logs in to Twitch (`up` in {@link preflight}, `ingest` on its own): a bad
 * file found only at login left `ingest` printing "Invalid token supplied" and then hanging.
 */
export function checkTokenFile(config: Config): void {
  const file = config.twitch.tokenFile;
  if (file === null) return;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return fail('TWITCH_TOKEN_FILE', `cannot read ${file} (${reason(err)}); point TWITCH_TOKEN_FILE at the token JSON file or unset it for anonymous read-only chat`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('TWITCH_TOKEN_FILE', `${file} is not JSON; it must hold {"accessToken": "...", "refreshToken": "...", ...} as written by the Twitch OAuth flow`);
  }
  const p = parsed as Record<string, unknown> | null;
  const access = p?.accessToken ?? p?.access_token;
  if (typeof access !== 'string' || access.length === 0) fail('TWITCH_TOKEN_FILE', `${file} has no accessToken; it must hold {"accessToken": "...", "refreshToken": "...", ...}`);
  try {
    fs.accessSync(file, fs.constants.W_OK);
  } catch {
    fail('TWITCH_TOKEN_FILE', `${file} is not writable; refreshed tokens are written back to it, so make it writable by this user`);
  }
}

async function checkClickHouse(config: Config, timeoutMs: number): Promise<void> {
  const { url, user, password } = config.clickhouse;
  const base = url!.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/?query=${encodeURIComponent('SELECT 1')}`, {
      headers: { 'X-ClickHouse-User': user, 'X-ClickHouse-Key': password },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return fail('CLICKHOUSE_URL', `cannot reach ClickHouse at ${base} (${reason(err)}); start the server, fix the URL, or unset CLICKHOUSE_URL to use the embedded database`);
  }
  const body = (await res.text().catch(() => '')).trim();
  if (res.status === 401 || res.status === 403 || /AUTHENTICATION_FAILED|Authentication failed|REQUIRED_PASSWORD/.test(body)) {
    fail('CLICKHOUSE_PASSWORD', `ClickHouse at ${base} refused user '${user}'; set CLICKHOUSE_USER and CLICKHOUSE_PASSWORD to an account that exists`);
  }
  if (res.status !== 200 || body !== '1') {
    fail('CLICKHOUSE_URL', `${base} answered HTTP ${res.status} ${JSON.stringify(body.slice(0, 80))}, not like a ClickHouse HTTP interface; CLICKHOUSE_URL must be the HTTP port (usually 8123), not the native port (9000)`);
  }
}

async function checkNats(url: string, timeoutMs: number): Promise<void> {
  const servers = url.split(',').map((s) => s.trim());
  const { connect } = await import('@nats-io/transport-node');
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({ servers, timeout: timeoutMs, reconnect: false, maxReconnectAttempts: 0 });
  } catch (err) {
    return fail('NATS_URL', `cannot reach NATS at ${url} (${reason(err)}); start nats-server with JetStream (nats-server -js), fix the URL, or unset NATS_URL to use the in-process bus`);
  }
  try {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    await jetstreamManager(nc, { timeout: timeoutMs });
  } catch (err) {
    fail('NATS_URL', `NATS at ${url} answers but JetStream is not available (${reason(err)}); start nats-server with -js (or enable JetStream for this account)`);
  } finally {
    await nc.close().catch(() => {});
  }
}

async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new ConfigError([{ setting: 'API_PORT', problem: `port ${port} on ${host} is already in use (another twichist or another program); stop it or set API_PORT to a free port` }]));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new ConfigError([{ setting: 'API_HOST', problem: `${host} is not an address of this machine (${err.code}); use 127.0.0.1, 0.0.0.0 or one of its addresses` }]));
      else if (err.code === 'EACCES') reject(new ConfigError([{ setting: 'API_PORT', problem: `not allowed to listen on port ${port} (ports below 1024 need privileges); set API_PORT above 1023` }]));
      else reject(err);
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

/** Where the chat comes from. */
export type RuntimeSource =
  /**
   * Archive live (the ingest stage's live ingestor): `TWITCH_CHANNELS` and the enabled rows of the
   * `channels` table. With nothing to follow, nothing is ingested until the API adds a channel.
   */
  | { kind: 'live' }
  /**
   * Replay a recorded chat file through the bus at `speed` times real time. Event times are the
   * recording's own, so replaying the same file twice stores nothing twice (ids are deterministic).
   */
  | { kind: 'replay'; file: string; speed: number }
  /**
   * Live when there is anything to follow (`TWITCH_CHANNELS`, or enabled rows in the `channels` table
   * from an earlier run), otherwise the replay. What `twichist up` uses: a restart keeps archiving
   * the channels added through the API instead of replaying the sample again.
   */
  | { kind: 'auto'; file: string; speed: number }
  /** Nothing: enrich and the API only (another process ingests over JetStream). */
  | { kind: 'none' };

/** Options of {@link startRuntime}. */
export interface RuntimeOptions {
  config: Config;
  logger: Logger;
  source: RuntimeSource;
  /** Start the enrich stage (bus -> ClickHouse). Default true. */
  enrich?: boolean;
  /** Start the API on `API_HOST:API_PORT`. Default true. */
  api?: boolean;
  /** Apply pending migrations (and the retention setting) before starting. Default true. */
  migrate?: boolean;
  /** Called for each start/stop step, for the command to print; the runtime itself only logs at debug. */
  onStep?: (step: string) => void;
  /** Replay progress: events published so far and, when known, the total. */
  onProgress?: (done: number, total: number | null) => void;
}

/** A started single-process Twichist. */
export interface Runtime {
  readonly client: ClickHouseClient;
  /** `http://host:port` of the API, or null when it was not started. */
  readonly apiUrl: string | null;
  /** `jetstream` when `NATS_URL` is set, else `in-process`. */
  readonly bus: 'jetstream' | 'in-process';
  /** What feeds the bus, after resolving `auto`. A channel added through the API later starts live ingest next to it. */
  readonly source: 'live' | 'replay' | 'none';
  /**
   * Resolves when the source has published everything it will (a replay reached the end of the file;
   * never for live ingest), with the number of events published.
   */
  readonly sourceDone: Promise<{ events: number }>;
  /**
   * Resolves when every event published so far is stored: open batches flushed, the bus drained
   * (in-process: queue empty; JetStream: the durable consumer has nothing pending or unacknowledged,
   * up to 60 s), and enrich's last batch written.
   */
  settled(): Promise<void>;
  /**
   * Refreshes the analytics views (bursts, chatter features, ...) now instead of at their next
   * schedule, so a finished replay shows up there too; returns the views refreshed. Costs the sum
   * of the views' refresh times (each recomputes its history: seconds for the sample).
   */
  refreshDerived(): Promise<string[]>;
  /**
   * Stops in the order that loses nothing: stop the source (no new events), flush the publisher and
   * drain the bus into enrich, stop enrich (its last batch is written and acknowledged), stop the API,
   * close the bus connection, the control server and ClickHouse. Idempotent.
   */
  stop(): Promise<void>;
}

/** A started stage as the runtime sees it. */
interface Stage {
  stop(): Promise<void>;
}
interface SourceStage extends Stage {
  done: Promise<{ events: number }>;
}
interface LiveStage extends Stage {
  control: IngestControl;
  /** The IRC connection, for `twichist status`. */
  connection(): IrcConnectionState;
}

/**
 * Starts Twichist in this process (see the file comment). On a failure part-way, what already
 * started is stopped again before the error is rethrown, so a failed start leaves no port bound
 * and no control file behind.
 */
export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = opts;
  const step = (s: string) => {
    logger.debug(s);
    opts.onStep?.(s);
  };
  // Filled as stages start; stop() walks them in the fixed order below, whatever got started.
  const s: {
    client?: ClickHouseClient;
    control?: Stage;
    api?: Stage;
    publisher?: BusPublisher;
    drain?: () => Promise<void>;
    enrich?: EnrichStage;
    bus?: OpenBus;
    source?: SourceStage;
    /** Live ingest, started at once (`live`) or when the API first adds a channel. */
    live?: Promise<LiveStage>;
  } = {};
  let stopping: Promise<void> | null = null;
  // Ends refreshDerived() between views: the shutdown must not race a loop that starts the next one.
  const stopRefreshes = new AbortController();
  const stop = () =>
    (stopping ??= (async () => {
      stopRefreshes.abort();
      const errors: unknown[] = [];
      const run = async (name: string, fn: (() => Promise<void>) | undefined) => {
        if (!fn) return;
        step(name);
        try {
          await fn();
        } catch (err) {
          logger.error({ err }, `${name} failed`);
          errors.push(err);
        }
      };
      await run('stopping ingest', (s.source || s.live) && (async () => {
        await Promise.all([s.source?.stop(), s.live?.then((l) => l.stop(), () => {})]);
      }));
      await run('flushing publisher', s.publisher && (() => s.publisher!.flush()));
      // Only enrich empties the in-process queue; without it there is nothing to wait for.
      await run('draining the bus', s.enrich && s.drain);
      await run('flushing enrich', s.enrich && (() => s.enrich!.stop()));
      // The API before the bus: its live feed may hold subscriptions on the NATS connection.
      await run('stopping the API', s.api && (() => s.api!.stop()));
      await run('closing the bus', s.bus && (async () => {
        await s.publisher?.close();
        await s.bus!.stop();
      }));
      await run('closing the control server', s.control && (() => s.control!.stop()));
      await run('closing ClickHouse', s.client && (async () => {
        // Embedded: the engine lives in this process and must be shut down before it exits (a no-op for a server).
        await shutdownEmbedded();
        await s.client!.close();
      }));
      if (errors.length > 0) throw errors[0];
    })());

  try {
    const embedded = config.clickhouse.url === null;
    step(embedded ? `opening embedded ClickHouse in ${config.clickhouse.embeddedPath}` : `connecting to ClickHouse at ${config.clickhouse.url}`);
    // viaControl false: the runtime must own the folder; a second `up` on it fails with "Cannot lock" (after
    // lockWaitMs: a short command that opened the folder nothing served, `status` or `sql`, lets it go in seconds).
    s.client = await createClickHouse(config, { viaControl: false, lockWaitMs: 10_000, requestTimeoutMs: apiRequestTimeoutMs(config.api.queryTimeoutS) });
    const client = s.client;
    if (opts.migrate ?? true) {
      const { migrateUp, applyRetention } = await import('../clickhouse/migrate.ts');
      const applied = await migrateUp(client);
      await applyRetention(client, config.clickhouse.retentionDays);
      // hype_predictions_mv predicts nothing until the shipped weights are in hype_model (idempotent);
      // before, only a replay's or import's refresh loaded them, so live-only runs never predicted
      const { loadHypeModel } = await load<typeof import('../analytics/hype-model.ts')>('analytics/hype-model.ts', 'loadHypeModel');
      await loadHypeModel(client);
      step(applied.length === 0 ? 'schema is up to date' : `applied ${applied.length} migration(s)`);
    }
    // Set once live ingest has started (at start, or when the API adds the first channel).
    let liveStage: LiveStage | null = null;
    if (embedded) {
      const { startControlServer } = await import('./control.ts');
      // `twichist status` asks here for what no table or NATS knows: the in-process queue and enrich's counters.
      // started_at: status does not call a followed channel without lifecycle rows a problem for the first minutes
      const startedAt = new Date().toISOString();
      const status = () => {
        const m = s.enrich?.metrics;
        return {
          started_at: startedAt,
          bus: s.bus ? { kind: s.bus.kind, queued: s.bus.queued?.() ?? null } : null,
          enrich: m ? { acked: m.busAcked, naked: m.busNaked, dead_letters: m.deadLetters, transient_failures: m.transientFailures } : null,
          ingest: liveStage?.connection() ?? null,
        };
      };
      const control = await startControlServer({ dataDir: config.dataDir, logger, status });
      s.control = { stop: () => control.close() };
      step(`control server on 127.0.0.1:${control.port} (twichist sql works from another terminal)`);
    }

    const bus = await openBus(config, logger);
    s.bus = bus;
    s.drain = bus.drain;
    step(bus.kind === 'jetstream' ? `bus: NATS JetStream at ${config.nats.url} (stream ${config.nats.stream})` : 'bus: in-process');
    // The API's live feed: JetStream messages reach core subscribers too; in-process, the runtime
    // hands each published batch to the feed (a few ms before it is stored).
    let live: LiveSource | null = null;
    let publisher = bus.publisher;
    if (opts.api ?? true) {
      const liveMod = await load<typeof import('../api/live.ts')>('api/live.ts', 'createInProcessLive');
      if (bus.nc) live = liveMod.createNatsLive(bus.nc, config.nats.subjectPrefix);
      else {
        const feed = liveMod.createInProcessLive();
        live = feed;
        publisher = teePublisher(bus.publisher, (events) => feed.emit(events));
      }
    }
    s.publisher = publisher;

    if (opts.enrich ?? true) {
      s.enrich = await stages.enrich({ config, logger, client, consumer: bus.consumer });
      step('enrich started');
    }

    let sourceDone: Promise<{ events: number }> = new Promise(() => {});
    const followed = new Set(config.twitch.channels);
    let kind: Runtime['source'];
    if (opts.source.kind === 'auto' || opts.source.kind === 'live') {
      for (const c of await stages.followedChannels(client)) followed.add(c);
      // Nothing to follow: `auto` replays; `live` waits for the API to add a channel.
      kind = followed.size > 0 ? 'live' : opts.source.kind === 'auto' ? 'replay' : 'none';
    } else kind = opts.source.kind;
    const startLive = () =>
      (s.live ??= stages.liveIngest({ config, logger, client, publisher, nc: bus.nc }).then((l) => {
        liveStage = l;
        return l;
      }));
    if (kind === 'live') {
      // Before the API, so the API can report and change the followed channels.
      await startLive();
      step(`archiving ${[...followed].sort().map((c) => '#' + c).join(', ')} live`);
    }
    // The API's handle on ingest. Without live ingest yet, the first channel added starts it. With
    // `none` asked for, ingest runs elsewhere and the API reaches it through the table and NATS.
    const ingest: IngestControl | null = opts.source.kind === 'none' ? null : {
      state: () => liveStage?.control.state() ?? {},
      setChannels: async (list) => {
        if (s.live === undefined && list.length === 0) return;
        const live = await startLive();
        await live.control.setChannels?.(list);
      },
    };

    let apiUrl: string | null = null;
    if (opts.api ?? true) {
      const api = await stages.api({ config, logger, client, live, enrich: s.enrich ?? null, ingest, nats: bus.nats });
      s.api = api;
      apiUrl = api.url;
      step(`API listening on ${api.url}`);
    }

    if (kind === 'replay' && (opts.source.kind === 'replay' || opts.source.kind === 'auto')) {
      s.source = await stages.replay({ config, logger, publisher, file: opts.source.file, speed: opts.source.speed, onProgress: opts.onProgress });
      sourceDone = s.source.done;
      step(`replaying ${path.basename(opts.source.file)} at ${opts.source.speed}x`);
    }
    // A failed source must not become an unhandled rejection; the command awaits it and reports it.
    sourceDone.catch(() => {});

    return {
      client,
      apiUrl,
      bus: bus.kind,
      source: kind,
      sourceDone,
      settled: async () => {
        await publisher.flush();
        await bus.drain();
        await s.enrich?.stored();
      },
      refreshDerived: async () => {
        const { refreshDerived } = await load<typeof import('../analytics/refresh.ts')>('analytics/refresh.ts', 'refreshDerived');
        // topics are computed in TypeScript by the enrich stage, not by a view
        await s.enrich?.refreshTopics();
        return refreshDerived(client, { signal: stopRefreshes.signal });
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

interface OpenBus extends Stage {
  kind: 'jetstream' | 'in-process';
  /** The NATS connection (JetStream), shared by publisher, consumer and the live ingestor's control subscription. */
  nc: NatsConnection | null;
  /** For the API's `/health`. */
  nats: NatsHealth | null;
  /** Bus messages queued or unacknowledged in the in-process bus; null for JetStream (its consumer info says). */
  queued: (() => number) | null;
  publisher: BusPublisher;
  consumer: BusConsumer;
  /**
   * Resolves when everything published so far has been consumed and acknowledged: the in-process
   * queue is empty, or the durable JetStream consumer has nothing pending (up to 60 s; the stream
   * keeps the rest for the next start).
   */
  drain(): Promise<void>;
}

async function openBus(config: Config, logger: Logger): Promise<OpenBus> {
  if (config.nats.url === null) {
    const { InProcessBus } = await import('./bus.ts');
    const bus = new InProcessBus();
    return {
      kind: 'in-process',
      nc: null,
      nats: null,
      queued: () => bus.depth,
      publisher: bus.publisher(),
      consumer: bus.consumer(),
      drain: () => bus.idle(),
      stop: async () => bus.close(),
    };
  }
  const js = await stages.jetstream({ config, logger });
  return { kind: 'jetstream', queued: null, ...js };
}

/**
 * Adapters to the stage modules (ingest/, enrich/, api/). Types are imported statically (erased at
 * run time); the code is loaded on first use, so a command that does not need a stage never pays
 * for loading it, and a stage missing from the tree is reported by name.
 */
const stages = {
  async enrich(o: { config: Config; logger: Logger; client: ClickHouseClient; consumer: BusConsumer }): Promise<EnrichStage> {
    const { startEnrich } = await load<typeof import('../enrich/index.ts')>('enrich/index.ts', 'startEnrich');
    return startEnrich({ config: o.config, logger: o.logger, client: o.client, consumer: o.consumer });
  },
  async api(o: { config: Config; logger: Logger; client: ClickHouseClient; live: LiveSource | null; enrich: EnrichStage | null; ingest: IngestControl | null; nats: NatsHealth | null }): Promise<Stage & { url: string }> {
    const { buildApp } = await load<typeof import('../api/app.ts')>('api/app.ts', 'buildApp');
    const { toPrometheus } = await import('../enrich/metrics.ts');
    const enrich = o.enrich;
    const app = await buildApp({
      config: o.config,
      logger: o.logger,
      client: o.client,
      live: o.live,
      ingest: o.ingest,
      metrics: enrich ? { toPrometheus: () => toPrometheus(enrich.metrics) } : null,
      nats: o.nats,
    });
    await app.listen({ host: o.config.api.host, port: o.config.api.port });
    const { port } = app.server.address() as { port: number };
    // A wildcard bind is reachable on loopback; print an address a browser can open.
    const host = o.config.api.host === '0.0.0.0' || o.config.api.host === '::' ? '127.0.0.1' : o.config.api.host;
    return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, stop: () => app.close() };
  },
  async jetstream(o: { config: Config; logger: Logger }): Promise<Stage & { publisher: BusPublisher; consumer: BusConsumer; nats: NatsHealth; nc: NatsConnection; drain(): Promise<void> }> {
    const { connectNats, ensureChatStream, JetStreamPublisher } = await load<typeof import('../ingest/jetstream.ts')>('ingest/jetstream.ts', 'connectNats');
    const { createJetStreamConsumer } = await load<typeof import('../enrich/consumer.ts')>('enrich/consumer.ts', 'createJetStreamConsumer');
    const nc = await connectNats(o.config.nats.url!, `twichist-up-${process.pid}`);
    try {
      await ensureChatStream(nc, o.config.nats);
      const publisher = new JetStreamPublisher({ nc, subjectPrefix: o.config.nats.subjectPrefix, logger: o.logger });
      const consumer = await createJetStreamConsumer({ config: o.config, logger: o.logger, connection: nc });
      return {
        publisher,
        consumer,
        nc,
        nats: { ping: () => nc.flush() },
        drain: () => consumerCaughtUp(nc, o.config, o.logger),
        // drain() sends the acks already written before the socket closes.
        stop: async () => {
          if (!nc.isClosed()) await nc.drain();
        },
      };
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  },
  /** Enabled, not removed rows of the `channels` table (channels added through the API). */
  async followedChannels(client: ClickHouseClient): Promise<string[]> {
    const { channelsFromClickHouse } = await load<typeof import('../ingest/live.ts')>('ingest/live.ts', 'channelsFromClickHouse');
    return channelsFromClickHouse(client)();
  },
  async liveIngest(o: { config: Config; logger: Logger; client: ClickHouseClient; publisher: BusPublisher; nc: NatsConnection | null }): Promise<LiveStage> {
    const { LiveIngestor, createOptOutFilter, channelsFromClickHouse } = await load<typeof import('../ingest/live.ts')>('ingest/live.ts', 'createOptOutFilter');
    const optOuts = createOptOutFilter(o.client, o.logger);
    await optOuts.refresh();
    const ingestor = new LiveIngestor({
      config: o.config,
      logger: o.logger.child({ stage: 'ingest' }),
      publisher: o.publisher,
      isOptedOut: optOuts.isOptedOut,
      // Channels added through the API (`channels` table) join without a restart.
      loadChannels: channelsFromClickHouse(o.client),
      nc: o.nc,
    });
    await ingestor.start();
    return {
      control: {
        state: () => {
          const joined = new Set(ingestor.joinedChannels);
          return Object.fromEntries(ingestor.channels.map((c) => [c, joined.has(c) ? 'joined' : 'joining'] as const));
        },
        setChannels: (list) => ingestor.setChannels(list),
      },
      connection: () => ingestor.connection,
      stop: async () => {
        await ingestor.stop();
        optOuts.stop();
      },
    };
  },
  /**
   * Replays a chat file through the bus, paced by its own timestamps divided by `speed`. Events keep
   * the recording's times and ids, so replaying twice stores nothing twice. The file is read twice:
   * once to count events (progress and ETA; ~50 ms for the bundled sample), once to publish.
   */
  async replay(o: { config: Config; logger: Logger; publisher: BusPublisher; file: string; speed: number; onProgress?: (done: number, total: number | null) => void }): Promise<SourceStage> {
    const { importFile } = await load<typeof import('../ingest/importers/index.ts')>('ingest/importers/index.ts', 'importFile');
    const { MicroBatcher } = await load<typeof import('../ingest/jetstream.ts')>('ingest/jetstream.ts', 'MicroBatcher');
    const { createPacer } = await load<typeof import('../ingest/pace.ts')>('ingest/pace.ts', 'createPacer');
    const log = o.logger.child({ stage: 'replay' });
    let total = 0;
    await importFile(o.file, () => void total++, { source: 'replay' });
    const batcher = new MicroBatcher({ publisher: o.publisher, onError: (err, channel, events) => log.error({ err: String(err), channel, events: events.length }, 'bus publish failed; events lost') });
    const stopped = new AbortController();
    const halt = new Error('replay stopped');
    let published = 0;
    let lastReport = 0;
    const report = (force: boolean) => {
      const now = performance.now();
      // A progress line per event would cost more than the replay at high speeds; 5 per second is enough.
      if (!force && now - lastReport < 200) return;
      lastReport = now;
      o.onProgress?.(published, total);
    };
    const done = (async () => {
      const pace = createPacer(o.speed, stopped.signal);
      try {
        await importFile(
          o.file,
          async (e) => {
            if (stopped.signal.aborted) throw halt;
            await pace(e.ts);
            if (stopped.signal.aborted) throw halt;
            const p = batcher.push(e);
            if (p !== undefined) await p;
            published++;
            report(false);
          },
          { source: 'replay', onReject: (r) => log.warn({ source: r.source, reason: r.reason }, 'replay: record rejected') },
        );
      } catch (err) {
        if (err !== halt) throw err;
      } finally {
        await batcher.close();
      }
      report(true);
      return { events: published };
    })();
    return {
      done,
      stop: async () => {
        stopped.abort();
        await done.catch(() => {});
      },
    };
  },
};

/**
 * Waits until the durable consumer has nothing pending and nothing unacknowledged: everything in the
 * stream is stored (enrich acks after the insert). Gives up after `timeoutMs` with a warning: the
 * stream keeps what is left, so a later start stores it; nothing is lost, only later.
 */
async function consumerCaughtUp(nc: NatsConnection, config: Config, logger: Logger, timeoutMs = 60_000): Promise<void> {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await jsm.consumers.info(config.nats.stream, config.nats.consumer);
    if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    if (Date.now() > deadline) {
      logger.warn({ pending: info.num_pending, unacked: info.num_ack_pending }, 'the enrich consumer has not caught up; the stream keeps the rest for the next start');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A publisher that also hands each accepted batch to `onPublished` (the API's in-process live feed). */
function teePublisher(inner: BusPublisher, onPublished: (events: ChatEvent[]) => void): BusPublisher {
  return {
    publish: async (channel, events) => {
      await inner.publish(channel, events);
      onPublished(events);
    },
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
}


/** Thrown when a stage module this runtime needs is not in the tree (or lacks its entry point). */
export class MissingStageError extends Error {
  constructor(file: string, entry: string, detail?: string) {
    super(`${file} (${entry}) is not available in this build${detail ? `: ${detail}` : ''}`);
    this.name = 'MissingStageError';
  }
}

async function load<T>(rel: string, entry: string): Promise<T> {
  const url = new URL(`../${rel}`, import.meta.url);
  if (!fs.existsSync(url)) throw new MissingStageError(rel, entry);
  const mod = (await import(url.href)) as Record<string, unknown>;
  if (typeof mod[entry] !== 'function') throw new MissingStageError(rel, entry, `it does not export ${entry}()`);
  return mod as T;
}
