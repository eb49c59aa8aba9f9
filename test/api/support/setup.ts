/**
 * One migrated test database with the real #xqc capture stored through enrich, and an app over it; or one over
 * chat a test writes itself ({@link importText}, {@link appOver}).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildAppOptions } from '../../../api/app.ts';
import type { ChatEvent, ChatMessage } from '../../../core/events.ts';
import { createLogger } from '../../../core/logger.ts';
import { importFile } from '../../../ingest/importers/index.ts';
import { testDatabase, type TestDatabase } from '../../support/clickhouse.ts';
import { deletionsOf, readXqc, recordingClient, storeEvents } from './load.ts';

export const TOKEN = 'test-token-0123456789abcdef';

export interface ApiFixture {
  db: TestDatabase;
  app: FastifyInstance;
  events: ChatEvent[];
  messages: ChatMessage[];
  /** Messages deleted by the CLEARMSGs the fixture adds (every 500th message). */
  deleted: ChatMessage[];
  /** Every SQL text the app sent. */
  queries: string[];
}

export async function apiFixture(opts: { token?: string | null; app?: Partial<BuildAppOptions>; events?: (events: ChatEvent[]) => ChatEvent[] } = {}): Promise<ApiFixture> {
  const env: Record<string, string> = { TWICHIST_ONLINE: 'false' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) env.TWICHIST_API_TOKEN = token;
  const db = await testDatabase({ env });
  let events = readXqc();
  const messages = events.filter((e): e is ChatMessage => e.kind === 'message');
  const deleted = messages.filter((_, i) => i % 500 === 250);
  events = [...events, ...deletionsOf(deleted)];
  if (opts.events) events = opts.events(events);
  await storeEvents(db.config, db.client, events);
  const rec = recordingClient(db.client);
  // No enrich stores chat while these apps run (storeEvents stopped its stage): opt-outs need not wait for one.
  const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: rec.client, rateLimit: false, optOutSettleMs: 0, ...opts.app });
  await app.ready();
  return { db, app, events, messages: events.filter((e): e is ChatMessage => e.kind === 'message'), deleted, queries: rec.queries };
}

/** The events `twichist import` publishes for a file holding `content` (any importable format, read from the content). */
export async function importText(content: string): Promise<ChatEvent[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-import-text-'));
  try {
    const file = path.join(dir, 'chat');
    fs.writeFileSync(file, content);
    const events: ChatEvent[] = [];
    await importFile(file, (e) => void events.push(e));
    return events;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A migrated test database holding `events` (stored through enrich) and an app over it; `close` ends both. */
export async function appOver(events: ChatEvent[]): Promise<{ db: TestDatabase; app: FastifyInstance; close: () => Promise<void> }> {
  const db = await testDatabase();
  await storeEvents(db.config, db.client, events);
  const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false });
  await app.ready();
  return {
    db,
    app,
    close: async () => {
      await app.close();
      await db.client.close();
    },
  };
}

/** GET as JSON, asserting nothing: tests look at status and body. */
export async function getJson<T = any>(app: FastifyInstance, url: string): Promise<{ status: number; body: T; text: string; headers: Record<string, unknown> }> {
  const r = await app.inject({ method: 'GET', url });
  let body: any = null;
  try {
    body = JSON.parse(r.body);
  } catch {
    body = null;
  }
  return { status: r.statusCode, body, text: r.body, headers: r.headers };
}

/** Lowercased tokens as the `text_idx` index splits them (ASCII non-alphanumerics separate tokens). */
export function tokensOf(text: string): Set<string> {
  return new Set(text.toLowerCase().split(/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+/).filter(Boolean));
}
