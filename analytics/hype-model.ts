/** Placeholder, replaced below. */
import type { ClickHouseClient } from '../core/clickhouse.ts';
export async function loadHypeModel(_client: ClickHouseClient): Promise<boolean> { return false; }
