/**
 * The one place that reads `process.env`. Parsed once at start-up and passed down; a bad value stops
 * start-up with the setting's name and the fix (see {@link ConfigError}), never a stack trace.
 */
import path from 'node:path';
import { z } from 'zod';
import { CHANNEL_LOGIN, splitChannels } from './channels.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === undefined || v === '' ? null : v))
    .refine((v) => {
      if (v === null) return true;
      // NATS accepts a comma-separated list of servers.
      return v.split(',').every((part) => {
        try {
          return protocols.includes(new URL(part.trim()).protocol);
        } catch {
          return false;
        }
      });
    }, { message: `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}` });

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier (letters, digits, _)');

const channelList = z
  .string()
  .optional()
  .transform((v) => splitChannels(v ?? ''))
  .refine((list) => list.every((c) => CHANNEL_LOGIN.test(c)), { message: 'must be Twitch logins (a-z, 0-9, _), comma separated' });

/** Default and longest `INGEST_ALIVE_S`; grafana/build/alerts.ts derives the "Ingest stalled" threshold from it. */
export const INGEST_ALIVE_DEFAULT_S = 120;
/**
 * Heartbeat periods without a heartbeat or stored chat after which a followed channel's ingest counts as
 * stalled (Grafana's "Ingest stalled", the API's `ingest_state: 'stalled'`): one missed beat (a reconnect, an
 * ingestor restart: twurple's backoff reaches 120 s) is not a stall.
 */
export const INGEST_STALLED_PERIODS = 3;
/** The stall threshold itself, seconds: read by the alert (minutes) and the API (ms), so they cannot disagree. */
export const INGEST_STALLED_S = INGEST_STALLED_PERIODS * INGEST_ALIVE_DEFAULT_S;

/**
 * A number variable that is set. z.coerce.number() alone reads a blank value as 0, so `API_PORT=` bound
 * a random port and `API_QUERY_TIMEOUT_S=` lifted the query limit, where every other blank variable
 * stops start-up.
 */
const envNumber = <T extends z.ZodType<number>>(inner: T) =>
  z.preprocess((v, ctx) => {
    if (typeof v !== 'string' || v.trim() !== '') return v;
    ctx.issues.push({ code: 'custom', message: 'is empty: set a number', input: v });
    return z.NEVER;
  }, inner);

const positiveInt = (def: number) => envNumber(z.coerce.number().int().positive()).default(def);

