/**
 * Logins of users who opted out (`opt_outs FINAL WHERE active`), refreshed every few seconds. Enrich
 * drops their events before storing; the API deletes what was stored before the opt-out. A failed
 * refresh keeps the last list (logged): dropping is best effort for the seconds of a refresh interval,
 * and the API's delete covers the rest.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../core/logger.ts';

export interface OptOuts {
  has(login: string): boolean;
  /** Loads once now; resolves false when the table could not be read. */
  refresh(): Promise<boolean>;
  close(): void;
}

export function watchOptOuts(client: ClickHouseClient, logger: Logger, everyMs = 5000): OptOuts {
  let logins = new Set<string>();
  const refresh = async () => {
    try {
      const rs = await client.query({ query: 'SELECT login FROM opt_outs FINAL WHERE active', format: 'JSONCompactEachRow' });
      logins = new Set((await rs.json<[string]>()).map((r) => r[0].toLowerCase()));
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not refresh opt-outs; keeping the last list');
      return false;
    }
  };
  const timer = setInterval(() => void refresh(), everyMs);
  timer.unref();
  return {
    has: (login) => logins.size > 0 && logins.has(login),
    refresh,
    close: () => clearInterval(timer),
  };
}
