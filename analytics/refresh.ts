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
