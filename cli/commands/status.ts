/**
 * `twichist status`: whether Twichist is healthy, for the single process (`twichist up`, embedded
 * ClickHouse, reached through its control server) and for the full stack (CLICKHOUSE_URL + NATS_URL).
 * It reads and never writes: no database, ledger or folder is created. Every dependency gets a short time
 * limit and its failure is reported rather than waited for, so the command answers when things are down.
 */
import fs from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { listChannels } from '../../api/routes/channels.ts';
import { rows } from '../../api/db.ts';
import { appliedMigrations, listMigrations } from '../../clickhouse/migrate.ts';
import { viewRefreshStates, type ViewRefreshState } from '../../analytics/refresh.ts';
import { CH_ERROR, clickHouseCode, closeEmbedded, createClickHouse, type ClickHouseClient } from '../../core/clickhouse.ts';
import { INGEST_STALLED_S, type Config } from '../../core/config.ts';
import { CONTROL_ANSWER_MS, controlStatus, type ProcessReport } from '../../core/control.ts';
import { listModels } from '../../enrich/models/pull.ts';
import { DEFAULT_MODELS } from '../../enrich/models/manifest.ts';
import { RAW_TABLES } from '../../enrich/rows.ts';
import { defaultJournalDir, journalEntries } from '../../enrich/store.ts';
import { isNotFound } from '../../ingest/jetstream.ts';
import type { IrcConnectionState } from '../../ingest/live.ts';
import { parseArgs, type Command } from '../command.ts';
import { describeError } from '../errors.ts';
import { noSchemaHint } from './sql.ts';

/** Limit of each network call (ClickHouse HTTP request, NATS connect and each JetStream request). */
const NETWORK_TIMEOUT_MS = 3000;
/**
 * Limit of all ClickHouse reads together. Longer than one request: through a busy `up`'s control server the
 * reads may wait for a connection or behind other parameterized queries (chdb runs those one at a time).
 */
const CLICKHOUSE_TIMEOUT_MS = 10_000;

const STORAGE_TABLES = [...RAW_TABLES, 'dead_letters'];

/**
 * A refreshable view whose last success is older than this many of its periods is late: a healthy one is
 * at most one period plus its refresh's duration old. Checked once the engine has run this long, so a start
 * (whose first refreshes of a big archive take minutes) is not called late before it could have refreshed.
 * The burst alerts read burst_windows with noDataState OK: a view that stopped refreshing makes them silent,
 * and this is where it shows.
 */
export const VIEW_LATE_PERIODS = 3;

/**
 * How long after a fresh start a followed channel without any `ingest_events` row is not yet a problem: the
 * stall allowance (3 heartbeat periods, 6 min), ample for the ingestor to connect and enrich to store its
 * first rows (seconds), as the stall rule allows a restart before calling a channel stalled. A fresh start is
 * the serving `up`'s start, the database's first migration (a new full stack) or the channel's `added_at`.
 */
const NOT_JOINED_GRACE_MS = INGEST_STALLED_S * 1000;

/**
 * Rows per table from the parts' metadata: no data is read, where `count()` would open every part. Exact
 * for these MergeTree tables (every raw row is stored once, and opt-out deletes rewrite the parts).
 */
const PART_ROWS_SQL = 'SELECT table, toUInt64(sum(rows)) AS n FROM system.parts WHERE active AND database = currentDatabase() AND table IN {tables:Array(String)} GROUP BY table';

interface ChannelStatus {
  login: string;
  enabled: boolean;
  /** No ingestor has connected with it (no `ingest_events` row) and no fresh start explains that: a problem. */
  not_joined: boolean;
  /** As the API's `ingest_state`. */
  ingest_state: string | null;
  /** Type of the channel's latest `ingest_events` row: `alive` is the heartbeat of a joined ingestor. */
  last_ingest_event: string | null;
  /** Time of that row: the last heartbeat while the channel is joined. */
  last_heartbeat_at: string | null;
  last_message_at: string | null;
}

interface ClickHouseStatus {
  /** Where: the server URL, or the embedded folder. */
  at: string;
  /** Why nothing below could be read (unreachable, no schema), else null. */
  error: string | null;
  channels: ChannelStatus[];
  rows: Record<string, number> | null;
  dead_letters: number | null;
  migrations: { applied: number; shipped: number; pending: string[]; unknown: number[] } | null;
  /**
   * Refreshable views as the engine that refreshes them reports them (a serving twichist process, or the
   * ClickHouse server); null when nothing refreshes them (no process serves the folder: the state would be
   * of status's own engine, which has refreshed nothing) or ClickHouse could not be read.
   */
  views: { engine_uptime_s: number; list: ViewRefreshState[] } | null;
}

