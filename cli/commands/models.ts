/**
 * `twichist models pull [name...]` and `twichist models list`: fetch the default transformer models
 * into the models folder (verified), and show what is installed.
 */
import { parseArgs, UsageError, type Command, type CommandContext } from '../command.ts';
import { listModels, pullModels, type PullProgress } from '../../enrich/models/pull.ts';
import { DEFAULT_MODELS } from '../../enrich/models/manifest.ts';

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const secs = (s: number | null): string => (s === null ? '?' : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);

/** A one-line progress bar redrawn in place; only used when stdout is a terminal. */
export function progressLine(p: PullProgress, width = 24): string {
  const frac = p.total ? Math.min(1, p.received / p.total) : null;
  const bar = frac === null ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '-')}] ${(frac * 100).toFixed(0).padStart(3)}% `;
  return `${p.model} ${p.file} ${bar}${mb(p.received)}${p.total ? `/${mb(p.total)}` : ''} ${mb(p.bytesPerSecond)}/s ETA ${secs(p.etaSeconds)}`;
}

interface ModelsArgs {
  sub: 'pull' | 'list';
  names: string[];
  dtype: 'q8' | 'fp32';
  baseUrl: string | null;
  force: boolean;
  json: boolean;
}

function parse(args: string[]): ModelsArgs {
  const { flags, positional } = parseArgs(args, { dtype: 'string', 'base-url': 'string', force: 'boolean', json: 'boolean' });
  const [sub, ...names] = positional;
  if (sub !== 'pull' && sub !== 'list') throw new UsageError(`models: expected "pull" or "list"${sub ? ` (got "${sub}")` : ''}`);
  const dtype = flags.dtype ?? 'q8';
  if (dtype !== 'q8' && dtype !== 'fp32') throw new UsageError(`--dtype must be q8 or fp32 (got ${JSON.stringify(dtype)})`);
  return { sub, names, dtype, baseUrl: typeof flags['base-url'] === 'string' ? flags['base-url'] : null, force: flags.force === true, json: flags.json === true };
}

async function pull(o: ModelsArgs, ctx: CommandContext): Promise<number> {
  const { stdout, stderr } = ctx;
  const config = ctx.config();
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

async function list(o: ModelsArgs, ctx: CommandContext): Promise<number> {
  const dir = ctx.config().models.dir;
  const models = await listModels(dir, o.dtype);
  if (o.json) {
    ctx.stdout.write(JSON.stringify({ modelsDir: dir, models }, null, 2) + '\n');
    return models.some((m) => m.status === 'mismatch') ? 1 : 0;
  }
  ctx.stdout.write(`models in ${dir} (${o.dtype}):\n`);
  if (models.length === 0) ctx.stdout.write('  none installed; run `twichist models pull`\n');
  for (const m of models) {
    ctx.stdout.write(`  ${m.id.padEnd(56)} ${(m.task ?? '-').padEnd(10)} ${mb(m.bytes).padStart(9)}  ${m.status}\n`);
    for (const f of m.files.filter((x) => x.problem)) ctx.stdout.write(`      ${f.problem}\n`);
  }
  const absent = DEFAULT_MODELS.filter((d) => !models.some((m) => m.id === d.id && m.status !== 'incomplete'));
  for (const d of absent) ctx.stdout.write(`  (${d.task}: ${d.id} not installed)\n`);
  return models.some((m) => m.status === 'mismatch') ? 1 : 0;
}

export const command: Command = {
  name: 'models',
  summary: 'Download (pull) and list the local transformer models used for sentiment, toxicity and topics',
  usage: 'twichist models pull [sentiment|toxicity|embeddings|<org/name>...] [--dtype q8|fp32] [--force] [--base-url URL] | twichist models list [--dtype q8|fp32] [--json]',
  options: [
    { flag: '--dtype q8|fp32', description: 'Weights to fetch/check: q8 = onnx/model_quantized.onnx (default), fp32 = onnx/model.onnx' },
    { flag: '--force', description: 'pull: download again even when the files are present and verify' },
    { flag: '--base-url URL', description: 'pull: host to download from (default TWICHIST_MODELS_BASE_URL, https://huggingface.co)' },
    { flag: '--json', description: 'list: machine-readable output' },
  ],
  examples: ['twichist models pull', 'twichist models pull sentiment embeddings', 'twichist models list', 'TWICHIST_MODELS_DIR=/srv/models twichist models list --json'],
  async run(args, ctx) {
    const o = parse(args);
    return o.sub === 'pull' ? pull(o, ctx) : list(o, ctx);
  },
};
