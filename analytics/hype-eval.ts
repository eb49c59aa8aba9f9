/**
 * Hype model evaluation on real chat: loads several Chatty logs (each as its own channel, so the
 * per-channel time split is a per-log split) into a throw-away embedded database, refreshes the
 * derived tables, trains and evaluates (see hype.ts) and prints one JSON report.
 *
 *   node analytics/hype-eval.ts            # report only
 *   node analytics/hype-eval.ts --save     # also write analytics/hype-weights.json (train-split model)
 *
 * The logs have no license and stay in ../shared/data; only the weights (numbers) are committed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { migrateUp } from '../clickhouse/migrate.ts';
import { CHATTY_DIR, insertRows, readChattyLog } from './chatty.ts';
import { evaluateHype, fetchHypeRows, saveWeights, type HypeEval, type HypeWeights } from './hype.ts';
import { refreshDerived } from './refresh.ts';

/** The chattiest logs: the only ones with volume bursts at the default thresholds (>= 20 msgs / 30 s). */
export const HYPE_LOGS = ['riotgames/riotgames1.log', 'hsdogdog/hsdogdog1.log', 'hsdogdog/hsdogdog2.log', 'hsdogdog/hsdogdog3.log', 'reckful/reckful1.log', 'tidesoftime/tidesoftime1.log'];

/** Loads each log as channel `<file name without .log>`; returns the channels loaded. */
export async function loadLogs(client: ClickHouseClient, files: string[]): Promise<string[]> {
  const channels: string[] = [];
  for (const file of files) {
    const channel = path.basename(file, '.log');
    const { messages, mods } = readChattyLog(file, channel);
    await insertRows(client, messages, mods);
    channels.push(channel);
  }
  return channels;
}

/** Runs the whole evaluation against `client` (migrated, empty or not) on the given logs. */
export async function runHypeEval(client: ClickHouseClient, files: string[]): Promise<{ model: HypeWeights; eval: HypeEval }> {
  const channels = await loadLogs(client, files);
  await refreshDerived(client, { skipHypeModel: true });
  return evaluateHype(await fetchHypeRows(client, channels));
}

if (import.meta.main) {
  const files = HYPE_LOGS.map((f) => path.join(CHATTY_DIR, f)).filter((f) => existsSync(f));
  if (files.length === 0) {
    console.error(`no Chatty logs under ${CHATTY_DIR}; nothing to evaluate`);
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'twichist-hype-eval-'));
  try {
    const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dir, CLICKHOUSE_DATABASE: 'hype_eval', LOG_LEVEL: 'silent' }), { viaControl: false });
    await migrateUp(client);
    const result = await runHypeEval(client, files);
    if (process.argv.includes('--save')) saveWeights(result.model);
    console.log(JSON.stringify({ logs: files.map((f) => path.relative(CHATTY_DIR, f)), ...result.eval, weights: { version: result.model.version, saved: process.argv.includes('--save') } }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
