/**
 * Refreshes every refreshable materialized view of the database now, in dependency order, and waits
 * for each: when this returns, `bursts`, `chatter_features`, `hype_predictions`, ... reflect every row
 * inserted before the call. `twichist import` and `twichist up` call it; tests call it instead of
 * waiting for the schedules (30 s / 5 min).
 *
 * Order: a view runs after the views it names in `DEPENDS ON` and after any refreshable view whose
 * target table its query reads (found in `system.tables`, so other stages' views are covered too).
 * Cost: one `SYSTEM REFRESH VIEW` + `SYSTEM WAIT VIEW` per view, i.e. the sum of their refresh times
 * (most recompute their full history; burst_windows_mv and bursts_mv only the hours whose chat changed,
 * migration 0053; see the migrations for each view's cost).
 */
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { loadHypeModel } from './hype-model.ts';

export interface RefreshOptions {
  /** Only these views (and in this order after sorting); default every refreshable view. */
  views?: string[];
  /** Skip loading the saved hype weights into `hype_model` (default: load when they changed). */
  skipHypeModel?: boolean;
  onRefreshed?: (view: string, ms: number) => void;
  /** Aborted: start no further refresh and return the views refreshed so far (a shutdown). */
  signal?: AbortSignal;
}

interface ViewRow { name: string; create_table_query: string }

/** Refreshable views of the current database, dependencies first. */
export async function refreshableViews(client: ClickHouseClient): Promise<string[]> {
  const rs = await client.query({
    query: `SELECT name, create_table_query FROM system.tables
            WHERE database = currentDatabase() AND engine = 'MaterializedView' AND create_table_query LIKE '% REFRESH %'
            ORDER BY name`,
    format: 'JSONEachRow',
  });
  const views = await rs.json<ViewRow>();
  const target = new Map<string, string>();
  for (const v of views) {
    const to = / TO (?:[\w]+\.)?`?(\w+)`?/.exec(v.create_table_query);
    if (to) target.set(v.name, to[1]);
  }
  const deps = new Map<string, Set<string>>();
  for (const v of views) {
    const d = new Set<string>();
    const dependsOn = / DEPENDS ON (.+?) (?:TO|APPEND|SETTINGS|EMPTY|DEFINER|AS) /.exec(v.create_table_query);
    if (dependsOn) for (const part of dependsOn[1].split(',')) d.add(part.trim().replace(/^.*\./, '').replace(/`/g, ''));
    const body = v.create_table_query.slice(v.create_table_query.indexOf(' AS '));
    for (const [other, table] of target) {
      // Views appending to one table (chatter_counts) read it as their own state, not as an input.
      if (table === target.get(v.name)) continue;
      if (other !== v.name && new RegExp(`[\\s.(\`]${table}[\\s)\`,]`).test(body)) d.add(other);
    }
    deps.set(v.name, d);
  }
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string) => {
    if (state.get(name) === 'done' || !deps.has(name)) return;
    if (state.get(name) === 'visiting') throw new Error(`refreshable views depend on each other in a cycle through ${name}`);
    state.set(name, 'visiting');
    for (const d of deps.get(name)!) visit(d);
    state.set(name, 'done');
    ordered.push(name);
  };
  for (const v of views) visit(v.name);
  return ordered;
}

/**
 * Runs each view's refresh and waits for it. A refresh that was already running when we asked may
 * have started before the caller's last insert; so after waiting we check that the finished refresh
 * started no earlier than our request (second resolution, the precision of `system.view_refreshes`)
 * and run it once more otherwise.
 */
export async function refreshDerived(client: ClickHouseClient, opts: RefreshOptions = {}): Promise<string[]> {
  if (!opts.skipHypeModel) await loadHypeModel(client);
  let views = await refreshableViews(client);
  if (opts.views) views = views.filter((v) => opts.views!.includes(v));
  const done: string[] = [];
  for (const view of views) {
    const started = Date.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      if (opts.signal?.aborted) return done;
      const asked = await serverNow(client);
      // Identifiers cannot be query parameters; `view` comes from system.tables and is checked here.
      if (!/^\w+$/.test(view)) throw new Error(`unexpected view name ${JSON.stringify(view)}`);
      await client.command({ query: `SYSTEM REFRESH VIEW ${view}` });
      await client.command({ query: `SYSTEM WAIT VIEW ${view}` });
      const rs = await client.query({
        query: 'SELECT toUInt32(last_refresh_time) AS t FROM system.view_refreshes WHERE database = currentDatabase() AND view = {view:String}',
        query_params: { view },
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ t: number }>();
      if (row && row.t >= asked) break;
    }
    opts.onRefreshed?.(view, Date.now() - started);
    done.push(view);
  }
  return done;
}

async function serverNow(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: 'SELECT toUInt32(now()) AS t', format: 'JSONEachRow' });
  return (await rs.json<{ t: number }>())[0].t;
}