/** Every setting, with the environment variable it comes from. */
export const envSchema = z.object({
  TWICHIST_DATA_DIR: z.string().min(1).default('./data'),
  CLICKHOUSE_URL: optionalUrl(['http:', 'https:']),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: identifier.default('twichist'),
  /** Optional retention for raw chat tables, in days; 0 keeps everything. */
  TWICHIST_RETENTION_DAYS: envNumber(z.coerce.number().int().min(0)).default(0),
  NATS_URL: optionalUrl(['nats:', 'tls:', 'ws:', 'wss:']),
  NATS_STREAM: identifier.default('TWICHIST_CHAT'),
  NATS_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated NATS tokens').default('twichist'),
  NATS_CONSUMER: identifier.default('enrich'),
  /** JetStream duplicate window in seconds: how long a re-published event id is recognised. */
  NATS_DUPLICATE_WINDOW_S: positiveInt(600),
  TWITCH_CHANNELS: channelList,
  TWITCH_CLIENT_ID: z.string().optional().transform((v) => v || null),
  TWITCH_CLIENT_SECRET: z.string().optional().transform((v) => v || null),
  /** JSON file holding the OAuth token; refreshed tokens are written back to it. */
  TWITCH_TOKEN_FILE: z.string().optional().transform((v) => v || null),
  /** Override of the Twitch IRC host, for the local test server. */
  TWITCH_IRC_HOST: z.string().optional().transform((v) => v || null),
  TWITCH_IRC_SSL: bool.default(true),
  /**
   * Seconds between the live ingestor's `alive` heartbeats (one `ingest_events` row per joined channel,
   * sent only while the IRC connection has received a line within twurple's PING check: 60 s of silence
   * + 10 s for the PONG). Grafana's "Ingest stalled" pages when a followed channel has had neither one
   * nor a stored message for 3 default periods, so a longer period is refused rather than paging for
   * every quiet channel; a shorter one (tests) costs rows. Cost: 720 rows a day per channel at 120 s.
   */
  INGEST_ALIVE_S: envNumber(z.coerce.number().min(0.1, 'at least 0.1: every period writes a row per joined channel').max(INGEST_ALIVE_DEFAULT_S, `at most ${INGEST_ALIVE_DEFAULT_S}: the "Ingest stalled" alert expects a heartbeat at least that often`)).default(INGEST_ALIVE_DEFAULT_S),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: envNumber(z.coerce.number().int().min(0).max(65535)).default(3000),
  /** Longest one API read may run in ClickHouse (max_execution_time), seconds; 0 = no limit. */
  API_QUERY_TIMEOUT_S: envNumber(z.coerce.number().min(0).max(3600)).default(30),
  TWICHIST_API_TOKEN: z.string().optional().transform((v) => v || null),
  TWICHIST_MODELS_DIR: z.string().optional().transform((v) => v || null),
  /** Allow `twichist models pull` and emote set refreshes to reach the internet. */
  TWICHIST_ONLINE: bool.default(true),
  TWICHIST_MODELS_BASE_URL: z.string().url().default('https://huggingface.co'),
  /**
   * A JSON file `{ "emoteName": score, ... }` (score -1..1) overriding the built-in emote sentiment
   * lexicon, e.g. a channel's own emotes; read by enrich at start (a bad file stops it).
   */
  TWICHIST_EMOTE_SCORES: z.string().optional().transform((v) => v || null),
  /** Emote sets (7TV/BTTV/FFZ JSON files) to load offline, comma separated. */
  TWICHIST_EMOTE_FILES: z.string().optional().transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)),
  /**
   * Events that flush the write buffer at once; under a backlog a flush takes everything queued, up to
   * 4x this (group commit). Large inserts are what keeps up: each insert makes a part in `messages`
   * and in every rollup below it, and those parts are merged later, so ClickHouse's cost per event
   * falls with the batch (`node bench/enrich.ts --batch N`: ~88 us of CPU per event at 5,000, ~67-80
   * at 20,000). Memory under a backlog: up to 80,000 events queued. At low rates ENRICH_FLUSH_MS
   * decides and batches stay small.
   */
  ENRICH_BATCH_SIZE: positiveInt(20000),
  /** Longest an event waits in the write buffer before its batch is inserted. */
  ENRICH_FLUSH_MS: positiveInt(250),
  /**
   * Seconds between the enrich stage's topic refreshes: each recomputes the 5-minute windows it stored
   * messages in since the last one (with 30 minutes before them as the keywords' contrast) and writes
   * `topics` and `message_topics` (inserts and lightweight deletes; `messages` is never mutated, its
   * `topic_id` column is deprecated and no longer written). 0 turns it off.
   */
  TOPICS_INTERVAL_S: envNumber(z.coerce.number().int().min(0)).default(300),
  /**
   * `twichist enrich` (the stage alone, as compose runs it) serves its Prometheus metrics at
   * `http://ENRICH_METRICS_HOST:ENRICH_METRICS_PORT/metrics`; 0 = off. In `twichist up` they are on the
   * API's /metrics.
   */
  ENRICH_METRICS_HOST: z.string().default('127.0.0.1'),
  ENRICH_METRICS_PORT: envNumber(z.coerce.number().int().min(0).max(65535)).default(9464),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  dataDir: string;
  clickhouse: { url: string | null; user: string; password: string; database: string; embeddedPath: string; retentionDays: number };
  nats: { url: string | null; stream: string; subjectPrefix: string; consumer: string; duplicateWindowMs: number };
  twitch: { channels: string[]; clientId: string | null; clientSecret: string | null; tokenFile: string | null; ircHost: string | null; ircSsl: boolean; aliveMs: number };
  api: { host: string; port: number; token: string | null; queryTimeoutS: number };
  models: { dir: string; online: boolean; baseUrl: string };
  emotes: { files: string[]; cacheDir: string; scoresFile: string | null };
  enrich: { batchSize: number; flushMs: number; topicsIntervalMs: number; metricsHost: string; metricsPort: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

/** A setting is wrong; the message names it and says how to fix it. */
export class ConfigError extends Error {
  readonly issues: Array<{ setting: string; problem: string }>;
  constructor(issues: Array<{ setting: string; problem: string }>) {
    super(issues.map((i) => `${i.setting}: ${i.problem}`).join('; '));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Parses the environment (or a given record, for tests) into a {@link Config}.
 * @param env defaults to `process.env`; tests pass their own record instead of mutating the process.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({
        setting: String(i.path[0] ?? 'environment'),
        problem: `${i.message} (got ${JSON.stringify(env[String(i.path[0])] ?? null)}); fix the variable or unset it to use the default`,
      })),
    );
  }
  const e = parsed.data;
  if ((e.TWITCH_CLIENT_ID === null) !== (e.TWITCH_CLIENT_SECRET === null)) {
    throw new ConfigError([{ setting: 'TWITCH_CLIENT_ID', problem: 'TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET must be set together (or both unset for anonymous read-only chat)' }]);
  }
  const dataDir = path.resolve(e.TWICHIST_DATA_DIR);
  return {
    dataDir,
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      user: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      embeddedPath: path.join(dataDir, 'clickhouse'),
      retentionDays: e.TWICHIST_RETENTION_DAYS,
    },
    nats: {
      url: e.NATS_URL,
      stream: e.NATS_STREAM,
      subjectPrefix: e.NATS_SUBJECT_PREFIX,
      consumer: e.NATS_CONSUMER,
      duplicateWindowMs: e.NATS_DUPLICATE_WINDOW_S * 1000,
    },
    twitch: {
      channels: [...new Set(e.TWITCH_CHANNELS)],
      clientId: e.TWITCH_CLIENT_ID,
      clientSecret: e.TWITCH_CLIENT_SECRET,
      tokenFile: e.TWITCH_TOKEN_FILE,
      ircHost: e.TWITCH_IRC_HOST,
      ircSsl: e.TWITCH_IRC_SSL,
      aliveMs: e.INGEST_ALIVE_S * 1000,
    },
    api: { host: e.API_HOST, port: e.API_PORT, token: e.TWICHIST_API_TOKEN, queryTimeoutS: e.API_QUERY_TIMEOUT_S },
    models: { dir: e.TWICHIST_MODELS_DIR ? path.resolve(e.TWICHIST_MODELS_DIR) : path.join(dataDir, 'models'), online: e.TWICHIST_ONLINE, baseUrl: e.TWICHIST_MODELS_BASE_URL },
    emotes: { files: e.TWICHIST_EMOTE_FILES.map((f) => path.resolve(f)), cacheDir: path.join(dataDir, 'emotes'), scoresFile: e.TWICHIST_EMOTE_SCORES ? path.resolve(e.TWICHIST_EMOTE_SCORES) : null },
    enrich: { batchSize: e.ENRICH_BATCH_SIZE, flushMs: e.ENRICH_FLUSH_MS, topicsIntervalMs: e.TOPICS_INTERVAL_S * 1000, metricsHost: e.ENRICH_METRICS_HOST, metricsPort: e.ENRICH_METRICS_PORT },
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * Topic window length: enrich computes topics per channel and 5-minute window (`topics`, `message_topics`
 * keyed by the window's start), and the API finds a message's topic by its window. Here because both
 * stages need it and the API must not load enrich's topic code.
 */
export const TOPIC_WINDOW_MS = 300_000;
