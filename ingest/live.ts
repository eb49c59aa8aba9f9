/**
 * Live ingest: `@twurple/chat` connected to Twitch IRC (anonymous read-only unless a client id,
 * secret and token file are configured), every raw line through the one parser (`irc-parser.ts`),
 * events micro-batched onto the bus. Channels come from config, the ClickHouse `channels` table
 * (polled) and the NATS control subject (a message there triggers an immediate re-read), and can be
 * set directly with `setChannels()`; joins and parts happen without a restart.
 *
 * Reconnects: twurple's persistent connection retries with a Fibonacci backoff (1, 1, 2, 3, 5 ... up
 * to 120 s; kept by {@link LiveIngestor.gateConnects} also when a server closes at once) and the channel
 * list is resolved again on every registration, so the client re-joins what is wanted *now*. Joins go through twurple's join rate limiter (20 joins / 10 s for a normal
 * account, which also covers anonymous connections). Every connect, join, part (and refused join),
 * disconnect and reconnect become `lifecycle` events, and so does each channel's gap: from the last line
 * received before the connection was lost to the channel's JOIN echo on the new connection. Every
 * `INGEST_ALIVE_S` each joined channel gets an `alive` event while the connection is demonstrably up
 * (see {@link LiveIngestor.heartbeat}): a quiet channel and a stalled ingest look alike otherwise.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { ChatClient } from '@twurple/chat';
import { RefreshingAuthProvider, type AccessToken } from '@twurple/auth';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { BusPublisher } from '../core/bus.ts';
import { normalizeChannel } from '../core/channels.ts';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import type { Config } from '../core/config.ts';
import type { ChatEvent, Lifecycle } from '../core/events.ts';
import { deterministicId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import { OPT_OUT_REFRESH_MS } from '../core/privacy.ts';
import { channelControlSubject } from '../core/subjects.ts';
import { IrcLineSplitter } from './irc-lines.ts';
import { parseIrcLine } from './irc-parser.ts';
import { MicroBatcher } from './jetstream.ts';

export type OptOutCheck = (login: string, userId: string | null) => boolean;

export interface LiveIngestorOptions {
  config: Config;
  logger: Logger;
  publisher: BusPublisher;
  /** Drops messages of opted-out users; default: nobody is opted out. See {@link createOptOutFilter}. */
  isOptedOut?: OptOutCheck;
  /** Extra channel source polled every `pollMs` (e.g. {@link channelsFromClickHouse}); unioned with config channels. */
  loadChannels?: () => Promise<string[]>;
  /** How often `loadChannels` is polled. */
  pollMs?: number;
  /** NATS connection to listen on the channel control subject; null to rely on polling only. */
  nc?: NatsConnection | null;
  /** Override of the IRC endpoint (tests, local server); default from config (TWITCH_IRC_HOST/SSL) or Twitch. */
  irc?: { host: string; port: number | null; ssl: boolean } | null;
  /** Events held while the bus is saturated before new ones are dropped (and reported as a gap). */
  maxQueued?: number;
  /** Micro-batch limits, see {@link MicroBatcher}. */
  batch?: { maxEvents?: number; maxDelayMs?: number; maxInFlight?: number };
  /** Identifies this process in lifecycle events; default host:pid. */
  ingestor?: string;
  /**
   * twurple's dead-connection check: a PING after `inactivity` s without a line, a reconnect when its
   * PONG takes over `timeout` s (twurple's defaults: 60 and 10). Lower only in tests.
   */
  ping?: { inactivity: number; timeout: number };
}

export interface LiveStats {
  lines: number;
  events: number;
  ignored: number;
  rejected: number;
  optedOut: number;
  dropped: number;
  /** JOINs Twitch refused (NOTICE msg_channel_suspended / msg_banned) or never answered. */
  joinFailures: number;
}

/** The IRC connection as `twichist status` shows it (the `ingest` entry of the serving process's report). */
export interface IrcConnectionState {
  /** host:port the client connects to. */
  target: string;
  /** Registered with the server (logged in): chat can be joined and received. */
  connected: boolean;
  /**
   * Why the last attempt failed or the connection was lost, after the target ("irc-ws.chat.twitch.tv:443:
   * getaddrinfo ENOTFOUND irc-ws.chat.twitch.tv", "127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1"); null
   * once registered again.
   */
  last_error: string | null;
  /** Since when (ISO) the client has been retrying: the first failure after it was last registered; null while registered. */
  retrying_since: string | null;
}

/**
 * twurple 8 takes a host name but no port (it always uses 6667/6697 for TCP), so tests and the local
 * server need the port set on the connection target, which twurple keeps by reference and reads on
 * every (re)connect. Checked at run time: fails loudly if a twurple upgrade moves it.
 */