type BusStatus =
  | { kind: 'jetstream'; url: string; stream: string; consumer: string; messages: number | null; num_pending: number | null; num_ack_pending: number | null; redelivered: number | null; error: string | null }
  | { kind: 'in-process'; pid: number | null; queued: number | null };

export interface Status {
  healthy: boolean;
  /** One line per problem; empty when healthy. */
  problems: string[];
  data_dir: string;
  /** The twichist process serving the embedded database and what it reports about itself, or null when none runs. */
  process: { pid: number; report: ProcessReport | null; busy: boolean } | null;
  clickhouse: ClickHouseStatus;
  bus: BusStatus;
  journal: { dir: string; pending: number };
  models: { dir: string; installed: Array<{ id: string; task: string | null; status: string }>; not_installed: string[] };
}

const firstLine = (err: unknown): string => describeError(err).split('\n')[0] || 'an error without a message';

function timeLimit<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function readClickHouse(config: Config, serving: Status['process'], now: number): Promise<ClickHouseStatus> {
  const { url, embeddedPath } = config.clickhouse;
  const served = serving !== null;
  const out: ClickHouseStatus = { at: url ?? embeddedPath, error: null, channels: [], rows: null, dead_letters: null, migrations: null, views: null };
  // Opening the folder under a live holder fails on its lock: say it is busy instead.
  if (serving?.busy) return { ...out, error: `twichist pid ${serving.pid} holds the data folder but did not answer within ${CONTROL_ANSWER_MS / 1000} s (busy with a long query?); run \`twichist status\` again` };
  // Opening a folder that is not there would create an empty database: say so instead.
  if (url === null && !served && !fs.existsSync(embeddedPath)) return { ...out, error: noSchemaHint(config) };
  let client: ClickHouseClient | null = null;
  try {
    client = await createClickHouse(config, { createDatabase: false, requestTimeoutMs: NETWORK_TIMEOUT_MS });
    const startedAt = serving?.report?.started_at;
    // the engine that refreshes the views: the serving process's, or the server (whatever else runs)
    const refreshing = url !== null || served;
    return await timeLimit(readTables(client, config, out, typeof startedAt === 'string' ? Date.parse(startedAt) : null, now, refreshing), CLICKHOUSE_TIMEOUT_MS, 'ClickHouse');
  } catch (err) {
    const code = clickHouseCode(err);
    if (code === CH_ERROR.UNKNOWN_DATABASE || code === CH_ERROR.UNKNOWN_TABLE) return { ...out, error: noSchemaHint(config) };
    return { ...out, error: `ClickHouse (${out.at}) cannot be read: ${firstLine(err)}` };
  } finally {
    await client?.close();
    // Opened here (nothing served the folder): let its lock go now, not at exit, for an `up` starting meanwhile
    // (it also waits up to 10 s for the lock). Held ~0.5-2 s: the engine's start and the reads.
    if (url === null && !served) await closeEmbedded();
  }
}

