/**
 * Builders for the provisioned dashboards: every panel gets the provisioned datasource, a grid
 * position from its row, and a SQL target in the shape grafana-clickhouse-datasource 4.x saves.
 * `node grafana/build/index.ts` writes grafana/provisioning/; test/grafana checks the files match.
 */

/** The provisioned datasource (grafana/provisioning/datasources/clickhouse.yaml). */
export const DATASOURCE = { type: 'grafana-clickhouse-datasource', uid: 'twichist-clickhouse' } as const;
export const PLUGIN_VERSION = '4.10.1';

/** The plugin's `Format` enum: how the backend shapes the rows into a frame. */
const FORMAT = { time_series: 0, table: 1 } as const;

export type PanelType = 'timeseries' | 'table' | 'stat' | 'barchart' | 'piechart' | 'bargauge';

export interface PanelSpec {
  title: string;
  description: string;
  type: PanelType;
  sql: string;
  /** Grid width (of 24) and height. */
  w: number;
  h: number;
  unit?: string;
  /** Smallest bucket (`$__timeInterval`): the finest rollup is 30 s, so finer buckets would be empty. */
  interval?: string;
  stack?: boolean;
  decimals?: number;
  /** Extra fieldConfig.defaults and overrides, options and transformations, merged as given. */
  defaults?: Record<string, unknown>;
  overrides?: unknown[];
  options?: Record<string, unknown>;
  transformations?: unknown[];
}

export interface VariableSpec {
  name: string;
  label: string;
  description: string;
  /** `query`: options from SQL; `textbox`: free text (e.g. a login). */
  type: 'query' | 'textbox';
  sql?: string;
  multi?: boolean;
  includeAll?: boolean;
}

export interface AnnotationSpec {
  name: string;
  color: string;
  sql: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  annotations?: AnnotationSpec[];
  /** Rows of panels, laid out left to right; a row's widths must fit in 24. */
  rows: Array<{ title?: string; panels: PanelSpec[] }>;
}

export const target = (sql: string, format: keyof typeof FORMAT, refId = 'A') => ({
  refId,
  datasource: DATASOURCE,
  editorType: 'sql',
  queryType: format === 'time_series' ? 'timeseries' : 'table',
  format: FORMAT[format],
  rawSql: sql,
  pluginVersion: PLUGIN_VERSION,
});

/** Which frame shape a panel type needs from the plugin. */
export const formatOf = (type: PanelType): keyof typeof FORMAT => (type === 'timeseries' ? 'time_series' : 'table');

function panelJson(p: PanelSpec, id: number, x: number, y: number) {
  const custom: Record<string, unknown> =
    p.type === 'timeseries'
      ? { drawStyle: 'line', lineWidth: 1, fillOpacity: p.stack ? 60 : 10, showPoints: 'never', spanNulls: false, stacking: { mode: p.stack ? 'normal' : 'none', group: 'A' } }
      : {};
  return {
    id,
    type: p.type,
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos: { x, y, w: p.w, h: p.h },
    ...(p.interval ? { interval: p.interval } : {}),
    fieldConfig: {
      defaults: {
        ...(p.unit ? { unit: p.unit } : {}),
        ...(p.decimals !== undefined ? { decimals: p.decimals } : {}),
        ...(Object.keys(custom).length ? { custom } : {}),
        ...p.defaults,
      },
      overrides: p.overrides ?? [],
    },
    options: {
      ...(p.type === 'timeseries' ? { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } } : {}),
      ...(p.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none' } : {}),
      ...(p.type === 'table' ? { showHeader: true, cellHeight: 'sm' } : {}),
      ...p.options,
    },
    ...(p.transformations ? { transformations: p.transformations } : {}),
    targets: [target(p.sql, formatOf(p.type))],
  };
}

function variableJson(v: VariableSpec) {
  if (v.type === 'textbox') {
    return { name: v.name, label: v.label, description: v.description, type: 'textbox', query: '', current: { text: '', value: '' }, hide: 0 };
  }
  const all = v.includeAll ? { text: ['All'], value: ['$__all'] } : { text: '', value: '' };
  return {
    name: v.name,
    label: v.label,
    description: v.description,
    type: 'query',
    datasource: DATASOURCE,
    query: v.sql,
    definition: v.sql,
    multi: v.multi ?? false,
    includeAll: v.includeAll ?? false,
    current: v.multi ? all : { ...all, text: v.includeAll ? 'All' : '', value: v.includeAll ? '$__all' : '' },
    // On dashboard load: the option lists do not depend on the time range, so imported history is listed.
    refresh: 1,
    sort: 1,
    hide: 0,
    options: [],
  };
}

/** Links between the dashboards, keeping the time range and the variables. */
const LINKS = [{ type: 'dashboards', tags: ['twichist'], asDropdown: false, includeVars: true, keepTime: true, title: 'Twichist' }];

export function dashboardJson(d: DashboardSpec) {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of d.rows) {
    if (row.title) {
      panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
      y += 1;
    }
    let x = 0;
    let height = 0;
    for (const p of row.panels) {
      if (x + p.w > 24) throw new Error(`${d.uid}: row with "${p.title}" is wider than 24`);
      panels.push(panelJson(p, id++, x, y));
      x += p.w;
      height = Math.max(height, p.h);
    }
    y += height;
  }
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['twichist', ...d.tags],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 41,
    version: 1,
    // Live use; for imported history see the "Data range" panel and docs/grafana.md.
    time: { from: 'now-7d', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    refresh: '1m',
    links: LINKS,
    templating: { list: d.variables.map(variableJson) },
    annotations: {
      list: [
        { builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' },
        ...(d.annotations ?? []).map((a) => ({ name: a.name, datasource: DATASOURCE, enable: true, iconColor: a.color, target: target(a.sql, 'table', 'Anno') })),
      ],
    },
    panels,
  };
}

// ---- SQL pieces shared by the dashboards -------------------------------------------------------

/** The channel filter: `1=1` when All is selected, so the query does not carry every name. */
export const CHANNEL = '$__conditionalAll(channel IN (${channel:singlequote}), $channel)';

/** Rollup resolutions and the `$__interval_s` range each serves. */
const TIERS: Array<[string, string]> = [
  ['30s', '$__interval_s < 60'],
  ['1m', '$__interval_s >= 60 AND $__interval_s < 3600'],
  ['1h', '$__interval_s >= 3600 AND $__interval_s < 86400'],
  ['1d', '$__interval_s >= 86400'],
];

/**
 * One SELECT per rollup resolution, each gated on the bucket size: the gate is a constant, so
 * ClickHouse reads only the one table whose resolution fits the panel's interval (a year at 1 d
 * buckets reads chat_1d, not a million 30 s rows). `select(table)` returns `SELECT ... FROM table
 * WHERE`; the gate and the time filter are appended.
 */
export function tiered(family: 'chat' | 'emotes', select: (table: string) => string, rest: string, orderBy = 'time'): string {
  const parts = TIERS.map(([res, gate]) => `${select(`${family}_${res}`)} ${gate} AND $__timeFilter(\`window\`)${rest}`);
  return `SELECT * FROM (\n${parts.join('\nUNION ALL\n')}\n)\nORDER BY ${orderBy}`;
}

export const header = (lines: string[]) => lines.map((l) => `-- ${l}`).join('\n') + '\n';
