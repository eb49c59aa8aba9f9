/**
 * Reads the provisioned files and lists every query Grafana would send: panel targets, template
 * variable queries, annotation queries and alert rule queries; and runs one the way Grafana does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import assert from 'node:assert/strict';
import type { ClickHouseClient } from '../../../core/clickhouse.ts';
import { listMigrations } from '../../../clickhouse/migrate.ts';
import { expandMacros, parseDuration } from '../macros.ts';
import { REPO_ROOT } from '../../support/paths.ts';

export const PROVISIONING = path.join(REPO_ROOT, 'grafana', 'provisioning');
export const DASHBOARD_DIR = path.join(PROVISIONING, 'dashboards', 'twichist');
export const DATASOURCE_UID = 'twichist-clickhouse';

export interface Panel {
  id: number;
  type: string;
  title: string;
  interval?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: Array<{ refId: string; rawSql: string; format: number; datasource?: { uid: string } }>;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string; multi?: boolean; includeAll?: boolean; datasource?: { uid: string } }> };
  annotations: { list: Array<{ name: string; datasource?: { uid: string }; target?: { rawSql: string; datasource?: { uid: string } } }> };
}

export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return fs
    .readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, file), 'utf8')) as Dashboard }));
}

export type QueryKind = 'panel' | 'variable' | 'annotation' | 'alert';

export interface ProvisionedQuery {
  kind: QueryKind;
  /** Where it lives, for messages: "overview.json / Messages". */
  where: string;
  sql: string;
  /** Panel type (`timeseries`, `table`, ...), `variable`, `annotation` or `alert`. */
  shape: string;
  interval?: string;
  /** Alerts: seconds of history (the rule's relative time range). */
  lookbackS?: number;
  dashboard?: string;
}

/**
 * Grafana's provisioning interpolation (pkg/services/provisioning/values): `$$` is a literal `$`,
 * `$NAME` / `${NAME}` come from the environment (missing: empty).
 */
export function interpolateProvisioning(value: string, env: Record<string, string>): string {
  return value
    .split('$$')
    .map((part) => part.replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g, (_m, a: string | undefined, b: string | undefined) => env[(a ?? b)!] ?? ''))
    .join('$');
}

