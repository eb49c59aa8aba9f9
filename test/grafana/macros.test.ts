/**
 * The macro port against the expansions grafana-clickhouse-datasource's own tests expect
 * (pkg/macros/macros_test.go, src/data/CHDatasource.test.ts) and Grafana's template formats.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyConditionalAll, expandDashboardQuery, expandMacros, interpolateVariables, queryIntervalMs, stripComments, type Variable } from './macros.ts';
import { interpolateProvisioning } from './support/provisioned.ts';

const range = { from: new Date('2014-11-12T11:45:26.123Z'), to: new Date('2015-11-12T11:45:26.456Z') };
const ctx = { range, intervalMs: 20_000 };

test('time macros expand as the plugin backend does', () => {
  const cases: Array<[string, string]> = [
    ['select * from foo where $__timeFilter(cast(sth as timestamp) )', 'select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)'],
    ['select * from foo where $__timeFilter_ms(cast(sth as timestamp))', 'select * from foo where cast(sth as timestamp) >= fromUnixTimestamp64Milli(1415792726123) AND cast(sth as timestamp) <= fromUnixTimestamp64Milli(1447328726456)'],
    ['select * from foo where ( date >= $__fromTime and date <= $__toTime ) limit 100', 'select * from foo where ( date >= toDateTime(1415792726) and date <= toDateTime(1447328726) ) limit 100'],
    ['select * from foo where ( date >= $__fromTime_ms ) and ( date <= $__toTime_ms ) limit 100', 'select * from foo where ( date >= fromUnixTimestamp64Milli(1415792726123) ) and ( date <= fromUnixTimestamp64Milli(1447328726456) ) limit 100'],
    ['$__dateFilter(dateCol)', "dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')"],
    ['$__dateTimeFilter(dateCol, timeCol)', "(dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')) AND (timeCol >= toDateTime(1415792726) AND timeCol <= toDateTime(1447328726))"],
    ['select $__timeInterval(col) from foo', 'select toStartOfInterval(toDateTime(col), INTERVAL 20 second) from foo'],
    ['select $__timeInterval_ms(col) from foo', 'select toStartOfInterval(toDateTime64(col, 3), INTERVAL 20000 millisecond) from foo'],
    ['INTERVAL $__interval_s second', 'INTERVAL 20 second'],
  ];
  for (const [input, output] of cases) assert.equal(expandMacros(input, ctx), output);
  // Never below one second, whatever Grafana's interval.
  assert.equal(expandMacros('$__interval_s', { range, intervalMs: 100 }), '1');
  assert.throws(() => expandMacros('$__timeFilter(a, b)', ctx), /expected 1 argument/);
});

test('comments are blanked before the backend expands macros', () => {
  assert.equal(stripComments("select 1 -- $__timeFilter(x)\nfrom t where s = '--not a comment'"), "select 1                    \nfrom t where s = '--not a comment'");
  assert.equal(expandMacros('/* $__fromTime */ select $__toTime', ctx), `${' '.repeat('/* $__fromTime */ '.length)}select toDateTime(1447328726)`);
});

const vars: Variable[] = [
  { name: 'channel', value: ['a', 'b'], options: ['a', 'b', 'c'] },
  { name: 'all', value: ['$__all'], options: ['a', "o'neil"] },
  { name: 'single', value: 'x' },
  { name: 'empty', value: '' },
];

test('$__conditionalAll is 1=1 for All or empty, else its condition', () => {
  assert.equal(applyConditionalAll('WHERE $__conditionalAll(c IN ($channel), $channel)', vars), 'WHERE c IN ($channel)');
  assert.equal(applyConditionalAll('WHERE $__conditionalAll(c IN ($all), $all)', vars), 'WHERE 1=1');
  assert.equal(applyConditionalAll('WHERE $__conditionalAll(login = ${empty:singlequote}, ${empty})', vars), 'WHERE 1=1');
  assert.equal(applyConditionalAll('$__conditionalAll(f(x, (y)), $single) AND $__conditionalAll(z, $all)', vars), 'f(x, (y)) AND 1=1');
});

test('template variables are formatted as the plugin and Grafana do', () => {
  assert.equal(interpolateVariables('IN ($channel)', vars), "IN ('a','b')");
  assert.equal(interpolateVariables('IN (${channel:singlequote})', vars), "IN ('a','b')");
  assert.equal(interpolateVariables('IN (${all:singlequote})', vars), "IN ('a','o\\'neil')");
  assert.equal(interpolateVariables('= $single', vars), '= x');
  assert.equal(interpolateVariables('= ${single:singlequote}', vars), "= 'x'");
  // Grafana's own example (formatRegistry tests), and a typed value with a quote and a backslash
  assert.equal(interpolateVariables('${p:percentencode}', [{ name: 'p', value: ['foo()bar BAZ', 'test2'] }]), '%7Bfoo%28%29bar%20BAZ%2Ctest2%7D');
  assert.equal(interpolateVariables("'${p:percentencode}'", [{ name: 'p', value: "x\\' --" }]), "'x%5C%27%20--'");
  assert.equal(interpolateVariables('$__timeFilter(ts) AND $unknown', vars), '$__timeFilter(ts) AND $unknown');
  assert.equal(interpolateVariables('= $c', [{ name: 'c', value: ['$__all'], allValue: '.*' }]), '= .*');
});

test('a dashboard query goes through the browser, then the backend', () => {
  const sql = 'SELECT $__timeInterval(ts) AS time FROM t WHERE $__timeFilter(ts) AND $__conditionalAll(channel IN (${channel:singlequote}), $channel)';
  assert.equal(
    expandDashboardQuery(sql, vars, ctx),
    "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 20 second) AS time FROM t WHERE ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726) AND channel IN ('a','b')",
  );
});

test('the query interval is rounded like Grafana and respects the panel minimum', () => {
  const day = { from: new Date(0), to: new Date(86_400_000) };
  assert.equal(queryIntervalMs(day, 1000), 60_000); // 86.4 s -> 1m
  assert.equal(queryIntervalMs(day, 1000, '5m'), 300_000);
  assert.equal(queryIntervalMs({ from: new Date(0), to: new Date(600_000) }, 1000, '30s'), 30_000);
});

test('provisioning files: $$ is a literal $, $NAME and ${NAME} come from the environment', () => {
  assert.equal(interpolateProvisioning('$$__timeFilter(ts) ${HOST}:$PORT', { HOST: 'ch', PORT: '8123' }), '$__timeFilter(ts) ch:8123');
  assert.equal(interpolateProvisioning('$__timeFilter(ts)', {}), '(ts)');
});
