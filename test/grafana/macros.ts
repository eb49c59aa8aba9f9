/**
 * What Grafana and the ClickHouse plugin (grafana-clickhouse-datasource 4.x) do to a query's text
 * before ClickHouse sees it, ported so tests can run the exact SQL a dashboard sends:
 *
 * 1. In the browser (src/data/CHDatasource.ts `applyTemplateVariables`): `$__conditionalAll(cond, $var)`
 *    becomes `1=1` when the variable is All or empty, else `cond`; then Grafana's template service
 *    replaces `$var` / `${var}` / `${var:fmt}`, with the plugin's formatter (arrays -> `'a','b'`,
 *    single values unquoted) unless the reference names its own format.
 * 2. In the plugin backend (pkg/macros/macros.go via macropro): comments are blanked, then the time
 *    macros expand against the query's time range and interval. Alert rules only get this step.
 */

export interface Variable {
  name: string;
  /** A multi-value variable's value is an array; `['$__all']` (or `'$__all'`) is "All". */
  value: string | string[];
  /** Every option of the variable (what All expands to when the variable has no custom all value). */
  options?: string[];
  allValue?: string;
}

export interface TimeRange {
  from: Date;
  to: Date;
}

const ALL = '$__all';

const isAll = (v: string | string[]) => v === ALL || (Array.isArray(v) && v.includes(ALL));