export function loadAlertRules(env: Record<string, string> = {}) {
  const doc = parse(fs.readFileSync(path.join(PROVISIONING, 'alerting', 'twichist.yaml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Array<{ uid: string; title: string; data: Array<{ refId: string; datasourceUid: string; relativeTimeRange?: { from: number; to: number }; model: { rawSql?: string } }> }> }>;
  };
  return doc.groups.flatMap((g) => g.rules).map((r) => ({
    ...r,
    data: r.data.map((d) => ({ ...d, model: { ...d.model, rawSql: d.model.rawSql === undefined ? undefined : interpolateProvisioning(d.model.rawSql, env) } })),
  }));
}

export function provisionedQueries(): ProvisionedQuery[] {
  const out: ProvisionedQuery[] = [];
  for (const { file, dashboard } of loadDashboards()) {
    for (const v of dashboard.templating.list) {
      if (v.type === 'query' && v.query) out.push({ kind: 'variable', where: `${file} / variable ${v.name}`, sql: v.query, shape: 'variable', dashboard: file });
    }
    for (const a of dashboard.annotations.list) {
      if (a.target?.rawSql) out.push({ kind: 'annotation', where: `${file} / annotation ${a.name}`, sql: a.target.rawSql, shape: 'annotation', dashboard: file });
    }
    for (const p of dashboard.panels) {
      for (const t of p.targets ?? []) {
        out.push({ kind: 'panel', where: `${file} / ${p.title}`, sql: t.rawSql, shape: p.type, interval: p.interval, dashboard: file });
      }
    }
  }
  for (const r of loadAlertRules()) {
    for (const d of r.data) {
      if (d.datasourceUid !== DATASOURCE_UID || !d.model.rawSql) continue;
      out.push({ kind: 'alert', where: `alert ${r.title}`, sql: d.model.rawSql, shape: 'alert', lookbackS: d.relativeTimeRange?.from });
    }
  }
  return out;
}

/** Evaluates an alert rule as Grafana does at `now`: its relative range, a 1 s interval, backend macros only. */
export function alertRule(client: ClickHouseClient, title: string) {
  const r = loadAlertRules().find((x) => x.title === title);
  assert.ok(r, `no alert rule ${title}`);
  const a = r.data.find((d) => d.refId === 'A')!;
  const b = r.data.find((d) => d.refId === 'B')! as unknown as { model: { conditions: Array<{ evaluator: { type: string; params: number[] } }> } };
  assert.equal(b.model.conditions[0].evaluator.type, 'gt');
  const threshold = b.model.conditions[0].evaluator.params[0];
  const lookbackMs = a.relativeTimeRange!.from * 1000;
  /** Every series the query returns at `now`, with its value (the one numeric column). */
  const series = async (now: number): Promise<Array<{ labels: Record<string, string>; value: number }>> => {
    const sql = expandMacros(a.model.rawSql!, { range: { from: new Date(now - lookbackMs), to: new Date(now) }, intervalMs: 1000 });
    return ((await runSql(client, sql)).data).map((row) => {
      const labels: Record<string, string> = {};
      let value = NaN;
      for (const [k, v] of Object.entries(row)) {
        if (typeof v === 'string') labels[k] = v;
        else value = Number(v);
      }
      return { labels, value };
    });
  };
  return {
    threshold,
    /** The rule's pending period (`for`), ms. */
    forMs: parseDuration((r as unknown as { for: string }).for),
    series,
    /** The series over the threshold at `now`, with their value. */
    async firing(now: number): Promise<Array<{ labels: Record<string, string>; value: number }>> {
      return (await series(now)).filter((s) => s.value > threshold);
    },
  };
}

export interface Result {
  meta: Array<{ name: string; type: string }>;
  data: Array<Record<string, unknown>>;
}

/** Runs SQL text exactly as given (what Grafana sends) and returns column types and rows. */
export async function runSql(client: ClickHouseClient, sql: string): Promise<Result> {
  const rs = await client.query({ query: sql, format: 'JSON' });
  return (await rs.json()) as unknown as Result;
}

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/;
const TIME = /^(Nullable\()?DateTime/;
const TEXT = /^(Nullable\()?(LowCardinality\()?(Nullable\()?(String|Enum)/;

/**
 * What the panel needs from the frame, or the reason it would not render. Time series: a DateTime
 * `time`, numbers, string labels, sorted by time (the plugin's long-to-wide conversion needs it).
 */
export function shapeProblem(shape: string, r: Result): string | null {
  const cols = r.meta;
  const numeric = cols.filter((c) => NUMERIC.test(c.type));
  const byName = (n: string) => cols.find((c) => c.name === n);
  switch (shape) {
    case 'timeseries': {
      const time = byName('time');
      if (!time || !TIME.test(time.type)) return `needs a DateTime column named time, got ${JSON.stringify(cols)}`;
      if (numeric.length === 0) return 'needs at least one numeric column';
      const other = cols.filter((c) => c !== time && !NUMERIC.test(c.type));
      if (other.some((c) => !TEXT.test(c.type))) return `label columns must be strings: ${JSON.stringify(other)}`;
      const times = r.data.map((row) => String(row.time));
      for (let i = 1; i < times.length; i++) if (times[i] < times[i - 1]) return `rows are not sorted by time (row ${i})`;
      return null;
    }
    case 'stat':
      return numeric.length >= 1 ? null : `needs a numeric column, got ${JSON.stringify(cols)}`;
    case 'barchart':
      return numeric.length >= 1 && cols.some((c) => TEXT.test(c.type)) ? null : 'needs a string column and a numeric column';
    case 'bargauge':
    case 'piechart':
      return numeric.length >= 1 && cols.some((c) => TEXT.test(c.type)) ? null : 'needs a name column and a numeric column';
    case 'table':
      return cols.length > 0 ? null : 'no columns';
    case 'variable':
      return cols.length >= 1 && TEXT.test(cols[0].type) ? null : `first column must be a string, got ${JSON.stringify(cols)}`;
    case 'annotation': {
      const time = byName('time');
      const text = byName('text');
      if (!time || !TIME.test(time.type)) return 'needs a DateTime column named time';
      if (!text || !TEXT.test(text.type)) return 'needs a String column named text';
      return null;
    }
    case 'alert': {
      if (numeric.length !== 1) return `alert queries need exactly one numeric column, got ${JSON.stringify(cols)}`;
      const labels = cols.filter((c) => !NUMERIC.test(c.type));
      if (labels.some((c) => !TEXT.test(c.type))) return `label columns must be strings: ${JSON.stringify(labels)}`;
      return null;
    }
    default:
      return `unknown panel type ${shape}`;
  }
}

/** Tables and views that some migration creates (to tell "not built yet" from "broken"). */
export function migratedTables(): Set<string> {
  const names = new Set<string>();
  for (const m of listMigrations()) {
    const text = fs.readFileSync(m.upPath, 'utf8');
    for (const match of text.matchAll(/CREATE\s+(?:TABLE|VIEW|MATERIALIZED VIEW|DICTIONARY)\s+(?:IF NOT EXISTS\s+)?`?(\w+)`?/gi)) names.add(match[1]);
  }
  return names;
}
