/**
 * A local server that speaks enough Twitch IRC for the real `@twurple/chat` client: plain TCP,
 * CAP LS/REQ/ACK, PASS/NICK (anonymous `justinfanNNNN` or any token), the 001-004/375/372/376 welcome,
 * JOIN/PART (JOIN echo, 353, 366, then ROOMSTATE, as Twitch orders them), PING/PONG, RECONNECT, dropping
 * connections on demand, and replaying a raw log at a chosen speed (tmi-sent-ts spacing scaled, or as
 * fast as the socket takes it), optionally rewriting the channel. Used by the ingest tests and
 * `bench/ingest.ts`.
 *
 * Like Twitch, a connection gets a channel's lines only after the server echoed that connection's JOIN
 * (the channel is added to the connection in the same synchronous step that writes the echo, so the
 * echo always precedes the first channel line on the socket). Every channel line written is recorded
 * with its connection in `written`, and connections the server destroyed are listed in `dropped`, so a
 * test can require that every line written to a connection the server did not kill was stored.
 *
 * twurple 8 has no `port` option: point a client at this server with `pointChatClientAt()` from
 * `ingest/live.ts`, or set TWITCH_IRC_HOST=127.0.0.1:<port> and TWITCH_IRC_SSL=false.
 */
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { splitIrcLine } from '../../ingest/irc-parser.ts';

interface Conn {
  id: number;
  socket: net.Socket;
  nick: string | null;
  channels: Set<string>;
  closed: boolean;
}

export interface ReplayOptions {
  /** Multiplier of the original tmi-sent-ts spacing (e.g. 10 = ten times faster), or 'max'. */
  speed: number | 'max';
  /** Rewrite every line's channel to this one (without '#'). */
  channel?: string | null;
  /** Wait until some client has joined the line's channel before sending the first line. Default true. */
  waitForJoin?: boolean;
  /** Called after each line was written (or found no joined client). */
  onLine?: (index: number, line: string, delivered: boolean) => void | Promise<void>;
  /** Stop early. */
  signal?: AbortSignal;
}

/** A channel line the server wrote to one connection (always after that connection's JOIN echo). */
export interface WrittenLine {
  conn: number;
  channel: string;
  line: string;
  at: number;
}

export interface ReplayResult {
  /** Lines written to at least one joined connection. */
  delivered: number;
  /** Lines that found no joined connection (e.g. while the client was reconnecting). */
  undelivered: number;
  /** Lines not replayed because they are connection chatter (welcome, CAP, JOIN, 353, 366, PING). */
  skipped: number;
}

/** Commands of a raw log that belong to the recording's own connection, not to the channel. */
const CONNECTION_COMMANDS = new Set(['001', '002', '003', '004', '375', '372', '376', '353', '366', 'CAP', 'JOIN', 'PART', 'PING', 'PONG', 'GLOBALUSERSTATE']);

export class TwitchIrcServer {
  readonly host = '127.0.0.1';
  port = 0;
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private nextId = 1;
  private readonly joinWaiters: Array<{ channel: string; resolve: () => void }> = [];
  /** Every line the server received, for assertions. */
  readonly received: string[] = [];
  /** Connections accepted so far. */
  connections = 0;
  /** room-id sent in ROOMSTATE on join, by channel. */
  readonly roomIds = new Map<string, string>();
  /** Every channel line written (replay, broadcast to a channel), in order, with its connection. */
  readonly written: WrittenLine[] = [];
  /** Ids of connections destroyed by {@link dropConnections}: lines written to them just before may be lost with the socket. */
  readonly dropped = new Set<number>();
  /** Connection id and time of every JOIN echo, in order. */
  readonly joins: Array<{ conn: number; channel: string; at: number }> = [];
  /** Answer client PINGs (false: a dead connection that still accepts bytes). */
  answerPings = true;
  /** Reset new connections at once (Twitch unreachable): the client keeps retrying with its backoff. */
  refuseConnections = false;
  /** Close new connections at once, cleanly (accepted, then FIN), as a proxy without a backend would. */
  closeNewConnections = false;
  /** Connections reset or closed by {@link refuseConnections} or {@link closeNewConnections}: the client's failed attempts. */
  refused = 0;
  /** Lines sent instead of the JOIN echo for a channel (e.g. a NOTICE msg_channel_suspended); null joins normally. */
  refuseJoin: ((channel: string) => string[] | null) | null = null;
  /** Time of every JOIN command received (one per channel), to check the client's join rate. */
  readonly joinRequests: Array<{ channel: string; at: number }> = [];