export function pointChatClientAt(client: ChatClient, port: number): void {
  const conn = (client.irc as unknown as { _connection?: { _target?: { port?: number } } })._connection;
  if (!conn?._target || typeof conn._target !== 'object') throw new Error('cannot set the IRC port: @twurple/chat internals changed');
  conn._target.port = port;
}

/**
 * twurple's TCP connection (`@d-fischer/connection` DirectConnection, used whenever `webSocket: false`,
 * i.e. with TWITCH_IRC_HOST) turns bytes into lines wrongly in two ways, both measured on the local
 * server (test/ingest/live-replay.test.ts):
 * - it splits every socket read on `\r\n`, so a read that ends between `\r` and `\n` glues the next line
 *   onto the previous one ("text\r\n@tags ... PRIVMSG ...") and that next line is lost, and the previous
 *   event's text is corrupted (seen as 1 line in ~8 runs of the reconnect replay);
 * - it decodes each read with `Buffer#toString()`, so a UTF-8 character split across two reads becomes
 *   two U+FFFD (emoji-heavy chat at high rates).
 * This swaps the connection class for a subclass that splits the socket's bytes on `\n` across reads
 * and decodes each line on its own (`IrcLineSplitter`), which also hands the parser flat strings.
 * twurple reads `_type` on every (re)connect. Checked at run time: fails loudly if a twurple upgrade
 * moves it. WebSocket connections (Twitch's default) get whole lines per frame and are unaffected,
 * but go through the same splitter.
 */
export function fixLineFraming(client: ChatClient): void {
  const conn = (client.irc as unknown as { _connection?: { _type?: unknown } })._connection;
  const Base = conn?._type as (new (...args: never[]) => FramedBase) | undefined;
  if (typeof Base !== 'function' || typeof Base.prototype.receiveRaw !== 'function' || typeof Base.prototype.connect !== 'function') {
    throw new Error('cannot fix IRC line framing: @twurple/chat internals changed');
  }
  if ((Base as unknown as { framed?: boolean }).framed) return;
  class Framed extends Base {
    static framed = true;
    /**
     * Why the WebSocket failed (DNS, refused, TLS): ws hands it to `onerror` only, which twurple traces, and
     * the close that follows reaches onDisconnect as "[1006] ", which named no cause in the log or status.
     */
    socketError: Error | null = null;
    override connect(): void {
      this.socketError = null;
      super.connect();
      const socket = this._socket;
      // net/tls sockets: split bytes into lines and decode each line (see ingest/irc-lines.ts).
      if (socket instanceof net.Socket && this._lineBased) {
        const lines = new IrcLineSplitter();
        socket.removeAllListeners('data');
        socket.on('data', (chunk: Buffer) => {
          for (const line of lines.push(chunk)) this.emit(this.onReceive, line);
        });
      } else if (socket !== null && typeof socket === 'object' && 'onerror' in socket) {
        const ws = socket as { onerror: ((e: { error?: unknown; message?: string }) => void) | null };
        const traced = ws.onerror;
        ws.onerror = (e) => {
          this.socketError = e.error instanceof Error ? e.error : new Error(e.message || 'WebSocket error');
          traced?.call(ws, e);
        };
      }
    }
    override emit(event: unknown, ...args: unknown[]): void {
      if (event === this.onDisconnect && args[0] === false && this.socketError !== null) {
        args = [false, this.socketError];
        this.socketError = null;
      }
      super.emit(event, ...args);
    }
    override receiveRaw(data: string): void {
      if (!this._lineBased) return super.receiveRaw(data);
      const buf = this._currentLine + data;
      let start = 0;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n', start)) {
        const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        if (end > start) this.emit(this.onReceive, buf.slice(start, end));
        start = nl + 1;
      }
      this._currentLine = start === 0 ? buf : buf.slice(start);
    }
  }
  (conn as { _type: unknown })._type = Framed;
}

/** The fields of `@d-fischer/connection`'s AbstractConnection that {@link fixLineFraming} relies on. */
interface FramedBase {
  _socket: unknown;
  _lineBased: boolean;
  _currentLine: string;
  onReceive: unknown;
  onDisconnect: unknown;
  emit(event: unknown, ...args: unknown[]): void;
  connect(): void;
  receiveRaw(data: string): void;
}

