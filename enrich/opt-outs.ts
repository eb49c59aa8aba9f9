/**
 * Logins and user ids of users who opted out (`opt_outs FINAL WHERE active`), refreshed every
 * OPT_OUT_REFRESH_MS. Enrich drops their events before storing and blanks them in other users' events
 * (core/privacy.ts); the API deletes what was stored before the opt-out, after waiting one refresh for
 * what enrich consumed before it knew (api/privacy.ts). A failed refresh keeps the last list (logged).
 * The id catches a user's chat under a login they took after opting out (imports carry no ingest filter).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../core/logger.ts';
import { OPT_OUT_REFRESH_MS } from '../core/privacy.ts';

export interface OptOuts {
  /** Whether the login (lowercase) or the user id is opted out; null is never. */
  has(login: string | null, userId?: string | null): boolean;
  /** Loads once now; resolves false when the table could not be read. */
  refresh(): Promise<boolean>;
  close(): void;
}

export function watchOptOuts(client: ClickHouseClient, logger: Logger, everyMs = OPT_OUT_REFRESH_MS): OptOuts {
  let logins = new Set<string>();
  let ids = new Set<string>();
  const refresh = async () => {
    try {
      const rs = await client.query({ query: 'SELECT login, user_id FROM opt_outs FINAL WHERE active', format: 'JSONCompactEachRow' });
      const list = await rs.json<[string, string | null]>();
      logins = new Set(list.map((r) => r[0].toLowerCase()));
      ids = new Set(list.flatMap((r) => (r[1] ? [r[1]] : [])));
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not refresh opt-outs; keeping the last list');
      return false;
    }
  };
  const timer = setInterval(() => void refresh(), everyMs);
  timer.unref();
  return {
    // every opt_outs row has a login: an empty set is the common case, one probe
    has: (login, userId = null) => logins.size > 0 && ((login !== null && logins.has(login)) || (userId !== null && userId !== '' && ids.has(userId))),
    refresh,
    close: () => clearInterval(timer),
  };
}
