/** Full-history burst queries: what the incremental views (migrations 0053, 0057, 0058) must equal. */
import fs from 'node:fs';
import path from 'node:path';
import { MIGRATIONS_DIR } from '../../../clickhouse/migrate.ts';

/**
 * burst_windows over all history by the rules of migration 0058 (0030's query, but a window's baseline counts only
 * the windows since the chat started, and an emote window counts its chatters, at least 5 to be hot). Written for
 * all history at once: the chat starts and trailing windows of every hour, where the view reads one hour before
 * each slice.
 */
export const WINDOWS_0058 = `
WITH
    volume AS (SELECT channel, \`window\`, sum(messages) AS n FROM chat_30s GROUP BY channel, \`window\` HAVING n > 0),
    emote_uses AS (
        SELECT channel, \`window\`, toString(emote) AS emote, uniqExactMerge(users) AS n
        FROM emotes_30s GROUP BY channel, emote, \`window\` HAVING sum(uses) > 0
    ),
    -- the latest window, at or before each window, with no chat in the 10 minutes before it
    starts AS (
        SELECT channel, \`window\`, max(if(gap, toUInt32(\`window\`), 0)) OVER (PARTITION BY channel ORDER BY \`window\` ROWS UNBOUNDED PRECEDING) AS started
        FROM (
            SELECT channel, \`window\`,
                toUInt32(\`window\`) - lagInFrame(toUInt32(\`window\`), 1, 0) OVER (PARTITION BY channel ORDER BY \`window\` ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) > 600 AS gap
            FROM volume)
    ),
    series AS (
        SELECT channel, 'volume' AS kind, '' AS emote, \`window\`, n FROM volume
        UNION ALL
        SELECT channel, 'emote' AS kind, emote, \`window\`, n FROM emote_uses
    ),
    trailing AS (
        SELECT s.channel AS channel, kind, emote, s.\`window\` AS \`window\`, n, st.started AS started,
            groupArray((toUInt32(s.\`window\`), n)) OVER (PARTITION BY s.channel, kind, emote ORDER BY toUInt32(s.\`window\`) RANGE BETWEEN 600 PRECEDING AND 30 PRECEDING) AS prev
        FROM series AS s INNER JOIN starts AS st ON st.channel = s.channel AND st.\`window\` = s.\`window\`
    ),
    padded AS (
        SELECT *,
            greatest(toUInt32(\`window\`) - 600, started) AS from_t,
            greatest(intDiv(toUInt32(\`window\`) - from_t, 30), 1) AS slots,
            arrayConcat(arrayMap(x -> x.2, arrayFilter(x -> x.1 >= from_t, prev)), arrayWithConstant(slots - length(arrayFilter(x -> x.1 >= from_t, prev)), toUInt64(0))) AS base
        FROM trailing
    ),
    with_median AS (SELECT *, toFloat64(arrayReduce('quantileExact', base)) AS baseline FROM padded),
    scored AS (
        SELECT *, arrayReduce('quantileExact', arrayMap(x -> abs(toFloat64(x) - baseline), base)) AS mad,
            (n - baseline) / greatest(1.4826 * mad, sqrt(baseline), 1.0) AS score
        FROM with_median
    )
SELECT channel, kind, emote, \`window\`, n AS count, baseline, mad, score, toBool(slots >= 10) AS warm,
    toBool(slots >= 10 AND n >= if(kind = 'volume', 20, 5) AND score >= 4 AND n >= if(kind = 'volume', 1.5, 2.0) * baseline) AS hot
FROM scored`;

/** The body of one of 0030's refreshable views. */
function view0030(name: string): string {
  const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, '0030_create_burst_tables.up.sql'), 'utf8');
  const at = sql.indexOf(`CREATE MATERIALIZED VIEW ${name}`);
  return sql.slice(sql.indexOf(' AS\n', at) + 4, sql.indexOf(';\n', at));
}

/** 0030's full-history burst_windows query: the rules up to migration 0057 (warm and hot as Bool, as stored). */
export const windows0030 = () => `SELECT * REPLACE (toBool(warm) AS warm, toBool(hot) AS hot) FROM (${view0030('burst_windows_mv')})`;

/** The full-history queries: `windows` (default the rules of 0058), and 0030's bursts over it (not over the view under test). */
export function referenceQueries(windows = WINDOWS_0058): { windows: string; bursts: string } {
  return { windows, bursts: view0030('bursts_mv').replaceAll('FROM burst_windows', `FROM (${windows})`) };
}
