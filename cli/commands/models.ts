/**
 * `twichist models pull [name...]` and `twichist models list`: fetch the default transformer models
 * into the models folder (verified), and show what is installed.
 */
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { listModels, pullModels, type PullProgress } from '../../enrich/models/pull.ts';
import { DEFAULT_MODELS } from '../../enrich/models/manifest.ts';

export interface CommandContext {
  config: Config;
  logger: Logger;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const secs = (s: number | null): string => (s === null ? '?' : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);

/** A one-line progress bar redrawn in place; only used when stdout is a terminal. */
export function progressLine(p: PullProgress, width = 24): string {
  const frac = p.total ? Math.min(1, p.received / p.total) : null;
  const bar = frac === null ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '-')}] ${(frac * 100).toFixed(0).padStart(3)}% `;
  return `${p.model} ${p.file} ${bar}${mb(p.received)}${p.total ? `/${mb(p.total)}` : ''} ${mb(p.bytesPerSecond)}/s ETA ${secs(p.etaSeconds)}`;
}

function parse(args: string[]): { sub: string | null; names: string[]; dtype: 'q8' | 'fp32'; baseUrl: string | null; force: boolean; json: boolean; error: string | null } {
  const out = { sub: null as string | null, names: [] as string[], dtype: 'q8' as 'q8' | 'fp32', baseUrl: null as string | null, force: false, json: false, error: null as string | null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--force') out.force = true;
    else if (a === '--json') out.json = true;
    else if (a === '--dtype' || a.startsWith('--dtype=')) {
      const v = a.includes('=') ? a.slice(8) : args[++i];
      if (v !== 'q8' && v !== 'fp32') out.error = `--dtype must be q8 or fp32 (got ${JSON.stringify(v ?? null)})`;
      else out.dtype = v;
    } else if (a === '--base-url' || a.startsWith('--base-url=')) out.baseUrl = a.includes('=') ? a.slice(11) : (args[++i] ?? null);
    else if (a.startsWith('--')) out.error = `unknown option ${a}`;
    else if (out.sub === null) out.sub = a;
    else out.names.push(a);
  }
  return out;
}

async function pull(o: ReturnType<typeof parse>, ctx: CommandContext): Promise<number> {
  const { config, stdout, stderr } = ctx;
  if (!config.models.online) {
    stderr.write('models pull: TWICHIST_ONLINE=false forbids downloads; copy the model folders into ' + config.models.dir + ' instead (layout in docs/models.md)\n');
    return 2;
  }
  const baseUrl = o.baseUrl ?? config.models.baseUrl;
  let lastPct = -1;
  const onProgress = (p: PullProgress) => {
    if (ctx.isTTY) {
      stdout.write(`\r\x1b[2K${progressLine(p)}${p.done ? '\n' : ''}`);
      return;
    }
    // Plain lines for logs and CI: start, every 25 %, and done; no carriage returns.
    const pct = p.total ? Math.floor((p.received / p.total) * 4) * 25 : -1;
    if (p.done) {
      stdout.write(`${p.model} ${p.file}: ${mb(p.received)} in ${secs(p.bytesPerSecond > 0 ? p.received / p.bytesPerSecond : 0)} (${mb(p.bytesPerSecond)}/s)\n`);
      lastPct = -1;
    } else if (pct !== lastPct && pct >= 0) {
      lastPct = pct;
      stdout.write(`${p.model} ${p.file}: ${pct}% of ${mb(p.total!)}, ${mb(p.bytesPerSecond)}/s, ETA ${secs(p.etaSeconds)}\n`);
    }
  };
  try {
    const results = await pullModels({ modelsDir: config.models.dir, baseUrl, names: o.names, dtype: o.dtype, force: o.force, onProgress });
    for (const r of results) {
      const fetched = r.files.filter((f) => !f.skipped).length;
      const checks = [...new Set(r.files.map((f) => f.checkedAgainst))].join('/');
      stdout.write(`${r.id}: ${fetched ? `${fetched} file(s) downloaded` : 'already installed'}, verified by ${checks} -> ${r.folder}\n`);
    }
    return 0;
  } catch (err) {
    if (ctx.isTTY) stdout.write('\n');
    stderr.write(`models pull failed: ${(err as Error).message}\nNothing was left half-installed for that model.\n`);
    return 1;
  }
}

async function list(o: ReturnType<typeof parse>, ctx: CommandContext): Promise<number> {
  const models = await listModels(ctx.config.models.dir, o.dtype);
  if (o.json) {
    ctx.stdout.write(JSON.stringify({ modelsDir: ctx.config.models.dir, models }, null, 2) + '\n');
    return models.some((m) => m.status === 'mismatch') ? 1 : 0;
  }
  ctx.stdout.write(`models in ${ctx.config.models.dir} (${o.dtype}):\n`);
  if (models.length === 0) ctx.stdout.write('  none installed; run `twichist models pull`\n');
  for (const m of models) {
    ctx.stdout.write(`  ${m.id.padEnd(56)} ${(m.task ?? '-').padEnd(10)} ${mb(m.bytes).padStart(9)}  ${m.status}\n`);
    for (const f of m.files.filter((x) => x.problem)) ctx.stdout.write(`      ${f.path}: ${f.problem}\n`);
  }
  const absent = DEFAULT_MODELS.filter((d) => !models.some((m) => m.id === d.id && m.status !== 'incomplete'));
  for (const d of absent) ctx.stdout.write(`  (${d.task}: ${d.id} not installed)\n`);
  return models.some((m) => m.status === 'mismatch') ? 1 : 0;
}

export const command = {
  name: 'models',
  summary: 'Download (pull) and list the local transformer models used for sentiment, toxicity and topics',
  usage: 'twichist models pull [sentiment|toxicity|embeddings|<org/name>...] [--dtype q8|fp32] [--force] [--base-url URL]\ntwichist models list [--dtype q8|fp32] [--json]',
  options: [
    { flag: '--dtype q8|fp32', description: 'Weights to fetch/check: q8 = onnx/model_quantized.onnx (default), fp32 = onnx/model.onnx' },
    { flag: '--force', description: 'pull: download again even when the files are present and verify' },
    { flag: '--base-url URL', description: 'pull: host to download from (default TWICHIST_MODELS_BASE_URL, https://huggingface.co)' },
    { flag: '--json', description: 'list: machine-readable output' },
  ],
  examples: ['twichist models pull', 'twichist models pull sentiment embeddings', 'twichist models list', 'TWICHIST_MODELS_DIR=/srv/models twichist models list --json'],
  async run(args: string[], ctx: CommandContext): Promise<number> {
    const o = parse(args);
    if (o.error) {
      ctx.stderr.write(`models: ${o.error}\nusage: ${command.usage}\n`);
      return 2;
    }
    if (o.sub === 'pull') return pull(o, ctx);
    if (o.sub === 'list') return list(o, ctx);
    ctx.stderr.write(`models: expected "pull" or "list"${o.sub ? ` (got "${o.sub}")` : ''}\nusage: ${command.usage}\n`);
    return 2;
  },
};
