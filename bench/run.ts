/**
 * `npm run bench`: runs every stage benchmark that exists (bench/<stage>.ts, each printing JSON on
 * stdout) as a child process with a time limit, and prints ONE JSON document: the headline figures,
 * each stage's own JSON, and the machine they were measured on. A stage that is missing, fails or
 * runs out of time is reported as such, never left out.
 *
 *   npm run bench                          all stages
 *   npm run bench -- --only ingest,storage a subset
 *   npm run bench -- --quick               smaller inputs (stages that support it), for a smoke run
 *   npm run bench -- --out bench/results/latest.json   also write the document to a file
 *
 * Stages run one after another, never in parallel: they measure throughput on the same cores.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../cli/command.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

/** Every stage, in run order. `storage` is this issue's own (bench/storage.ts); the rest belong to their stage's owner. */
export const STAGES = ['ingest', 'enrich', 'analysis', 'models', 'storage', 'api', 'analytics'] as const;
export type StageName = (typeof STAGES)[number];

export interface StageReport {
  /** `ok`: exited 0 with JSON. `missing`: no bench/<stage>.ts. `failed`: non-zero exit or no JSON. `timeout`: killed at the limit. */
  status: 'ok' | 'missing' | 'failed' | 'timeout' | 'skipped';
  seconds: number | null;
  /** The stage's JSON, as it printed it. */
  result: unknown;
  /** Why it is not ok: the last lines of its stderr, or the reason it was skipped. */
  error: string | null;
}

/** Finds the stage's JSON in its stdout: the whole output, else the last line or block that parses. */
export function extractJson(stdout: string): unknown {
  const text = stdout.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // Some stages log progress lines before the document: take the last parseable tail.
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!/^\s*[{[]/.test(lines[i])) continue;
    try {
      return JSON.parse(lines.slice(i).join('\n'));
    } catch {
      // keep looking further up
    }
  }
  return undefined;
}

async function runStage(stage: StageName, opts: { quick: boolean; timeoutS: number }): Promise<StageReport> {
  const file = path.join(BENCH_DIR, `${stage}.ts`);
  if (!fs.existsSync(file)) return { status: 'missing', seconds: null, result: null, error: `bench/${stage}.ts does not exist (yet)` };
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...(opts.quick ? ['--quick'] : [])], { cwd: path.join(BENCH_DIR, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Bounded: a chatty stage must not grow this process without limit.
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, opts.timeoutS * 1000);
    const tail = () => stderr.trim().split('\n').slice(-5).join('\n') || null;
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: 'failed', seconds: null, result: null, error: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      const result = extractJson(stdout);
      if (timedOut) resolve({ status: 'timeout', seconds, result: result ?? null, error: `killed after the ${opts.timeoutS} s limit; ${tail() ?? ''}`.trim() });
      else if (code !== 0) resolve({ status: 'failed', seconds, result: result ?? null, error: `exit ${code ?? signal}: ${tail() ?? '(no stderr)'}` });
      else if (result === undefined) resolve({ status: 'failed', seconds, result: null, error: `exit 0 but no JSON on stdout: ${stdout.trim().slice(0, 200) || '(empty)'}` });
      else resolve({ status: 'ok', seconds, result, error: null });
    });
  });
}