/**
 * twurple's JOIN rate limiter logs "Rate limit of 20 was reached" (every queued JOIN beyond 20 per 11 s: 40 lines
 * for 60 channels) straight to stdout at warn, whatever LOG_LEVEL says: ChatClient's `logger` option does not reach
 * it, only twurple's own LOGGING variable. Queued joins are normal, so they go to our logger at debug. The limiter is
 * rebuilt by every `connect()` (`_initializeRateLimiters`), so its logger is replaced each time. Checked at run time.
 */
function routeJoinLimiterLog(client: ChatClient, logger: Logger): void {
  const c = client as unknown as { _initializeRateLimiters?: () => void; _joinRateLimiter?: { _logger?: unknown } };
  const init = c._initializeRateLimiters;
  if (typeof init !== 'function') throw new Error("cannot route the join rate limiter's log: @twurple/chat internals changed");
  const log = (message: string) => logger.debug({ from: 'twurple rate-limiter' }, message);
  const quiet = { crit: log, error: log, warn: log, info: log, debug: log, trace: log, success: log, log: (_level: unknown, message: string) => log(message) };
  c._initializeRateLimiters = function (this: unknown) {
    init.call(this);
    if (c._joinRateLimiter === undefined || !('_logger' in c._joinRateLimiter)) throw new Error("cannot route the join rate limiter's log: @twurple/chat internals changed");
    c._joinRateLimiter._logger = quiet;
  };
}

/** twurple's PING timers (ircv3 IrcClient `pingOnInactivity`, `pingTimeout`), seconds, when not overridden. */
const TWURPLE_PING = { inactivity: 60, timeout: 10 };

/** twurple 8 keeps the PING timers on the IrcClient and has no option for them. Checked at run time. */
function setPingTimers(client: ChatClient, inactivity: number, timeout: number): void {
  const irc = client.irc as unknown as { _pingOnInactivity?: number; _pingTimeout?: number };
  if (typeof irc._pingOnInactivity !== 'number' || typeof irc._pingTimeout !== 'number') throw new Error('cannot set the IRC ping timers: @twurple/chat internals changed');
  irc._pingOnInactivity = inactivity;
  irc._pingTimeout = timeout;
}

/** twurple's retry timings (`fibWithLimit(120)`: 0, 1, 1, 2, 3, 5 ... 120 s), by attempts since the last registration. */
function retryDelayMs(attempt: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < attempt && a < 120; i++) [a, b] = [b, a + b];
  return Math.min(a, 120) * 1000;
}

/** The parts of `@d-fischer/connection`'s PersistentConnection that {@link LiveIngestor} relies on. */
interface PersistentConnectionInternals {
  assumeExternalDisconnect?: () => void;
  _target?: { hostName?: string; port?: number };
  _tryConnect?: (userGenerated?: boolean) => void;
  _connecting?: boolean;
  _retryTimerGenerator?: Iterator<number>;
  _currentConnection?: { _socket?: unknown };
}

function parseHost(spec: string): { host: string; port: number | null } {
  const m = /^(.*):(\d+)$/.exec(spec);
  return m ? { host: m[1], port: Number(m[2]) } : { host: spec, port: null };
}