async function readTables(client: ClickHouseClient, config: Config, out: ClickHouseStatus, upStartedMs: number | null, now: number, refreshing: boolean): Promise<ClickHouseStatus> {
  const applied = await appliedMigrations(client, { readOnly: true });
  const [{ first_ms }] = await rows<{ first_ms: number | null }>(client, 'SELECT if(count() = 0, NULL, toUnixTimestamp64Milli(min(at))) AS first_ms FROM schema_migrations');
  const freshSince = Math.max(upStartedMs ?? 0, Number(first_ms ?? 0));
  const shipped = listMigrations();
  const done = new Set(applied.map((a) => a.version));
  const known = new Set(shipped.map((m) => m.version));
  const [parts, { channels, latest }, views] = await Promise.all([
    rows<{ table: string; n: number }>(client, PART_ROWS_SQL, { tables: STORAGE_TABLES }),
    listChannels(client, null, config.twitch.channels),
    refreshing ? viewRefreshStates(client) : null,
  ]);
  const counts = Object.fromEntries(STORAGE_TABLES.map((t) => [t, Number(parts.find((p) => p.table === t)?.n ?? 0)]));
  return {
    ...out,
    // the `channels` table (the API's list) and this environment's TWITCH_CHANNELS; not channels with imported history only
    channels: channels
      .filter((c) => c.configured || c.followed)
      .map((c) => {
        const l = latest.get(c.login);
        const since = Math.max(freshSince, c.added_at === null ? 0 : Date.parse(c.added_at));
        return {
          login: c.login,
          enabled: c.enabled,
          not_joined: c.followed && l === undefined && now - since > NOT_JOINED_GRACE_MS,
          ingest_state: c.ingest_state,
          last_ingest_event: l?.event ?? null,
          last_heartbeat_at: l ? new Date(Number(l.last_ms)).toISOString() : null,
          last_message_at: c.last_message_at,
        };
      }),
    rows: counts,
    dead_letters: counts.dead_letters,
    migrations: {
      applied: applied.length,
      shipped: shipped.length,
      pending: shipped.filter((m) => !done.has(m.version)).map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`),
      unknown: [...done].filter((v) => !known.has(v)),
    },
    views: views === null ? null : { engine_uptime_s: views.engine_uptime_s, list: views.views },
  };
}

async function readNats(nats: Config['nats']): Promise<BusStatus> {
  const out = { kind: 'jetstream' as const, url: nats.url!, stream: nats.stream, consumer: nats.consumer, messages: null, num_pending: null, num_ack_pending: null, redelivered: null, error: null };
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({ servers: nats.url!.split(',').map((s) => s.trim()), name: `twichist-status-${process.pid}`, timeout: NETWORK_TIMEOUT_MS, reconnect: false, maxReconnectAttempts: 0 });
  } catch (err) {
    return { ...out, error: `cannot reach NATS at ${nats.url} (${(err as Error).message})` };
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: NETWORK_TIMEOUT_MS });
    const stream = await jsm.streams.info(nats.stream).catch((err: unknown) => {
      if (isNotFound(err)) throw new Error(`no stream ${nats.stream}: no twichist ingest, enrich or up has run with this NATS_URL and NATS_STREAM`);
      throw err;
    });
    const withStream = { ...out, messages: stream.state.messages };
    const consumer = await jsm.consumers.info(nats.stream, nats.consumer).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (consumer === null) return { ...withStream, error: `no durable consumer ${nats.consumer} on stream ${nats.stream}: no twichist enrich has consumed it, so nothing published is stored` };
    return { ...withStream, num_pending: consumer.num_pending, num_ack_pending: consumer.num_ack_pending, redelivered: consumer.num_redelivered };
  } catch (err) {
    return { ...out, error: `NATS at ${nats.url}: ${(err as Error).message}` };
  } finally {
    await nc.close().catch(() => {});
  }
}

async function readModels(dir: string): Promise<Status['models']> {
  const models = await listModels(dir);
  return {
    dir,
    installed: models.map((m) => ({ id: m.id, task: m.task, status: m.status })),
    // as `twichist models list` says it: a default model with no complete folder
    not_installed: DEFAULT_MODELS.filter((d) => !models.some((m) => m.id === d.id && m.status !== 'incomplete')).map((d) => d.id),
  };
}

const duration = (s: number): string => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`);

const ago = (iso: string | null, now: number): string => {
  if (iso === null) return 'never';
  return `${iso} (${duration(Math.max(0, Math.round((now - Date.parse(iso)) / 1000)))} ago)`;
};

/**
 * The problem of a refreshable view, or null: its last refresh failed, or (once the engine has run
 * {@link VIEW_LATE_PERIODS} periods) its last success is older than that. Ages are by the engine's clock.
 */
export function viewProblem(v: ViewRefreshState, engineUptimeS: number): string | null {
  const success = v.last_success_age_s === null ? 'never succeeded' : `last success ${duration(v.last_success_age_s)} ago`;
  const what = `view ${v.view} (refreshes ${v.target ?? 'its table'}${v.period_s === null ? '' : ` every ${duration(v.period_s)}`})`;
  const read = '`twichist analytics views`, system.view_refreshes';
  if (v.error !== null) return `${what}: last refresh failed${v.last_refresh_at === null ? '' : ` at ${v.last_refresh_at}`}, ${success}: ${v.error} (${read})`;
  if (v.period_s === null) return null;
  const late = VIEW_LATE_PERIODS * v.period_s;
  if (engineUptimeS <= late || (v.last_success_age_s !== null && v.last_success_age_s <= late)) return null;
  const doing = v.status === 'Running' ? 'refreshing now' : v.status === 'Disabled' ? 'stopped (SYSTEM STOP VIEW)' : `status ${v.status || 'unknown'}`;
  return `${what}: ${v.last_success_age_s === null ? `no successful refresh in the ${duration(engineUptimeS)} the engine has run` : success}, over ${VIEW_LATE_PERIODS} periods; ${doing} (${read})`;
}

/** The serving process's live IRC connection (`up` once live ingest started, `ingest`), else null. */
const ircOf = (s: Pick<Status, 'process'>): IrcConnectionState | null => (s.process?.report?.ingest ?? null) as IrcConnectionState | null;

/** The problems of a status, one line each (what is wrong and what to do). */
export function problemsOf(s: Omit<Status, 'healthy' | 'problems'>, now = Date.now()): string[] {
  const out: string[] = [];
  const ch = s.clickhouse;
  if (ch.error !== null) out.push(ch.error);
  const irc = ircOf(s);
  // No live chat is received meanwhile; the error tells DNS or network (ENOTFOUND) from a wrong TWITCH_IRC_HOST (ECONNREFUSED) or a bad token.
  if (irc !== null && !irc.connected && irc.last_error !== null) out.push(`Twitch IRC: not connected, retrying since ${ago(irc.retrying_since, now)}: ${irc.last_error}`);
  if (ch.migrations && ch.migrations.pending.length > 0) out.push(`migrations: ${ch.migrations.pending.length} of ${ch.migrations.shipped} pending (${ch.migrations.pending.join(', ')}); run \`twichist migrate\` (up, enrich and api apply them at start)`);
  if (ch.migrations && ch.migrations.unknown.length > 0) out.push(`migrations: the database has ${ch.migrations.unknown.join(', ')}, which this twichist does not ship: a newer version migrated it`);
  for (const v of ch.views?.list ?? []) {
    const p = viewProblem(v, ch.views!.engine_uptime_s);
    if (p !== null) out.push(p);
  }
  if ((ch.dead_letters ?? 0) > 0) out.push(`dead letters: ${ch.dead_letters} event(s) could not be stored; read them with \`twichist sql "SELECT ts, stage, source, reason FROM dead_letters ORDER BY ts DESC LIMIT 20"\``);
  for (const c of ch.channels) {
    // parted while enabled: Twitch refused the join or parted the channel, so its chat is not received
    if (c.ingest_state === 'stalled' || (c.ingest_state === 'parted' && c.enabled)) {
      out.push(`channel #${c.login}: ingest ${c.ingest_state}, last ingest event ${c.last_ingest_event ?? 'none'} at ${c.last_heartbeat_at ?? 'never'} (ingest_events says why; the Overview dashboard's "Followed channels" too)`);
    } else if (c.not_joined) {
      out.push(`channel #${c.login}: not joined yet: no ingest event for it at all, so no ingestor has connected with it (is \`twichist ingest\` or \`up\` running with it in TWITCH_CHANNELS or the channels table?)`);
    }
  }
  if (s.bus.kind === 'jetstream' && s.bus.error !== null) out.push(s.bus.error);
  for (const m of s.models.installed) if (m.status === 'mismatch') out.push(`model ${m.id}: its files do not match what was pulled; run \`twichist models pull --force ${m.id}\``);
  return out;
}

export function formatStatus(s: Status, now = Date.now()): string {
  const lines = [`twichist status: data in ${s.data_dir}`];
  const ch = s.clickhouse;
  lines.push(`ClickHouse  ${ch.at}${s.process ? `, ${s.process.busy ? 'held by busy' : 'served by'} twichist pid ${s.process.pid}` : ''}${ch.error === null ? '' : ': not readable'}`);
  lines.push(`channels    ${ch.channels.length === 0 ? (ch.error === null ? 'none followed' : '?') : `${ch.channels.length} followed`}`);
  for (const c of ch.channels) {
    lines.push(`  #${c.login.padEnd(25)} ${(c.ingest_state ?? (c.not_joined ? 'not joined' : 'unknown')).padEnd(8)}  last heartbeat ${ago(c.last_heartbeat_at, now)}${c.last_ingest_event && c.last_ingest_event !== 'alive' ? ` [${c.last_ingest_event}]` : ''}  last message ${ago(c.last_message_at, now)}`);
  }
  const b = s.bus;
  if (b.kind === 'jetstream') {
    lines.push(`bus         NATS JetStream ${b.url}, stream ${b.stream}: ${b.messages ?? '?'} messages; consumer ${b.consumer}: ${b.num_pending ?? '?'} pending, ${b.num_ack_pending ?? '?'} unacknowledged, ${b.redelivered ?? '?'} redelivered`);
  } else {
    // only a process on the embedded database serves a control server to ask
    const alone = ch.at.includes('://') ? 'with CLICKHOUSE_URL no process serves a control server to ask' : 'no twichist process runs on this data folder';
    lines.push(`bus         in-process${b.pid === null ? ` (${alone})` : s.process?.busy ? `, twichist pid ${b.pid}: busy, did not answer` : `, twichist pid ${b.pid}: ${b.queued ?? '?'} bus messages queued or unacknowledged`}`);
  }
  const irc = ircOf(s);
  // last_error starts with the target
  if (irc !== null) lines.push(`ingest      Twitch IRC ${irc.connected ? `${irc.target}: connected` : irc.last_error === null ? `${irc.target}: connecting` : `not connected since ${ago(irc.retrying_since, now)}: ${irc.last_error}`}`);
  if (ch.rows) lines.push(`storage     ${Object.entries(ch.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  if (ch.migrations) lines.push(`            migrations: ${ch.migrations.applied} applied of ${ch.migrations.shipped} shipped`);
  lines.push(`            enrich journal: ${s.journal.pending} insert(s) pending in ${s.journal.dir}`);
  if (ch.views !== null) {
    const bad = ch.views.list.filter((v) => viewProblem(v, ch.views!.engine_uptime_s) !== null).length;
    lines.push(`views       ${ch.views.list.length} refreshable: ${bad === 0 ? `none failing or over ${VIEW_LATE_PERIODS} periods late` : `${bad} failing or late`} (refreshed by ${s.process ? `twichist pid ${s.process.pid}` : 'the ClickHouse server'}, up ${duration(ch.views.engine_uptime_s)})`);
  } else if (ch.error === null) {
    lines.push('views       not checked: no twichist process runs on this data folder, and only one (up, enrich, api, ingest) refreshes them');
  }
  const m = s.models;
  lines.push(`models      ${m.installed.length === 0 ? 'none installed' : m.installed.map((x) => `${x.id} (${x.task ?? '?'}, ${x.status})`).join(', ')} in ${m.dir}${m.not_installed.length > 0 ? `; not installed: ${m.not_installed.join(', ')}` : ''}`);
  lines.push(s.healthy ? 'healthy' : `${s.problems.length} problem(s):`, ...s.problems.map((p) => `  ${p}`));
  return lines.join('\n') + '\n';
}

export const command: Command = {
  name: 'status',
  summary: 'Say whether Twichist is healthy: followed channels, bus, storage, derived views, models; exit 1 naming each problem',
  usage: 'twichist status [--json]',
  options: [{ flag: '--json', description: 'print the same facts as one JSON object (problems in `problems`, `healthy` true or false)' }],
  examples: [
    'twichist status',
    'twichist status --json',
    'TWICHIST_DATA_DIR=/srv/twichist twichist status',
    'CLICKHOUSE_URL=http://127.0.0.1:8123 NATS_URL=nats://127.0.0.1:4222 twichist status',
    'twichist status > /dev/null || echo "Twichist needs a look"',
  ],
  async run(args, ctx) {
    const { flags } = parseArgs(args, { json: 'boolean' });
    const config = ctx.config();
    // connectControl's allowance (CONTROL_ANSWER_MS), not NETWORK_TIMEOUT_MS: a busy holder's JS thread answers late
    const serving = config.clickhouse.url === null ? await controlStatus(config.dataDir) : null;
    const [clickhouse, nats, models] = await Promise.all([
      readClickHouse(config, serving, Date.now()),
      config.nats.url === null ? null : readNats(config.nats),
      readModels(config.models.dir),
    ]);
    const report = serving?.report as { bus?: { queued?: number | null } | null } | null | undefined;
    const journalDir = defaultJournalDir(config);
    const facts = {
      data_dir: config.dataDir,
      process: serving,
      clickhouse,
      bus: nats ?? { kind: 'in-process' as const, pid: serving?.pid ?? null, queued: report?.bus?.queued ?? null },
      journal: { dir: journalDir, pending: journalEntries(journalDir).length },
      models,
    };
    const problems = problemsOf(facts);
    const status: Status = { healthy: problems.length === 0, problems, ...facts };
    ctx.stdout.write(flags.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
    // A read given up on (a control server that stopped answering mid-request) must not hold the exit.
    setTimeout(() => process.exit(), 1000).unref();
    return status.healthy ? 0 : 1;
  },
};
