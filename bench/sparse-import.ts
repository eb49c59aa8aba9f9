/**
 * A sparse import: `twichist import` of the 158 MIT fixture lines of ../shared/data/irc/fixture_lines.tsv (real
 * lines of many channels, spread over two years), into a fresh data folder, as a user runs it. What it measures is
 * the per-window overhead of topics and derived tables: each of the file's ~40 topic windows is its own refresh
 * range (enrich/topics/refresh.ts), and before 2026-11-22 each queued two DELETE mutations, each slower than the
 * one before, and the shutdown recomputed them once more.
 *
 *   node bench/sparse-import.ts [--runs 3] [--root DIR]
 *
 * `--root` runs another checkout's CLI (e.g. a worktree at the commit before) on the same file. Prints one JSON
 * document on stdout: wall seconds of each run, the import's own "duration" and "derived tables refreshed" figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../cli/command.ts';

const { flags } = parseArgs(process.argv.slice(2), { runs: 'string', root: 'string' });
const RUNS = Number(flags.runs ?? 3);
const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = path.resolve(typeof flags.root === 'string' ? flags.root : HERE);
const TSV = path.join(HERE, '..', 'shared', 'data', 'irc', 'fixture_lines.tsv');

const dir = mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-sparse-'));
const runs: Array<{ wall_s: number; import_s: number | null; derived_s: number | null }> = [];
try {
  const file = path.join(dir, 'fixture.irc');
  writeFileSync(file, readFileSync(TSV, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.slice(l.indexOf('\t') + 1)).join('\n') + '\n');
  for (let i = 0; i < RUNS; i++) {
    // an environment of its own, as a newcomer's shell would give no TWICHIST_* (and config reads env in one place)
    const env = { TWICHIST_DATA_DIR: path.join(dir, `data-${i}`), TWICHIST_ONLINE: 'false', LOG_LEVEL: 'warn' };
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'twichist.ts'), 'import', file], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    const wall = (performance.now() - t0) / 1000;
    // exit 0: the two lines the importer rejects are reported, not failures
    if (r.status !== 0) throw new Error(`twichist import exited ${r.status}: ${r.stderr}`);
    // the summary is on stdout, the derived refresh line on stderr
    const imported = /duration: ([\d.]+) s/.exec(r.stdout)?.[1];
    const derived = /derived tables refreshed \(\d+ views, ([\d.]+) s\)/.exec(r.stderr)?.[1];
    runs.push({ wall_s: Math.round(wall * 10) / 10, import_s: imported === undefined ? null : Number(imported), derived_s: derived === undefined ? null : Number(derived) });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const walls = runs.map((r) => r.wall_s).sort((a, b) => a - b);
console.log(JSON.stringify({
  bench: 'sparse-import',
  root: ROOT,
  file: 'irc/fixture_lines.tsv (158 lines)',
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load: os.loadavg().map((x) => Math.round(x * 10) / 10), node: process.version },
  median_wall_s: walls[Math.floor(walls.length / 2)],
  runs,
}, null, 2));