/** The plugin's `getMacroArgs`: arguments of the call whose `(` is at `argsIndex`, split on top-level commas. */
function macroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let depth = 0;
  let last = 1;
  const sub = query.substring(argsIndex);
  let m: RegExpExecArray | null;
  while ((m = re.exec(sub)) !== null) {
    if (m[0] === '(') depth++;
    else if (m[0] === ')') depth--;
    if (m[0] === ',' && depth === 1) {
      args.push(sub.substring(last, re.lastIndex - 1));
      last = re.lastIndex;
    }
    if (depth === 0) {
      args.push(sub.substring(last, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

/** The plugin's `applyConditionalAll`, innermost (last) call first, as the plugin does. */
export function applyConditionalAll(rawQuery: string, vars: Variable[]): string {
  const macro = '$__conditionalAll(';
  let idx = rawQuery.lastIndexOf(macro);
  while (idx !== -1) {
    const params = macroArgs(rawQuery, idx + macro.length - 1);
    if (params.length !== 2) return rawQuery;
    const ref = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(params[1].trim());
    let phrase = params[0];
    if (ref) {
      const v = vars.find((x) => x.name === ref[0]);
      const value = v === undefined ? undefined : String(v.value);
      if (value === '' || value === ALL) phrase = '1=1';
    }
    rawQuery = rawQuery.replace(`${macro}${params[0]},${params[1]})`, phrase);
    idx = rawQuery.lastIndexOf(macro);
  }
  return rawQuery;
}

type Formatter = (value: string | string[]) => string;

/** The plugin's own formatter (`Datasource.format`): arrays are quoted and joined, scalars left bare. */
const pluginFormat: Formatter = (value) => (Array.isArray(value) ? `'${value.join("','")}'` : value);

/** Grafana's named formats that dashboards here use. */
const FORMATS: Record<string, Formatter> = {
  singlequote: (value) => {
    const q = (s: string) => `'${s.replace(/'/g, "\\'")}'`;
    return Array.isArray(value) ? value.map(q).join(',') : q(value);
  },
  doublequote: (value) => {
    const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;
    return Array.isArray(value) ? value.map(q).join(',') : q(value);
  },
  // encodeURIComponentStrict: encodeURIComponent plus !'()*; arrays as a glob `{a,b}`.
  percentencode: (value) => {
    const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    return strict(Array.isArray(value) ? `{${value.join(',')}}` : value);
  },
  csv: (value) => (Array.isArray(value) ? value.join(',') : value),
  raw: (value) => (Array.isArray(value) ? value.join(',') : value),
  text: (value) => (Array.isArray(value) ? value.join(' + ') : value),
};

/** Grafana's variable reference syntax: `$var`, `[[var:fmt]]`, `${var:fmt}` (template_srv.ts). */
const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

/**
 * Grafana's `templateSrv.replace(query, scopedVars, pluginFormat)`: unknown names (the plugin's
 * `$__` macros) are left for the backend. A custom all value is inserted unformatted, as Grafana does.
 */
export function interpolateVariables(query: string, vars: Variable[], builtins: Record<string, string> = {}): string {
  return query.replace(VARIABLE_RE, (match, v1, v2, fmt2, v3, _path, fmt3) => {
    const name: string = v1 ?? v2 ?? v3;
    if (name in builtins) return builtins[name];
    const variable = vars.find((x) => x.name === name);
    if (!variable) return match;
    const fmtName: string | undefined = fmt2 ?? fmt3;
    let value = variable.value;
    if (isAll(value)) {
      if (variable.allValue !== undefined && fmtName !== 'text' && fmtName !== 'percentencode') return variable.allValue;
      value = variable.options ?? [];
    }
    if (fmtName !== undefined) {
      const f = FORMATS[fmtName];
      if (!f) throw new Error(`format ':${fmtName}' of \${${name}} is not ported to test/grafana/macros.ts`);
      return f(value);
    }
    return pluginFormat(value);
  });
}

/**
 * macropro's `StripComments`: `--` and `/* *\/` comments become spaces of the same length, string
 * literals ('' and "" quoted, doubled-quote escapes) are kept.
 */
export function stripComments(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; ) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          j++;
          break;
        }
        j++;
      }
      out += sql.slice(i, j);
      i = j;
    } else if (c === '-' && sql[i + 1] === '-') {
      let j = i;
      while (j < sql.length && sql[j] !== '\n' && sql[j] !== '\r') j++;
      out += ' '.repeat(j - i);
      i = j;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const j = end === -1 ? sql.length : end + 2;
      // Newlines inside the block stay, so line numbers in errors still match.
      out += sql.slice(i, j).replace(/[^\n\r]/g, ' ');
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

export interface MacroContext {
  range: TimeRange;
  /** The query interval (Grafana's `$__interval`), in milliseconds. */
  intervalMs: number;
}

const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const day = (d: Date) => d.toISOString().slice(0, 10);
const toDateTime = (d: Date) => `toDateTime(${unix(d)})`;
const toDateTime64 = (d: Date) => `fromUnixTimestamp64Milli(${d.getTime()})`;
const toDate = (d: Date) => `toDate('${day(d)}')`;

type Macro = (ctx: MacroContext, args: string[]) => string;

const arity = (name: string, n: number, args: string[]) => {
  if (args.length !== n) throw new Error(`macro $__${name}: expected ${n} argument(s), received ${args.length}`);
};

/** pkg/macros/macros.go, one entry per registered macro. */
const MACROS: Record<string, Macro> = {
  fromTime: (c) => toDateTime(c.range.from),
  toTime: (c) => toDateTime(c.range.to),
  fromTime_ms: (c) => toDateTime64(c.range.from),
  toTime_ms: (c) => toDateTime64(c.range.to),
  timeFilter: (c, a) => (arity('timeFilter', 1, a), `${a[0]} >= ${toDateTime(c.range.from)} AND ${a[0]} <= ${toDateTime(c.range.to)}`),
  timeFilter_ms: (c, a) => (arity('timeFilter_ms', 1, a), `${a[0]} >= ${toDateTime64(c.range.from)} AND ${a[0]} <= ${toDateTime64(c.range.to)}`),
  dateFilter: (c, a) => (arity('dateFilter', 1, a), `${a[0]} >= ${toDate(c.range.from)} AND ${a[0]} <= ${toDate(c.range.to)}`),
  dateTimeFilter: (c, a) => dateTimeFilter(c, a),
  dt: (c, a) => dateTimeFilter(c, a),
  timeInterval: (c, a) => (arity('timeInterval', 1, a), `toStartOfInterval(toDateTime(${a[0]}), INTERVAL ${Math.trunc(Math.max(c.intervalMs / 1000, 1))} second)`),
  timeInterval_ms: (c, a) => (arity('timeInterval_ms', 1, a), `toStartOfInterval(toDateTime64(${a[0]}, 3), INTERVAL ${Math.trunc(Math.max(c.intervalMs, 1))} millisecond)`),
  interval_s: (c) => String(Math.trunc(Math.max(c.intervalMs / 1000, 1))),
};

function dateTimeFilter(c: MacroContext, a: string[]): string {
  arity('dateTimeFilter', 2, a);
  const { from, to } = c.range;
  return `(${a[0]} >= ${toDate(from)} AND ${a[0]} <= ${toDate(to)}) AND (${a[1]} >= ${toDateTime(from)} AND ${a[1]} <= ${toDateTime(to)})`;
}

/** macropro's argument split: top-level commas, quotes respected, each argument trimmed. */
function splitArgs(raw: string): string[] {
  raw = raw.trim();
  if (raw === '') return [];
  const args: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "'" || c === '"') {
      const end = raw.indexOf(c, i + 1);
      i = end === -1 ? raw.length : end;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      args.push(raw.slice(start, i).trim());
      start = i + 1;
    }
  }
  args.push(raw.slice(start).trim());
  return args;
}