  private constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async start(port = 0): Promise<TwitchIrcServer> {
    const s = new TwitchIrcServer();
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(port, '127.0.0.1', () => resolve());
    });
    s.port = (s.server.address() as net.AddressInfo).port;
    return s;
  }

  private accept(socket: net.Socket) {
    if (this.refuseConnections) {
      this.refused++;
      socket.resetAndDestroy();
      return;
    }
    if (this.closeNewConnections) {
      this.refused++;
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn: Conn = { id: this.nextId++, socket, nick: null, channels: new Set(), closed: false };
    this.connections++;
    this.conns.add(conn);
    const close = () => {
      conn.closed = true;
      this.conns.delete(conn);
    };
    socket.on('close', close);
    socket.on('error', close);
    const rl = readline.createInterface({ input: socket, crlfDelay: Infinity });
    rl.on('line', (line) => this.handle(conn, line));
    // A client that resets its connection (e.g. after a PING timeout) must not crash the test server.
    rl.on('error', close);
  }

  private send(conn: Conn, line: string): boolean {
    if (conn.closed) return true;
    return conn.socket.write(line + '\r\n');
  }

  private handle(conn: Conn, line: string) {
    this.received.push(line);
    const m = splitIrcLine(line);
    if (m === null) return;
    const nick = conn.nick ?? '*';
    switch (m.command) {
      case 'CAP': {
        const sub = m.params[0] === '*' ? m.params[1] : m.params[0];
        const arg = m.params[m.params.length - 1];
        if (sub === 'LS') this.send(conn, ':tmi.twitch.tv CAP * LS :twitch.tv/tags twitch.tv/commands twitch.tv/membership');
        else if (sub === 'REQ') this.send(conn, `:tmi.twitch.tv CAP * ACK :${arg}`);
        break;
      }
      case 'PASS':
        break;
      case 'NICK': {
        conn.nick = (m.params[0] ?? 'justinfan1').toLowerCase();
        const n = conn.nick;
        for (const l of [
          `:tmi.twitch.tv 001 ${n} :Welcome, GLHF!`,
          `:tmi.twitch.tv 002 ${n} :Your host is tmi.twitch.tv`,
          `:tmi.twitch.tv 003 ${n} :This server is rather new`,
          `:tmi.twitch.tv 004 ${n} :-`,
          `:tmi.twitch.tv 375 ${n} :-`,
          `:tmi.twitch.tv 372 ${n} :You are in a maze of twisty passages, all alike.`,
          `:tmi.twitch.tv 376 ${n} :>`,
        ])
          this.send(conn, l);
        break;
      }
      case 'JOIN':
        for (const raw of (m.params[0] ?? '').split(',')) {
          const channel = raw.replace(/^#/, '').toLowerCase();
          if (!channel) continue;
          this.joinRequests.push({ channel, at: Date.now() });
          const refusal = this.refuseJoin?.(channel) ?? null;
          if (refusal !== null) {
            for (const l of refusal) this.send(conn, l.replaceAll('{channel}', channel).replaceAll('{nick}', nick));
            continue;
          }
          const room = this.roomIds.get(channel) ?? String(1000 + this.roomIds.size);
          this.roomIds.set(channel, room);
          // The echo is written before the connection is marked joined: nothing of the channel can precede it.
          this.send(conn, `:${nick}!${nick}@${nick}.tmi.twitch.tv JOIN #${channel}`);
          conn.channels.add(channel);
          this.joins.push({ conn: conn.id, channel, at: Date.now() });
          this.send(conn, `:${nick}.tmi.twitch.tv 353 ${nick} = #${channel} :${nick}`);
          this.send(conn, `:${nick}.tmi.twitch.tv 366 ${nick} #${channel} :End of /NAMES list`);
          this.send(conn, `@emote-only=0;followers-only=-1;r9k=0;room-id=${room};slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #${channel}`);
          for (const w of this.joinWaiters.splice(0)) {
            if (w.channel === channel) w.resolve();
            else this.joinWaiters.push(w);
          }
        }
        break;
      case 'PART':
        for (const raw of (m.params[0] ?? '').split(',')) {
          const channel = raw.replace(/^#/, '').toLowerCase();
          conn.channels.delete(channel);
          this.send(conn, `:${nick}!${nick}@${nick}.tmi.twitch.tv PART #${channel}`);
        }
        break;
      case 'PING':
        if (this.answerPings) this.send(conn, `:tmi.twitch.tv PONG tmi.twitch.tv :${m.params[m.params.length - 1] ?? ''}`);
        break;
      case 'QUIT':
        conn.socket.end();
        break;
      default:
        break;
    }
  }

  /** Channels some open connection has joined. */
  joinedChannels(): Set<string> {
    const out = new Set<string>();
    for (const c of this.conns) for (const ch of c.channels) out.add(ch);
    return out;
  }

  waitForJoin(channel: string, timeoutMs = 15_000): Promise<void> {
    channel = channel.toLowerCase();
    if (this.joinedChannels().has(channel)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no client joined #${channel} within ${timeoutMs} ms`)), timeoutMs);
      this.joinWaiters.push({ channel, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  /** Sends a line to every connection joined to `channel` (all connections when null); true if any got it. */
  async broadcast(line: string, channel: string | null): Promise<boolean> {
    let any = false;
    const drains: Promise<void>[] = [];
    for (const c of this.conns) {
      if (c.closed || c.nick === null || (channel !== null && !c.channels.has(channel))) continue;
      any = true;
      if (channel !== null) this.written.push({ conn: c.id, channel, line, at: Date.now() });
      if (!this.send(c, line)) drains.push(new Promise((r) => c.socket.once('drain', () => r())));
    }
    if (drains.length) await Promise.all(drains);
    return any;
  }

  /** Destroys every client connection (the client sees a network error and reconnects). */
  dropConnections(): void {
    for (const c of this.conns) {
      this.dropped.add(c.id);
      c.closed = true;
      c.socket.destroy();
    }
    this.conns.clear();
  }

  /**
   * Closes every client connection the orderly way (FIN after the bytes already written), optionally
   * after `partial`: bytes of a line that never gets its line end. Listed in `dropped`.
   */
  closeConnections(partial: Buffer | string | null = null): void {
    for (const c of this.conns) {
      this.dropped.add(c.id);
      if (partial !== null) c.socket.write(partial);
      c.closed = true;
      c.socket.end();
    }
    this.conns.clear();
  }

  /** The server parts a connection from a channel (as Twitch does when a channel is banned mid-session). */
  partChannel(channel: string): void {
    for (const c of this.conns) {
      if (!c.channels.delete(channel)) continue;
      const nick = c.nick ?? '*';
      this.send(c, `:${nick}!${nick}@${nick}.tmi.twitch.tv PART #${channel}`);
    }
  }

  /** Writes raw bytes (not recorded in `written`) to every registered connection. */
  writeRaw(data: Buffer | string): void {
    for (const c of this.conns) if (!c.closed && c.nick !== null) c.socket.write(data);
  }

  /**
   * Writes raw bytes to every connection joined to `channel`, one chunk per socket write with `gapMs`
   * between them, so the client reads them separately: a line split inside its CRLF or inside a UTF-8
   * character, as TCP may deliver it. Complete lines in the chunks are recorded in `written`.
   */
  async writeChunks(channel: string, chunks: Buffer[], gapMs = 50): Promise<number> {
    const targets = [...this.conns].filter((c) => !c.closed && c.nick !== null && c.channels.has(channel));
    for (const line of Buffer.concat(chunks).toString('utf8').split('\r\n')) {
      if (line !== '') for (const c of targets) this.written.push({ conn: c.id, channel, line, at: Date.now() });
    }
    for (const chunk of chunks) {
      for (const c of targets) if (!c.closed) c.socket.write(chunk);
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return targets.length;
  }

  /** Asks every client to reconnect, as Twitch does before a server restart. */
  async sendReconnect(): Promise<void> {
    await this.broadcast(':tmi.twitch.tv RECONNECT', null);
  }

  /**
   * Replays raw lines (an array, or a file path read line by line). Connection chatter of the
   * recording (welcome, CAP, JOIN, 353/366, PING) is skipped; everything else goes to the clients
   * joined to the line's (possibly rewritten) channel.
   */
  async replay(input: string | Iterable<string> | AsyncIterable<string>, opts: ReplayOptions): Promise<ReplayResult> {
    const lines: AsyncIterable<string> | Iterable<string> =
      typeof input === 'string' ? readline.createInterface({ input: fs.createReadStream(input, 'utf8'), crlfDelay: Infinity }) : input;
    const result: ReplayResult = { delivered: 0, undelivered: 0, skipped: 0 };
    let firstTs: number | null = null;
    let start = 0;
    let index = 0;
    let waited = false;
    for await (const rawLine of lines) {
      if (opts.signal?.aborted) break;
      const line = rawLine.replace(/\r$/, '');
      if (line === '') continue;
      const info = lineInfo(line);
      if (info === null || CONNECTION_COMMANDS.has(info.command) || info.channel === null) {
        result.skipped++;
        continue;
      }
      const channel = opts.channel ?? info.channel;
      const out = opts.channel ? rewriteChannel(line, info, opts.channel) : line;
      if (!waited && (opts.waitForJoin ?? true)) {
        await this.waitForJoin(channel);
        waited = true;
      }
      if (opts.speed !== 'max' && info.ts !== null) {
        if (firstTs === null) {
          firstTs = info.ts;
          start = performance.now();
        }
        const due = start + (info.ts - firstTs) / opts.speed;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      const ok = await this.broadcast(out, channel);
      if (ok) result.delivered++;
      else result.undelivered++;
      await opts.onLine?.(index, out, ok);
      index++;
    }
    return result;
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface LineInfo {
  command: string;
  channel: string | null;
  /** Index of the `#channel` param in the line. */
  channelAt: number;
  ts: number | null;
}

/** Command, channel and tmi-sent-ts of a raw line, without building an event. */
export function lineInfo(line: string): LineInfo | null {
  let i = 0;
  if (line.startsWith('@')) i = line.indexOf(' ') + 1;
  if (i <= 0 && line.startsWith('@')) return null;
  if (line[i] === ':') i = line.indexOf(' ', i) + 1;
  if (i <= 0) return null;
  const sp = line.indexOf(' ', i);
  const command = sp < 0 ? line.slice(i) : line.slice(i, sp);
  let channel: string | null = null;
  let channelAt = -1;
  if (sp > 0 && line[sp + 1] === '#') {
    channelAt = sp + 1;
    const end = line.indexOf(' ', channelAt);
    channel = line.slice(channelAt + 1, end < 0 ? line.length : end).toLowerCase();
  }
  let ts: number | null = null;
  const t = line.indexOf('tmi-sent-ts=');
  if (t >= 0 && line.startsWith('@')) {
    const end = line.slice(t + 12).search(/[; ]/);
    const n = Number(line.slice(t + 12, end < 0 ? undefined : t + 12 + end));
    if (Number.isFinite(n)) ts = n;
  }
  return { command, channel, channelAt, ts };
}

function rewriteChannel(line: string, info: LineInfo, channel: string): string {
  if (info.channelAt < 0 || info.channel === null) return line;
  return line.slice(0, info.channelAt + 1) + channel + line.slice(info.channelAt + 1 + info.channel.length);
}
