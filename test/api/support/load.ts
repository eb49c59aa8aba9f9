/**
 * Real chat for API tests: the raw #xqc IRC capture in ../shared/data (no licence: read in place,
 * never copied), parsed by the ingest parser and stored by the real enrich stage (in-process bus), so
 * rows, rollups and name history are exactly what production would hold.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InProcessBus } from '../../../core/bus.ts';
import type { ClickHouseClient } from '../../../core/clickhouse.ts';
import type { Config } from '../../../core/config.ts';
import type { ChatEvent, ChatMessage, Deletion } from '../../../core/events.ts';
import { createLogger } from '../../../core/logger.ts';
import { startEnrich } from '../../../enrich/index.ts';
import { parseIrcLine } from '../../../ingest/irc-parser.ts';
import { SHARED_DATA } from '../../support/paths.ts';

export const XQC_FILE = path.join(SHARED_DATA, 'irc', 'xqc-2023-04-01.raw.irc');

/** A reason to skip, or false when the real log is there. */
export function xqcMissing(): string | false {
  return fs.existsSync(XQC_FILE) ? false : `skipped: real chat log ${XQC_FILE} is absent (../shared/data is not part of the repo; CI has it)`;
}

/** Parses the capture into events (lines that are not chat events are left out). */
export function readXqc(): ChatEvent[] {
  const out: ChatEvent[] = [];
  const receivedAt = Date.UTC(2023, 3, 1, 12);
  for (const line of fs.readFileSync(XQC_FILE, 'utf8').split(/\r?\n/)) {
    if (!line) continue;
    const r = parseIrcLine(line, { receivedAt, source: 'import' });
    if (r.ok) out.push(r.event);
  }
  return out;
}

/**
 * The capture holds no CLEARMSG; tests of deletions delete a few real messages the way Twitch
 * would report it (a CLEARMSG naming the message id, author and text, 2 s later).
 */
export function deletionsOf(messages: ChatMessage[]): Deletion[] {
  return messages.map((m) => ({
    v: 1,
    kind: 'delete',
    id: `test-del-${m.id}`,
    channel: m.channel,
    channel_id: m.channel_id,
    ts: m.ts + 2000,
    received_at: m.received_at + 2000,
    source: 'import',
    tags: {},
    target_msg_id: m.id,
    target_login: m.login,
    text: m.text,
  }));
}

/** Copies events into another channel (rename), for multi-channel tests. */
export function renamed(events: ChatEvent[], channel: string): ChatEvent[] {
  return events.map((e) => ({ ...e, channel, channel_id: null, id: `${channel}:${e.id}` }) as ChatEvent);
}

/** Stores events through the enrich stage and waits until every one is in ClickHouse. */
export async function storeEvents(config: Config, client: ClickHouseClient, events: ChatEvent[]): Promise<void> {
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: createLogger('silent'), client, consumer: bus.consumer(), optOutRefreshMs: 60_000 });
  const pub = bus.publisher();
  // A store that keeps failing would retry forever; fail the test with the reason instead.
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('enrich did not store the test events within 180 s (schema changed under the test? see dead_letters and the enrich log)')), 180_000);
  });
  try {
    await Promise.race([
      (async () => {
        for (let i = 0; i < events.length; i += 500) await pub.publish(events[i].channel, events.slice(i, i + 500));
        await bus.idle();
        await stage.stored();
      })(),
      limit,
    ]);
  } finally {
    clearTimeout(timer);
  }
  await stage.stop();
  bus.close();
}

/**
 * Wraps a client so every SQL text sent is recorded; values must travel in `query_params` only,
 * so a test can assert that no input ever appears inside a query text.
 */
export function recordingClient(client: ClickHouseClient): { client: ClickHouseClient; queries: string[] } {
  const queries: string[] = [];
  const wrapped = new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || !['query', 'command', 'exec', 'insert'].includes(String(prop))) return v;
      return (params: { query?: string; table?: string }) => {
        queries.push(params.query ?? `INSERT INTO ${params.table}`);
        return (v as (p: unknown) => unknown).call(target, params);
      };
    },
  });
  return { client: wrapped, queries };
}
