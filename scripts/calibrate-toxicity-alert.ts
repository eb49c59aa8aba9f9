/**
 * Calibrates the "Toxicity surge" alert rule on real chat: imports every log of ../shared/data (Chatty,
 * raw IRC, v5 rechat, GQL) through the importers and enrich with the scorers of an empty models folder
 * (the lexicon: the threshold is for it), evaluates the provisioned rule's SQL as Grafana sends it
 * (test/grafana/macros.ts: its relative range, backend macros) at every minute of every stream, and
 * prints per stream the largest increase, the top increases, and for each candidate rule the evaluations
 * over its threshold and the alerts Grafana would page after the rule's `for`.
 *
 *   node scripts/calibrate-toxicity-alert.ts [--rules 0.15/20/20,0.04/100/100] [--all] [--top 15]
 *
 * `--rules`: threshold/minimum messages in the 5 minutes/minimum in the hour before, each simulated with the
 * provisioned `for`; `--all` lists the streams where nothing went over too. The first rule's figures are
 * the provisioned rule's when given as provisioned (the script checks its variant query against the rule's
 * own at every minute). Takes ~1.5 minutes on 2 cores (import ~15 s, two queries per minute ~60 s). Data in
 * a temporary folder, removed at exit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClickHouse } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { migrateUp } from '../clickhouse/migrate.ts';
import { expandMacros } from '../test/grafana/macros.ts';
import { alertRule, loadAlertRules, runSql } from '../test/grafana/support/provisioned.ts';
import { alertsOf, chatStreams, evaluationTimes, importRealChat, realChatFiles, type ChatStream } from '../test/grafana/support/real-chat.ts';
import { SHARED_DATA } from '../test/support/paths.ts';

const MINUTE = 60_000;
const HAVING = /\nHAVING sumIf\(messages, `window` >= recent_start\) >= (\d+) AND sumIf\(messages, `window` < recent_start\) >= (\d+)\s*$/;

interface Evaluation {
  at: number;
  channel: string;
  increase: number;
  /** Messages in the 5 minutes and in the hour before them. */
  recent: number;
  before: number;
}