function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"') {
      const end = s.indexOf(c, i + 1);
      if (end === -1) return -1;
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** macropro's `Interpolate`: comments blanked, macro names matched longest first. */
export function expandMacros(sql: string, ctx: MacroContext): string {
  let result = stripComments(sql);
  const names = Object.keys(MACROS).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  for (const name of names) {
    const token = `$__${name}`;
    let out = '';
    let s = result;
    for (;;) {
      const idx = s.indexOf(token);
      if (idx === -1) {
        out += s;
        break;
      }
      const after = idx + token.length;
      if (after < s.length && /[A-Za-z0-9_]/.test(s[after])) {
        out += s.slice(0, after);
        s = s.slice(after);
        continue;
      }
      out += s.slice(0, idx);
      s = s.slice(after);
      let raw = '';
      if (s[0] === '(') {
        const end = closingParen(s, 0);
        if (end !== -1) {
          raw = s.slice(1, end);
          s = s.slice(end + 1);
        }
      }
      out += MACROS[name](ctx, splitArgs(raw));
    }
    result = out;
  }
  return result;
}

/** Grafana's `rangeUtil.roundInterval` (ms -> a "nice" interval in ms). */
export function roundInterval(ms: number): number {
  const steps: Array<[number, number]> = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
    [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000],
    [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000],
    [2700000, 1800000], [5400000, 3600000], [9000000, 7200000], [16200000, 10800000],
    [32400000, 21600000], [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, value] of steps) if (ms < below) return value;
  return 31536000000;
}

/**
 * Grafana's query interval: range / max data points, rounded, never below the panel's min interval
 * (`interval`, e.g. "30s"). Alert queries get a fixed 1 s interval from the alerting engine.
 */
export function queryIntervalMs(range: TimeRange, maxDataPoints: number, minInterval?: string): number {
  const raw = roundInterval((range.to.getTime() - range.from.getTime()) / maxDataPoints);
  const min = minInterval ? parseDuration(minInterval) : 0;
  return Math.max(raw, min);
}

export function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(s.trim());
  if (!m) throw new Error(`not a Grafana duration: ${s}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/** Everything the browser and then the backend do to a dashboard query, in order. */
export function expandDashboardQuery(sql: string, vars: Variable[], ctx: MacroContext): string {
  const builtins = {
    __interval: `${Math.round(ctx.intervalMs / 1000)}s`,
    __interval_ms: String(ctx.intervalMs),
    __from: String(ctx.range.from.getTime()),
    __to: String(ctx.range.to.getTime()),
  };
  const browser = interpolateVariables(applyConditionalAll(sql, vars), vars, builtins);
  return expandMacros(browser, ctx);
}