/** A refreshable view's schedule and what the engine that runs it knows of its refreshes (`system.view_refreshes`). */
export interface ViewRefreshState {
  view: string;
  /** Its `REFRESH EVERY|AFTER` period in seconds; null for a schedule this does not read (RANDOMIZE aside). */
  period_s: number | null;
  /** The table it writes (`TO`), null when it has none. */
  target: string | null;
  /** ClickHouse's: `Scheduled`, `Running`, `Disabled` (stopped), ... */
  status: string;
  /** ISO times, null when none happened in this engine. */
  last_success_at: string | null;
  last_refresh_at: string | null;
  /** Null also while the view is not scheduled yet (the engine then shows the period as a time in 1970). */
  next_refresh_at: string | null;
  /** Seconds since the last success by the engine's clock, null when none. */
  last_success_age_s: number | null;
  /** The last refresh's error (its first line, without the stack trace); null when it succeeded. */
  error: string | null;
  /**
   * Newest active part of the target table: when the table was last written, by any engine (stored with the
   * data, so it outlives the process that refreshed; a merge also counts). Null when the table is empty.
   */
  target_written_at: string | null;
}

const REFRESH_UNIT_S: Record<string, number> = { SECOND: 1, MINUTE: 60, HOUR: 3600, DAY: 86_400, WEEK: 604_800, MONTH: 2_592_000, YEAR: 31_536_000 };

/** Seconds of a `REFRESH EVERY|AFTER n UNIT` clause in a view's CREATE query, or null. */
export function refreshPeriodS(createQuery: string): number | null {
  const m = /\bREFRESH\s+(?:EVERY|AFTER)\s+(\d+)\s+(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH|YEAR)S?\b/i.exec(createQuery);
  return m ? Number(m[1]) * REFRESH_UNIT_S[m[2].toUpperCase()] : null;
}

/** ClickHouse's exception text without the stack trace it appends: its first line, ", Stack trace (...)" dropped. */
export function refreshErrorLine(exception: string): string | null {
  const line = exception.split('\n')[0].replace(/,?\s*Stack trace \(when copying this message.*$/, '').trim();
  return line === '' ? null : line;
}

const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());

/**
 * Every refreshable view of the current database with its refresh state, and how long the engine has run
 * (`uptime()`: the refreshes' state lives in the engine's memory, so it covers that long only). Through a
 * control server this is the serving process's engine; an embedded engine opened just for the call knows
 * no refresh (and starts scheduling them).
 */
export async function viewRefreshStates(client: ClickHouseClient): Promise<{ engine_uptime_s: number; views: ViewRefreshState[] }> {
  const rs = await client.query({
    query: `SELECT t.name AS view, t.create_table_query AS create_query, uptime() AS uptime_s,
                   ifNull(r.status, '') AS status, ifNull(r.exception, '') AS exception,
                   toUnixTimestamp(r.last_success_time) AS last_success_s, toUnixTimestamp(r.last_refresh_time) AS last_refresh_s,
                   toUnixTimestamp(r.next_refresh_time) AS next_refresh_s, dateDiff('second', r.last_success_time, now()) AS last_success_age_s
            FROM system.tables AS t
            LEFT JOIN (SELECT * FROM system.view_refreshes WHERE database = currentDatabase()) AS r ON r.view = t.name
            WHERE t.database = currentDatabase() AND t.engine = 'MaterializedView' AND t.create_table_query LIKE '% REFRESH %'
            ORDER BY t.name
            SETTINGS join_use_nulls = 1`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ view: string; create_query: string; uptime_s: number; status: string; exception: string; last_success_s: number | null; last_refresh_s: number | null; next_refresh_s: number | null; last_success_age_s: number | null }>();
  const targetOf = (q: string) => / TO (?:\w+\.)?`?(\w+)`?/.exec(q)?.[1] ?? null;
  const targets = [...new Set(rows.map((r) => targetOf(r.create_query)).filter((t): t is string => t !== null))];
  const written = new Map<string, number>();
  if (targets.length > 0) {
    const parts = await client.query({
      query: 'SELECT table, toUnixTimestamp(max(modification_time)) AS t FROM system.parts WHERE database = currentDatabase() AND active AND table IN {targets:Array(String)} GROUP BY table',
      query_params: { targets },
      format: 'JSONEachRow',
    });
    for (const p of await parts.json<{ table: string; t: number }>()) written.set(p.table, Number(p.t));
  }
  // a view not scheduled yet shows its period as a time since 1970
  const scheduled = (s: number | null) => (s === null || s < 946_684_800 ? null : s);
  return {
    engine_uptime_s: Number(rows[0]?.uptime_s ?? 0),
    views: rows.map((r) => {
      const target = targetOf(r.create_query);
      return {
        view: r.view,
        period_s: refreshPeriodS(r.create_query),
        target,
        status: r.status,
        last_success_at: iso(r.last_success_s === null ? null : Number(r.last_success_s)),
        last_refresh_at: iso(r.last_refresh_s === null ? null : Number(r.last_refresh_s)),
        next_refresh_at: iso(scheduled(r.next_refresh_s === null ? null : Number(r.next_refresh_s))),
        last_success_age_s: r.last_success_age_s === null ? null : Number(r.last_success_age_s),
        error: refreshErrorLine(r.exception),
        target_written_at: iso(target === null ? null : (written.get(target) ?? null)),
      };
    }),
  };
}
