/**
 * Puts the saved hype weights (analytics/hype-weights.json) into `hype_model`, where
 * `hype_predictions_mv` applies the newest row in SQL. Weights travel as query parameters.
 * Idempotent: a version already stored is not inserted again.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { DEFAULT_WEIGHTS_FILE, HYPE_FEATURES, type HypeWeights } from './hype.ts';

export function readWeights(file = DEFAULT_WEIGHTS_FILE): HypeWeights | null {
  if (!existsSync(file)) return null;
  const w = JSON.parse(readFileSync(file, 'utf8')) as HypeWeights;
  if (JSON.stringify(w.features) !== JSON.stringify(HYPE_FEATURES) || w.weights.length !== HYPE_FEATURES.length) {
    throw new Error(`${file} was trained on features [${w.features}], but hype_features gives [${HYPE_FEATURES}]; retrain with twichist analytics train-hype --save`);
  }
  return w;
}

/** Returns true when it inserted a new model row; false when there was nothing to do. */
export async function loadHypeModel(client: ClickHouseClient, weights: HypeWeights | null = readWeights()): Promise<boolean> {
  if (!weights) return false;
  const rs = await client.query({
    query: `SELECT (SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'hype_model') AS has_table`,
    format: 'JSONEachRow',
  });
  if (!(await rs.json<{ has_table: number }>())[0].has_table) return false;
  const seen = await client.query({ query: 'SELECT count() AS n FROM hype_model WHERE version = {v:String}', query_params: { v: weights.version }, format: 'JSONEachRow' });
  if ((await seen.json<{ n: number }>())[0].n > 0) return false;
  await client.command({
    query: `INSERT INTO hype_model (version, features, weights, bias, threshold, loaded_at)
            SELECT {version:String}, {features:Array(String)}, {weights:Array(Float64)}, {bias:Float64}, {threshold:Float64}, now64(3)`,
    query_params: { version: weights.version, features: weights.features, weights: weights.weights, bias: weights.bias, threshold: weights.threshold },
    clickhouse_settings: { insert_deduplication_token: '' },
  });
  return true;
}