/** Anonymous unless client id + secret + token file are configured; refreshed tokens are written back to the file. */
export async function createAuthProvider(config: Config, logger: Logger): Promise<RefreshingAuthProvider | null> {
  const { clientId, clientSecret, tokenFile } = config.twitch;
  if (clientId === null || clientSecret === null) return null;
  if (tokenFile === null) {
    logger.warn('TWITCH_CLIENT_ID is set but TWITCH_TOKEN_FILE is not: connecting anonymously (read-only)');
    return null;
  }
  const token = JSON.parse(fs.readFileSync(tokenFile, 'utf8')) as AccessToken;
  const provider = new RefreshingAuthProvider({ clientId, clientSecret });
  provider.onRefresh((_userId, t) => {
    // Write-then-rename so a crash mid-write cannot leave a truncated token file.
    const tmp = `${tokenFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(t, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, tokenFile);
    logger.info('Twitch token refreshed and saved');
  });
  try {
    // Asks Twitch who the token belongs to: fails on a revoked token and when id.twitch.tv is unreachable.
    await provider.addUserForToken(token, ['chat']);
  } catch (err) {
    throw new Error(`cannot log in to Twitch with the token in ${tokenFile} (TWITCH_TOKEN_FILE): ${err instanceof Error ? err.message : String(err)}; Twitch must be reachable to check it, and the token valid. Unset TWITCH_CLIENT_ID to read chat anonymously`, { cause: err });
  }
  return provider;
}

/** Enabled channels from the ClickHouse `channels` table (ReplacingMergeTree, read with FINAL). */
export function channelsFromClickHouse(client: ClickHouseClient): () => Promise<string[]> {
  return async () => {
    const rs = await client.query({ query: 'SELECT login FROM channels FINAL WHERE enabled AND NOT removed', format: 'JSONEachRow' });
    return (await rs.json<{ login: string }>()).map((r) => r.login.toLowerCase());
  };
}

/**
 * Opt-out set from ClickHouse `opt_outs`, refreshed every `refreshMs`. Lookups are two Set probes;
 * a failed refresh keeps the previous set (logged), so a ClickHouse hiccup does not re-admit users.
 */
export function createOptOutFilter(client: ClickHouseClient, logger: Logger, refreshMs = OPT_OUT_REFRESH_MS): { isOptedOut: OptOutCheck; refresh(): Promise<void>; stop(): void } {
  let logins = new Set<string>();
  let ids = new Set<string>();
  const refresh = async () => {
    try {
      const rs = await client.query({ query: 'SELECT login, user_id FROM opt_outs FINAL WHERE active', format: 'JSONEachRow' });
      const rows = await rs.json<{ login: string; user_id: string | null }>();
      logins = new Set(rows.map((r) => r.login.toLowerCase()));
      ids = new Set(rows.flatMap((r) => (r.user_id ? [r.user_id] : [])));
    } catch (err) {
      logger.warn({ err: String(err) }, 'could not refresh opt_outs; keeping the previous set');
    }
  };
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  return {
    isOptedOut: (login, userId) => logins.has(login) || (userId !== null && ids.has(userId)),
    refresh,
    stop: () => clearInterval(timer),
  };
}

/** How long a channel Twitch refused to join (suspended, banned) waits before it is asked again. */
const REFUSED_RETRY_MS = 10 * 60_000;

export class LiveIngestor {
  readonly stats: LiveStats = { lines: 0, events: 0, ignored: 0, rejected: 0, optedOut: 0, dropped: 0, joinFailures: 0 };
  private readonly opts: LiveIngestorOptions;
  private readonly logger: Logger;
  private readonly batcher: MicroBatcher;
  private readonly ingestor: string;
  private readonly isOptedOut: OptOutCheck;
  private readonly maxQueued: number;
  private client: ChatClient | null = null;
  private desired = new Set<string>();
  private extra: string[] = [];
  private joined = new Set<string>();
  /** Joins requested by {@link apply} and not answered yet: a second request would send a second JOIN. */
  private joining = new Set<string>();
  /** Channels whose last JOIN Twitch refused, with when: retried after REFUSED_RETRY_MS. */
  private refused = new Map<string, number>();
  private disconnectedAt: number | null = null;
  /** See {@link IrcConnectionState}; `target` reads twurple's connection target, which tests re-point. */
  private target: () => string = () => '?';
  private registered = false;
  private lastError: string | null = null;
  private failingSince: number | null = null;
  private joinedAtDisconnect: string[] = [];
  /** Time of the last line received on the current connection: where an outage's gap starts. */
  private lastLineAt: number | null = null;
  /**
   * Channels that were joined when the connection was lost, with the start of their outage. The gap of
   * each ends when its JOIN is echoed on the new connection (lines before that are not sent to us), or
   * when the re-join fails or the ingestor stops.
   */
  private openGaps = new Map<string, { start: number; detail: string }>();
  private everConnected = false;
  /** `client.connect()` was called: it is called once, when the first channel is wanted (twurple reconnects on its own after). */
  private connectCalled = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private sub: Subscription | null = null;
  private overflow: ChatEvent[] = [];
  private draining: Promise<void> | null = null;
  private dropStart: number | null = null;
  private dropCount = 0;
  private stopped = false;
  private reconnectReason: string | null = null;
  /** Drops the current connection the way twurple's PING timeout does: reported as lost, then reconnected. */
  private dropConnection: (() => void) | null = null;
  /** The socket of twurple's current connection attempt (net/tls socket or ws WebSocket), if any. */
  private currentSocket: () => unknown = () => null;
  /** Connect attempts since the client last registered, and when the last one started: see {@link gateConnects}. */
  private attempts = 0;
  private lastAttemptAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private aliveTimer: NodeJS.Timeout | null = null;

  constructor(opts: LiveIngestorOptions) {
    this.opts = opts;
    this.logger = opts.logger;
    this.ingestor = opts.ingestor ?? `${os.hostname()}:${process.pid}`;
    this.isOptedOut = opts.isOptedOut ?? (() => false);
    this.maxQueued = opts.maxQueued ?? 100_000;
    this.batcher = new MicroBatcher({
      publisher: opts.publisher,
      ...opts.batch,
      onError: (err, channel, events) => this.logger.error({ err: String(err), channel, events: events.length }, 'bus publish failed; events lost'),
    });
    this.desired = new Set(opts.config.twitch.channels);
  }

  /** The channels the ingestor wants joined now. */
  get channels(): string[] {
    return [...this.desired].sort();
  }

  /** Channels joined on the current connection. */
  get joinedChannels(): string[] {
    return [...this.joined].sort();
  }

  get connection(): IrcConnectionState {
    return { target: this.target(), connected: this.registered, last_error: this.lastError, retrying_since: this.failingSince === null ? null : new Date(this.failingSince).toISOString() };
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    const authProvider = await createAuthProvider(config, this.logger);
    const endpoint = this.opts.irc ?? (config.twitch.ircHost ? { ...parseHost(config.twitch.ircHost), ssl: config.twitch.ircSsl } : null);
    const client = new ChatClient({
      authProvider: authProvider ?? undefined,
      readOnly: true,
      ...(endpoint ? { hostName: endpoint.host, ssl: endpoint.ssl, webSocket: false } : {}),
      // Resolved on every registration: a reconnect joins what is wanted now, not what was joined before.
      channels: () => [...this.desired],
      rejoinChannelsOnReconnect: false,
      logger: { minLevel: 'critical' },
    });
    if (endpoint?.port) pointChatClientAt(client, endpoint.port);
    fixLineFraming(client);
    routeJoinLimiterLog(client, this.logger);
    const conn = (client.irc as unknown as { _connection?: PersistentConnectionInternals })._connection;
    if (typeof conn?.assumeExternalDisconnect !== 'function') throw new Error('cannot handle RECONNECT: @twurple/chat internals changed');
    this.dropConnection = () => conn.assumeExternalDisconnect!();
    this.target = () => `${conn._target?.hostName ?? '?'}:${conn._target?.port ?? '?'}`;
    this.currentSocket = () => conn._currentConnection?._socket ?? null;
    this.gateConnects(conn);
    if (this.opts.ping) setPingTimers(client, this.opts.ping.inactivity, this.opts.ping.timeout);
    this.client = client;
    // Every raw line is seen before twurple parses it: twurple drops a line its parser throws on
    // ('@a=b', 'PRIVMSG #c' without text, 'CLEARCHAT' without channel) with nothing but a log line of
    // its own, which would make such lines neither counted nor logged here.
    const irc = client.irc as unknown as { receiveLine?: (line: string) => void };
    const receiveLine = irc.receiveLine;
    if (typeof receiveLine !== 'function') throw new Error('cannot tap IRC lines: @twurple/chat internals changed');
    irc.receiveLine = (line: string) => {
      this.onLine(line, Date.now());
      receiveLine.call(client.irc, line);
    };
    client.onConnect(() => this.onConnected());
    client.onDisconnect((manually, reason) => this.onDisconnected(manually, reason));
    client.onAuthenticationSuccess(() => {
      this.registered = true;
      this.attempts = 0;
      this.lastError = null;
      this.failingSince = null;
    });
    // twurple then reconnects with backoff through a quit, which reaches onDisconnect as a manual close.
    client.onAuthenticationFailure((text) => this.connectionFailed(`Twitch refused the login: ${text}`, Date.now()));
    client.onJoin((channel, user) => {
      if (user !== client.irc.currentNick) return;
      // A second echo (the JOIN was requested twice while the first was pending) is no new join.
      if (this.joined.has(channel)) return;
      this.joined.add(channel);
      this.refused.delete(channel);
      const now = Date.now();
      this.lifecycle('joined', channel, null, null, null, now);
      this.closeGap(channel, now, null);
    });
    client.onJoinFailure((channel, reason) => {
      this.stats.joinFailures++;
      const now = Date.now();
      const again = this.refused.has(channel);
      this.refused.set(channel, now);
      // Recorded once per run of refusals; the retries every REFUSED_RETRY_MS are only counted.
      if (again) return;
      this.logger.warn({ channel, reason }, 'Twitch refused to join the channel (suspended, banned or no answer); its chat is not received; retrying every 10 minutes');
      // The gap closes 1 ms before the part, so the latest row (the API's ingest_state, argMax over ts) is
      // the part: at the same ts either could win.
      this.closeGap(channel, now - 1, `; re-join failed: ${reason}`);
      this.lifecycle('parted', channel, `join failed: ${reason}`, null, null, now);
    });
    client.onPart((channel, user) => {
      if (user !== client.irc.currentNick) return;
      this.joined.delete(channel);
      const now = Date.now();
      // A PART we did not ask for (Twitch parts a channel it has just suspended): its chat is no longer
      // received until a re-join (the next reconnect), so that span is a gap.
      const unasked = this.desired.has(channel) && !this.stopped;
      this.lifecycle('parted', channel, unasked ? 'parted by Twitch' : null, null, null, now);
      if (unasked && !this.openGaps.has(channel)) {
        this.logger.warn({ channel }, 'Twitch parted the channel; its chat is not received until it is joined again');
        this.openGaps.set(channel, { start: now, detail: 'parted by Twitch' });
      }
    });
    this.aliveTimer = setInterval(() => this.heartbeat(Date.now()), config.twitch.aliveMs);
    this.aliveTimer.unref();
    if (this.opts.loadChannels) {
      await this.refreshChannels();
      this.pollTimer = setInterval(() => void this.refreshChannels(), this.opts.pollMs ?? 5000);
      this.pollTimer.unref();
    }
    if (this.opts.nc) {
      this.sub = this.opts.nc.subscribe(channelControlSubject(config.nats.subjectPrefix), {
        callback: () => void this.refreshChannels(),
      });
    }
    this.connectWhenWanted();
  }

  /**
   * Every connect of twurple's PersistentConnection goes through `_tryConnect` (the first, a retry after a failed
   * connect, a reconnect after a lost connection, ChatClient's re-login after a refused login), so it is gated there:
   * - none after `stop()`: a connect pending at `quit()` that then failed (refused; or accepted and closed, as
   *   DirectConnection forgets the requested close once the socket connects) reached twurple as a lost connection, which
   *   it reconnected for ever: the process never exited (~3,500 attempts/s after stop() against a server that closes at
   *   once). stop() also destroys that socket, but a retry or re-login timer already running would still connect;
   * - spaced by twurple's own retry timings since the last registration, from the start of the previous attempt: twurple
   *   takes a connection that opened for a success (its backoff is reset), so a server that accepts and closes at once
   *   was reconnected at once (~3,900 attempts and warnings/s).
   * The wait is a timer stop() clears; twurple's own delay after a failed connect is made 0, as its timer cannot be
   * cleared and kept a stopped process alive until it fired (up to 120 s). Checked at run time.
   */
  private gateConnects(conn: PersistentConnectionInternals): void {
    const tryConnect = conn._tryConnect;
    if (typeof tryConnect !== 'function' || typeof conn._connecting !== 'boolean') throw new Error('cannot gate IRC connects: @twurple/chat internals changed');
    const noDelay: Iterator<number> = { next: () => ({ value: 0, done: false }) };
    const attempt = (userGenerated?: boolean) => {
      this.retryTimer = null;
      // disconnect() (quit, stop) between the request and now clears `_connecting`: the attempt is no longer wanted.
      if (this.stopped || !conn._connecting) {
        conn._connecting = false;
        return;
      }
      this.attempts++;
      this.lastAttemptAt = Date.now();
      conn._retryTimerGenerator = noDelay;
      tryConnect.call(conn, userGenerated);
    };
    conn._tryConnect = (userGenerated?: boolean) => {
      // One attempt pending at a time: a quit + connect (re-login) while one waited would otherwise open two.
      if (this.retryTimer !== null) clearTimeout(this.retryTimer);
      const wait = this.lastAttemptAt + retryDelayMs(this.attempts) - Date.now();
      if (wait <= 0 || this.stopped) attempt(userGenerated);
      else this.retryTimer = setTimeout(() => attempt(userGenerated), wait);
    };
  }

  /**
   * Connects once there is a channel to follow. With none (no TWITCH_CHANNELS, nothing added through the
   * API yet) a connection would only be held, or retried with backoff whenever it drops, for nothing; the
   * first channel added (poll, control subject, setChannels) connects, and its JOIN goes out on registration.
   */
  private connectWhenWanted(): void {
    if (this.client === null || this.connectCalled || this.stopped || this.desired.size === 0) return;
    this.connectCalled = true;
    this.client.connect();
  }

  /** Re-reads the channel source and joins/parts the difference. */
  async refreshChannels(): Promise<void> {
    if (!this.opts.loadChannels) return;
    try {
      this.extra = await this.opts.loadChannels();
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'could not load channels; keeping the current set');
      return;
    }
    this.apply(new Set([...this.opts.config.twitch.channels, ...this.extra]));
  }

  /** Replaces the wanted channel set (config channels are not implied); joins and parts the difference. */
  setChannels(list: string[]): void {
    this.apply(new Set(list.map(normalizeChannel).filter(Boolean)));
  }

  private apply(next: Set<string>): void {
    const prev = this.desired;
    this.desired = next;
    const now = Date.now();
    for (const ch of prev) {
      if (next.has(ch)) continue;
      this.refused.delete(ch);
      // Not wanted any more: what is missing ends now, not at a re-join that will not come.
      this.closeGap(ch, now, '; channel removed');
    }
    this.connectWhenWanted();
    const client = this.client;
    if (client === null || !client.isConnected) return; // the next registration resolves `desired`
    for (const ch of next) {
      // A refused channel is asked again only after REFUSED_RETRY_MS: the channel poll (every 5 s) re-joined
      // it each time, recording a `parted` row and a warning per poll (17,280 a day per suspended channel).
      const refusedAt = this.refused.get(ch);
      if (refusedAt !== undefined && now - refusedAt < REFUSED_RETRY_MS) continue;
      if (!this.joined.has(ch) && !this.joining.has(ch)) {
        this.joining.add(ch);
        // Refusals are logged and recorded by the onJoinFailure handler.
        client
          .join(ch)
          .catch(() => undefined)
          .finally(() => this.joining.delete(ch));
      }
    }
    // Only channels we are in or joining: a PART of one Twitch had already parted (or refused) was echoed and recorded.
    for (const ch of prev) if (!next.has(ch) && (this.joined.has(ch) || this.joining.has(ch))) client.part(ch);
  }

  private onLine(line: string, receivedAt: number): void {
    this.stats.lines++;
    this.lastLineAt = receivedAt;
    const r = parseIrcLine(line, { receivedAt, source: 'live' });
    if (!r.ok) {
      if (r.ignored) {
        this.stats.ignored++;
        // Twitch is about to drop the connection (twurple 8 does not act on it): reconnect now, so the
        // outage is one reconnect long instead of lasting until the drop is noticed.
        if (r.command === 'RECONNECT' && !this.stopped) {
          this.logger.info('Twitch asked to reconnect (RECONNECT); reconnecting');
          this.reconnectReason = 'Twitch sent RECONNECT';
          // Handled like twurple's own PING timeout: the old connection's disconnect is reported before
          // the new one connects (ChatClient#reconnect would report them in the other order).
          setImmediate(() => this.dropConnection?.());
        }
      }
      else {
        this.stats.rejected++;
        this.logger.debug({ reason: r.reason, line: line.slice(0, 200) }, 'unparsable IRC line');
      }
      return;
    }
    const e = r.event;
    if ((e.kind === 'message' && this.isOptedOut(e.login, e.user_id)) || (e.kind === 'usernotice' && e.login !== null && this.isOptedOut(e.login, e.user_id))) {
      this.stats.optedOut++;
      return;
    }
    this.stats.events++;
    this.emit(e);
  }

  /**
   * Twitch cannot be paused, so back-pressure from the bus fills a bounded queue; past `maxQueued`
   * events are dropped and the span is published as a `gap` lifecycle event once the bus recovers.
   */
  private emit(e: ChatEvent): void {
    if (this.draining !== null) {
      if (this.overflow.length >= this.maxQueued) {
        this.stats.dropped++;
        this.dropCount++;
        this.dropStart ??= e.received_at;
        return;
      }
      this.overflow.push(e);
      return;
    }
    const wait = this.batcher.push(e);
    if (wait !== undefined) this.draining = this.drain(wait);
  }

  private async drain(first: Promise<void>): Promise<void> {
    await first;
    while (this.overflow.length > 0) {
      const batch = this.overflow;
      this.overflow = [];
      for (const e of batch) {
        const w = this.batcher.push(e);
        if (w !== undefined) await w;
      }
    }
    this.draining = null;
    if (this.dropStart !== null) {
      const start = this.dropStart;
      const count = this.dropCount;
      this.dropStart = null;
      this.dropCount = 0;
      for (const ch of this.desired) this.lifecycle('gap', ch, `dropped ${count} events: the bus was saturated`, start, Date.now());
    }
  }

  private onConnected(): void {
    const now = Date.now();
    if (this.everConnected && this.disconnectedAt !== null) {
      for (const ch of new Set([...this.joinedAtDisconnect, ...this.desired])) this.lifecycle('reconnected', ch, null, null, null, now);
    } else {
      for (const ch of this.desired) this.lifecycle('connected', ch, null, null, null, now);
    }
    this.everConnected = true;
    this.disconnectedAt = null;
    this.lastLineAt = now;
  }

  /**
   * One `alive` event per joined channel, only while a line (chat, or the PONG twurple's PING check gets
   * after `inactivity` s of silence) arrived within `inactivity + timeout` s: past that twurple is about
   * to drop the connection as dead, and a connection that stopped delivering must not look healthy
   * because nobody noticed yet. A dead process, a blocked event loop, a channel never joined (refused,
   * or waiting for the reconnect) and a saturated bus (the event is dropped like chat) send none, which
   * is what "Ingest stalled" pages on. The id includes the time, so each heartbeat is its own row.
   */
  private heartbeat(now: number): void {
    if (this.stopped || this.joined.size === 0) return;
    const ping = this.opts.ping ?? TWURPLE_PING;
    if (this.lastLineAt === null || now - this.lastLineAt > (ping.inactivity + ping.timeout) * 1000) return;
    // A channel being parted (removed, PART not echoed yet) is no longer followed.
    for (const ch of this.joined) if (this.desired.has(ch)) this.lifecycle('alive', ch, null, null, null, now);
  }

  /** Records the outage of `channel` (if it had one) as a gap ending at `end`. */
  private closeGap(channel: string, end: number, why: string | null): void {
    const open = this.openGaps.get(channel);
    if (open === undefined) return;
    this.openGaps.delete(channel);
    this.lifecycle('gap', channel, open.detail + (why ?? ''), open.start, end, end);
  }

  private onDisconnected(manually: boolean, reason?: Error): void {
    const now = Date.now();
    this.joinedAtDisconnect = [...this.joined];
    this.joined.clear();
    this.joining.clear();
    if (this.disconnectedAt === null) this.disconnectedAt = now;
    this.registered = false;
    const detail = this.reconnectReason ?? (manually ? 'closed by Twichist' : `connection lost${reason ? ': ' + reason.message : ''}`);
    if (!manually && !this.stopped) this.connectionFailed(this.reconnectReason ?? reason?.message ?? 'connection lost', now);
    this.reconnectReason = null;
    // A dead connection is noticed only by a PING timeout (twurple: 60 s of silence + 10 s), so what
    // was not received starts after the last line that was, not when the loss was noticed.
    const start = manually ? now : Math.min(now, this.lastLineAt ?? now);
    for (const ch of this.joinedAtDisconnect) {
      this.lifecycle('disconnected', ch, detail, null, null, now);
      if (!this.stopped && !this.openGaps.has(ch)) this.openGaps.set(ch, { start, detail: `disconnected from Twitch IRC (${detail})` });
    }
  }

  /**
   * A line per failed attempt: every attempt waits out the backoff of {@link gateConnects} (1, 1, 2, ... 120 s since
   * the last registration), also after a connection that opened and was closed at once.
   */
  private connectionFailed(why: string, now: number): void {
    this.lastError = `${this.target()}: ${why}`;
    this.failingSince ??= now;
    const since = new Date(this.failingSince).toISOString();
    this.logger.warn({ error: this.lastError, retrying_since: since }, `Twitch IRC: ${this.lastError}; not connected, retrying with backoff since ${since}`);
  }

  private lifecycle(event: Lifecycle['event'], channel: string, detail: string | null, gapStart: number | null = null, gapEnd: number | null = null, at = Date.now()): void {
    const e: Lifecycle = {
      v: 1,
      id: deterministicId('lifecycle', this.ingestor, event, channel, at, gapStart),
      channel,
      channel_id: null,
      ts: at,
      received_at: at,
      source: 'live',
      tags: {},
      kind: 'lifecycle',
      event,
      ingestor: this.ingestor,
      detail,
      gap_start: gapStart,
      gap_end: gapEnd,
    };
    this.emit(e);
  }

  /** Parts every channel, disconnects, and waits until every event is acknowledged by the bus. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    this.sub?.unsubscribe();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    if (client) {
      this.onDisconnected(true);
      // quit() forgets the connection; its socket may outlive it (see below).
      const socket = this.currentSocket();
      if (client.isConnected) {
        // Lines already on the way are still parsed and published: wait (bounded) until the socket is closed.
        const closed = new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2000);
          client.onDisconnect(() => (clearTimeout(t), resolve()));
        });
        client.quit();
        await closed;
      } else client.quit();
      // quit() only half-closes: a connect still pending (a host that does not answer takes ~2 min to time out) or a
      // server that never closes its side would keep the process alive. Lines after the 2 s above are lost anyway.
      if (socket instanceof net.Socket) socket.destroy();
      else if (socket !== null && typeof (socket as { terminate?: unknown }).terminate === 'function') (socket as { terminate(): void }).terminate();
    }
    // Channels still waiting for their re-join were not received up to now.
    const now = Date.now();
    for (const ch of [...this.openGaps.keys()]) this.closeGap(ch, now, '; not re-joined before shutdown');
    while (this.draining) await this.draining;
    await this.batcher.close();
  }
}