async function main() {
  const { values } = parseArgs({ options: { rules: { type: 'string', default: '0.15/20/20,0.04/100/100' }, top: { type: 'string', default: '15' }, all: { type: 'boolean', default: false } } });
  if (!fs.existsSync(SHARED_DATA)) throw new Error(`${SHARED_DATA} is absent: the real chat ships beside the repo`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-calibrate-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ TWICHIST_DATA_DIR: dir, LOG_LEVEL: 'silent' });
  const client = await createClickHouse(config, { viaControl: false });
  await migrateUp(client);
  const files = realChatFiles();
  const t0 = Date.now();
  await importRealChat(client, config, files);
  process.stderr.write(`imported ${files.length} files in ${Math.round((Date.now() - t0) / 1000)} s\n`);

  const rule = loadAlertRules().find((r) => r.title === 'Toxicity surge');
  if (!rule) throw new Error('no Toxicity surge rule');
  const a = rule.data.find((d) => d.refId === 'A')!;
  const sql = a.model.rawSql!;
  const having = HAVING.exec(sql);
  if (!having) throw new Error('the Toxicity surge query changed shape: update scripts/calibrate-toxicity-alert.ts');
  // the rule's query with its minimums lifted and the two counts returned, to try other minimums
  const variant = sql.replace(HAVING, '').replace('SELECT channel,', 'SELECT channel, sumIf(messages, `window` >= recent_start) AS recent, sumIf(messages, `window` < recent_start) AS before,');
  const provisioned = alertRule(client, 'Toxicity surge');
  const lookbackMs = a.relativeTimeRange!.from * 1000;

  const streams = await chatStreams(client);
  const t1 = Date.now();
  const evals: Evaluation[] = [];
  for (const at of evaluationTimes(streams)) {
    const ctx = { range: { from: new Date(at - lookbackMs), to: new Date(at) }, intervalMs: 1000 };
    const rows = (await runSql(client, expandMacros(variant, ctx))).data;
    const own = (await provisioned.series(at)).map((s) => `${s.labels.channel} ${s.value.toFixed(9)}`).sort();
    const mine = rows.filter((r) => Number(r.recent) >= Number(having[1]) && Number(r.before) >= Number(having[2])).map((r) => `${String(r.channel)} ${Number(r.increase).toFixed(9)}`).sort();
    if (own.join('|') !== mine.join('|')) throw new Error(`the variant query differs from the rule at ${new Date(at).toISOString()}`);
    for (const r of rows) evals.push({ at, channel: String(r.channel), increase: Number(r.increase), recent: Number(r.recent), before: Number(r.before) });
  }
  process.stderr.write(`${evals.length} series evaluations in ${Math.round((Date.now() - t1) / 1000)} s\n`);

  const streamOf = (e: { channel: string; at: number }) => streams.find((s) => s.channel === e.channel && e.at >= s.first && e.at <= s.last + 6 * MINUTE);
  const label = (s: ChatStream | undefined) => (s ? `${s.channel} ${new Date(s.first).toISOString().slice(0, 16)}` : '?');
  const iso = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
  const sd = (await runSql(client, 'SELECT stddevPop(toxicity) AS sd, avg(toxicity) AS mean, count() AS n FROM messages')).data[0];
  console.log(`${files.length} files, ${streams.length} streams (a silence over 1 h splits a log), ${evals.length} channel-minute evaluations; per message toxicity mean ${Number(sd.mean).toFixed(4)}, sd ${Number(sd.sd).toFixed(4)} over ${sd.n} messages`);
  for (const s of streams) {
    const counted = evals.filter((e) => streamOf(e) === s && e.recent >= 20 && e.before >= 20);
    const max = counted.reduce<Evaluation | null>((m, e) => (m === null || e.increase > m.increase ? e : m), null);
    console.log(`  ${label(s).padEnd(34)} ${String(Math.round((s.last - s.first) / MINUTE)).padStart(4)} min ${String(s.messages).padStart(6)} msgs  mean toxicity ${s.meanToxicity.toFixed(3)}  max increase (>= 20/20 msgs) ${max ? `${max.increase.toFixed(3)} at ${iso(max.at)}, ${max.recent} msgs in the 5 min` : '-'}`);
  }
  console.log('top increases (>= 20 messages in the 5 minutes and in the hour before):');
  for (const e of evals.filter((x) => x.recent >= 20 && x.before >= 20).sort((x, y) => y.increase - x.increase).slice(0, Number(values.top))) {
    console.log(`  ${e.increase.toFixed(3)}  ${e.channel.padEnd(16)} ${iso(e.at)}  ${e.recent} msgs in 5 min, ${e.before} in the hour before`);
  }
  for (const spec of values.rules!.split(',')) {
    const [threshold, minRecent, minBefore] = spec.split('/').map(Number);
    const present = evals.filter((e) => e.recent >= minRecent && e.before >= minBefore).map((e) => ({ at: e.at, channel: e.channel, value: e.increase }));
    const { over, alerts } = alertsOf(present, threshold, provisioned.forMs);
    console.log(`increase > ${threshold}, >= ${minRecent} messages in the 5 minutes and >= ${minBefore} in the hour before, for ${provisioned.forMs / MINUTE}m: ${over.length} evaluations over, ${alerts.length} alert(s)`);
    for (const s of streams) {
      const mine = over.filter((e) => streamOf(e) === s);
      const paged = alerts.filter((x) => streamOf({ channel: x.channel, at: x.firing }) === s);
      if (mine.length === 0 && !values.all) continue;
      const what = paged.map((x) => `firing ${iso(x.firing)} (pending ${iso(x.pending)}), peak ${x.peak.toFixed(3)}, ${x.evaluations} firing evaluation(s)`);
      console.log(`  ${label(s).padEnd(34)} ${String(mine.length).padStart(3)} over, ${paged.length} alert(s)${what.length ? ` [${what.join('; ')}]` : ''}`);
    }
  }
  await client.close();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