/** Machine facts: cores, CPU, memory, Node, and the ClickHouse engine version (embedded, in a temp folder). */
async function machine(): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  let clickhouse: string | null = null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-version-'));
  try {
    const { loadConfig } = await import('../core/config.ts');
    const { createClickHouse } = await import('../core/clickhouse.ts');
    const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dir }), { viaControl: false });
    const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    clickhouse = `${(await rs.json<{ v: string }>())[0]?.v} (embedded chdb)`;
    await client.close();
  } catch (err) {
    clickhouse = `unknown: ${(err as Error).message}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    clickhouse,
  };
}

/** Walks `obj` along the first of `paths` (dot-separated) that leads to a number. */
export function pick(obj: unknown, ...paths: string[]): number | null {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const key of p.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
    if (typeof cur === 'number' && Number.isFinite(cur)) return cur;
  }
  return null;
}

/**
 * The figures the README quotes, pulled from the stages' own JSON. Each stage owns its key names;
 * the paths below follow what they print (a figure is null when its stage did not run or changed
 * its keys: the full stage JSON is always in `stages`).
 */
export function headline(stages: Partial<Record<StageName, StageReport>>): Record<string, number | null | Record<string, number>> {
  const r = (s: StageName) => stages[s]?.result ?? null;
  return {
    // Per CPU-second (process CPU time): comparable across machine load; the wall-clock median beside it.
    parse_lines_per_cpu_s: pick(r('ingest'), 'parse.bytes.cpuMedianLinesPerSec', 'parse.strings.cpuMedianLinesPerSec'),
    parse_lines_per_s: pick(r('ingest'), 'parse.bytes.medianLinesPerSec', 'parse.strings.medianLinesPerSec', 'parse.medianLinesPerSec', 'parse.linesPerSec'),
    publish_events_per_s: pick(r('ingest'), 'publish.eventsPerSec', 'publish.events_per_s'),
    end_to_end_single_process_events_per_s: pick(r('enrich'), 'singleProcess.eventsPerSecond'),
    end_to_end_jetstream_events_per_s: pick(r('enrich'), 'jetstream.eventsPerSecond'),
    end_to_end_jetstream_split_events_per_s: pick(r('enrich'), 'jetstreamSplit.eventsPerSecond'),
    freshness_p50_ms: pick(r('enrich'), 'freshness.publishToQueryableMs.p50'),
    freshness_p99_ms: pick(r('enrich'), 'freshness.publishToQueryableMs.p99'),
    freshness_rate_events_per_s: pick(r('enrich'), 'freshness.rate'),
    analysis_messages_per_cpu_s: pick(r('analysis'), 'msgs_per_s'),
    bytes_per_message_on_disk: pick(r('storage'), 'messages.bytes_per_message'),
    bytes_per_message_all_tables: pick(r('storage'), 'all_tables.bytes_per_message'),
    api_p95_ms_max: maxP95(r('api')),
    api_p95_ms: apiP95s(r('api')),
  };
}

/** p95 per endpoint from the api stage's `results` rows (`{ endpoint, p95_ms }`), or null. */
function apiP95s(obj: unknown): Record<string, number> | null {
  const rows = (obj as { results?: Array<{ endpoint?: unknown; p95_ms?: unknown }> } | null)?.results;
  if (!Array.isArray(rows)) return null;
  const out: Record<string, number> = {};
  for (const r of rows) if (typeof r.endpoint === 'string' && typeof r.p95_ms === 'number') out[r.endpoint] = r.p95_ms;
  return out;
}

/** The slowest endpoint's p95 in the api stage's output (any `p95`/`p95_ms` key at any depth). */
function maxP95(obj: unknown): number | null {
  let best: number | null = null;
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'p95' || k === 'p95_ms') && typeof x === 'number') best = Math.max(best ?? 0, x);
      else walk(x);
    }
  };
  walk(obj);
  return best;
}

async function main(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, { only: 'string', quick: 'boolean', timeout: 'string', out: 'string', help: 'boolean' });
  if (flags.help) {
    process.stdout.write(`npm run bench -- [--only ${STAGES.join(',')}] [--quick] [--timeout SECONDS] [--out FILE]\n`);
    return 0;
  }
  const only = typeof flags.only === 'string' ? flags.only.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const unknown = (only ?? []).filter((s) => !(STAGES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown stage(s) ${unknown.join(', ')}; stages are ${STAGES.join(', ')}\n`);
    return 2;
  }
  const quick = flags.quick === true;
  const timeoutS = flags.timeout !== undefined ? Number(flags.timeout) : quick ? 180 : 900;
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    process.stderr.write(`bench: --timeout must be a number of seconds\n`);
    return 2;
  }
  const started = new Date();
  // Other work on the machine lowers every wall-clock figure; the document says how busy it was.
  const loadBefore = os.loadavg()[0];
  const stages: Partial<Record<StageName, StageReport>> = {};
  for (const stage of STAGES) {
    if (only && !only.includes(stage)) continue;
    process.stderr.write(`bench: ${stage} ...\n`);
    stages[stage] = await runStage(stage, { quick, timeoutS });
    const s = stages[stage]!;
    process.stderr.write(`bench: ${stage} ${s.status}${s.seconds !== null ? ` in ${s.seconds} s` : ''}${s.error ? `: ${s.error.split('\n')[0]}` : ''}\n`);
  }
  const doc = {
    twichist_bench: 1,
    date: started.toISOString(),
    mode: quick ? 'quick' : 'full',
    command: `npm run bench --${only ? ` --only ${only.join(',')}` : ''}${quick ? ' --quick' : ''}`.replace(/ --$/, ''),
    machine: { ...(await machine()), load_1m_at_start: Math.round(loadBefore * 10) / 10, load_1m_at_end: Math.round(os.loadavg()[0] * 10) / 10 },
    headline: headline(stages),
    stages,
  };
  const text = JSON.stringify(doc, null, 2) + '\n';
  process.stdout.write(text);
  if (typeof flags.out === 'string') {
    fs.mkdirSync(path.dirname(path.resolve(flags.out)), { recursive: true });
    fs.writeFileSync(flags.out, text);
  }
  // Non-zero when a stage that exists failed, so CI notices; missing stages are reported, not failures.
  return Object.values(stages).some((s) => s.status === 'failed' || s.status === 'timeout') ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`bench: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
