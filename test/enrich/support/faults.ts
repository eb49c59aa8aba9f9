/**
 * Fault injection around a real ClickHouse client: the failures enrich must survive, made on the real
 * insert path (the wrapped client still talks to the real embedded database).
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { RAW_INSERT, rawInserter, type RawInsert } from '../../../core/clickhouse.ts';

/** An error shaped like a network failure (no ClickHouse code): `isTransientClickHouseError` says retry. */
export class InjectedOutage extends Error {
  readonly code = 'ECONNREFUSED';
  constructor() {
    super('injected: ClickHouse unreachable');
  }
}

/** A timeout after the insert did commit (code 159, TIMEOUT_EXCEEDED): the case the dedup token covers. */
export class InjectedTimeout extends Error {
  readonly code = '159';
  constructor() {
    super('injected: insert timed out (but it committed)');
  }
}

/** A deterministic rejection (code 27, CANNOT_PARSE_INPUT): retrying the same rows fails again. */
export class InjectedRejection extends Error {
  readonly code = '27';
  constructor(marker: string) {
    super(`injected: cannot parse a row containing ${marker}`);
  }
}

export interface FaultyClient {
  client: ClickHouseClient;
  /** Every insert fails (nothing is written) until `until` (epoch ms). */
  outageUntil(until: number): void;
  /** The next `n` inserts into `table` are performed, then reported as timed out. */
  timeoutAfterCommit(table: string, n: number): void;
  /** Inserts into `table` (default messages) whose rows contain `marker` are rejected as bad data (as ClickHouse does for unparsable rows). */
  rejectRowsContaining(marker: string, table?: string): void;
  /**
   * The next insert into `table` commits while `view` is detached (so the view misses the block, as
   * when a process dies between the table's and the view's part), then reports a failure.
   */
  partialCommit(table: string, view: string): void;
  /** Inserts attempted, succeeded and failed (by injection). */
  stats: { attempted: number; failed: number; committedThenTimedOut: number };
}

export function faultyClient(real: ClickHouseClient): FaultyClient {
  let outage = 0;
  let marker: string | null = null;
  let markerTable = 'messages';
  let partial: { table: string; view: string } | null = null;
  const timeouts = new Map<string, number>();
  const stats = { attempted: 0, failed: 0, committedThenTimedOut: 0 };
  /** The faults, around one insert into `table` whose rows read as `text`; `perform` does the real insert. */
  const inject = async <R>(table: string, text: string, perform: () => Promise<R>): Promise<R> => {
    stats.attempted++;
    if (Date.now() < outage) {
      stats.failed++;
      throw new InjectedOutage();
    }
    if (marker !== null && table === markerTable && text.includes(marker)) {
      stats.failed++;
      throw new InjectedRejection(marker);
    }
    if (partial && partial.table === table) {
      const { view } = partial;
      partial = null;
      await real.command({ query: `DETACH TABLE ${view}` });
      try {
        await perform();
      } finally {
        await real.command({ query: `ATTACH TABLE ${view}` });
      }
      stats.failed++;
      throw new InjectedOutage();
    }
    const r = await perform();
    const left = timeouts.get(table) ?? 0;
    if (left > 0) {
      timeouts.set(table, left - 1);
      stats.committedThenTimedOut++;
      throw new InjectedTimeout();
    }
    return r;
  };
  const client = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'insert') {
        return async (params: Parameters<ClickHouseClient['insert']>[0]) => {
          // enrich sends NDJSON text as a stream; read it so the marker can be looked for, then resend it.
          let text: string;
          if (params.values instanceof Readable) {
            text = '';
            for await (const chunk of params.values) text += String(chunk);
            params = { ...params, values: Readable.from([text]) };
          } else {
            text = JSON.stringify(params.values);
          }
          return inject(params.table, text, () => target.insert(params));
        };
      }
      // The embedded raw insert enrich uses (core/clickhouse.ts `rawInserter`) gets the same faults.
      if (prop === RAW_INSERT) {
        const raw = rawInserter(target);
        if (!raw) return undefined;
        const wrapped: RawInsert = (table, columns, body, settings) => inject(table, body.toString('utf8'), () => raw(table, columns, body, settings));
        return wrapped;
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return {
    client,
    outageUntil: (t) => (outage = t),
    timeoutAfterCommit: (table, n) => timeouts.set(table, n),
    partialCommit: (table, view) => (partial = { table, view }),
    rejectRowsContaining: (m, table = 'messages') => {
      marker = m;
      markerTable = table;
    },
    stats,
  };
}
