-- Back to full recomputation: 0030's burst_windows, 0030's bursts table with 0041's bursts_mv, 0034's
-- hype_predictions_mv. The tables start empty and are filled by the views' first refresh.

DROP VIEW IF EXISTS hype_predictions_mv;
DROP VIEW IF EXISTS bursts_mv;
DROP VIEW IF EXISTS bursts;
DROP TABLE IF EXISTS burst_rows;
DROP VIEW IF EXISTS burst_windows_mv;
DROP VIEW IF EXISTS burst_windows;
DROP TABLE IF EXISTS burst_window_rows;

CREATE TABLE burst_windows
(
    channel LowCardinality(String),
    kind LowCardinality(String),
    emote LowCardinality(String),
    `window` DateTime('UTC'),
    count UInt64,
    baseline Float64,
    mad Float64,
    score Float64,
    warm Bool,
    hot Bool
)
ENGINE = MergeTree
ORDER BY (channel, kind, emote, `window`);

CREATE MATERIALIZED VIEW burst_windows_mv REFRESH EVERY 30 SECOND TO burst_windows AS
WITH
    volume AS (
        SELECT channel, `window`, sum(messages) AS n
        FROM chat_30s
        GROUP BY channel, `window`
        HAVING n > 0
    ),
    emote_uses AS (
        SELECT channel, `window`, toString(emote) AS emote, sum(uses) AS n
        FROM emotes_30s
        GROUP BY channel, emote, `window`
        HAVING n > 0
    ),
    -- Earliest chat of the channel in the trailing 10 minutes: a stream that started < 5 min ago is not warm.
    warmth AS (
        SELECT
            channel,
            `window`,
            toUInt32(`window`) - min(toUInt32(`window`)) OVER (PARTITION BY channel ORDER BY toUInt32(`window`) RANGE BETWEEN 600 PRECEDING AND CURRENT ROW) >= 300 AS warm
        FROM volume
    ),
    series AS (
        SELECT channel, 'volume' AS kind, '' AS emote, `window`, n FROM volume
        UNION ALL
        SELECT channel, 'emote' AS kind, emote, `window`, n FROM emote_uses
    ),
    trailing AS (
        SELECT
            channel, kind, emote, `window`, n,
            groupArray(n) OVER (PARTITION BY channel, kind, emote ORDER BY toUInt32(`window`) RANGE BETWEEN 600 PRECEDING AND 30 PRECEDING) AS prev
        FROM series
    ),
    -- Windows without uses are zeros in the baseline: pad to exactly 20 values.
    padded AS (
        SELECT *, arrayConcat(prev, arrayWithConstant(20 - length(prev), toUInt64(0))) AS base
        FROM trailing
    ),
    with_median AS (
        SELECT *, toFloat64(arrayReduce('quantileExact', base)) AS baseline
        FROM padded
    ),
    scored AS (
        SELECT
            *,
            arrayReduce('quantileExact', arrayMap(x -> abs(toFloat64(x) - baseline), base)) AS mad,
            (n - baseline) / greatest(1.4826 * mad, sqrt(baseline), 1.0) AS score
        FROM with_median
    )
SELECT
    s.channel AS channel,
    s.kind AS kind,
    s.emote AS emote,
    s.`window` AS `window`,
    s.n AS count,
    s.baseline AS baseline,
    s.mad AS mad,
    s.score AS score,
    w.warm AS warm,
    w.warm
        AND s.n >= if(s.kind = 'volume', 20, 8)
        AND s.score >= 4
        AND s.n >= if(s.kind = 'volume', 1.5, 2.0) * s.baseline AS hot
FROM scored AS s
INNER JOIN warmth AS w ON w.channel = s.channel AND w.`window` = s.`window`;

CREATE TABLE bursts
(
    channel LowCardinality(String),
    kind LowCardinality(String),
    -- '' for volume bursts.
    emote LowCardinality(String),
    -- First hot window and the end of the last one (exclusive), UTC.
    start DateTime('UTC'),
    `end` DateTime('UTC'),
    peak_window DateTime('UTC'),
    peak_count UInt64,
    -- Median of the 20 windows before the peak (zeros included).
    baseline Float64,
    -- Highest robust z-score in the burst.
    score Float64,
    -- Most used emotes in the channel during the burst, most first.
    top_emotes Array(String),
    -- First messages of the peak window (containing the emote, for emote bursts).
    sample_messages Array(String),
    detected_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY (channel, kind, emote, start);

CREATE MATERIALIZED VIEW bursts_mv REFRESH EVERY 30 SECOND DEPENDS ON burst_windows_mv TO bursts AS
WITH
    -- Adjacent hot windows share (window number - row number): that difference names the island.
    islands AS (
        SELECT
            channel, kind, emote, `window`, count, baseline, score,
            intDiv(toUInt32(`window`), 30) - row_number() OVER (PARTITION BY channel, kind, emote ORDER BY `window`) AS island
        FROM burst_windows
        WHERE hot
    ),
    runs AS (
        SELECT
            channel, kind, emote,
            min(`window`) AS start,
            max(`window`) + 30 AS `end`,
            argMax(`window`, count) AS peak_window,
            max(count) AS peak_count,
            argMax(baseline, count) AS baseline,
            max(score) AS score
        FROM islands
        GROUP BY channel, kind, emote, island
    ),
    -- Emote uses of each burst's windows (bursts are short, so expanding them is cheap).
    run_emotes AS (
        SELECT r.channel AS channel, r.kind AS kind, r.emote AS emote, r.start AS start, toString(e.emote) AS used, sum(e.uses) AS uses
        FROM (SELECT channel, kind, emote, start, arrayJoin(arrayMap(i -> start + i * 30, range(intDiv(toUInt32(`end`) - toUInt32(start), 30)))) AS w FROM runs) AS r
        INNER JOIN emotes_30s AS e ON e.channel = r.channel AND e.`window` = r.w
        GROUP BY channel, kind, emote, start, used
    ),
    tops AS (
        SELECT channel, kind, emote, start, arrayMap(x -> x.2, arraySlice(arraySort(x -> (-x.1, x.2), groupArray((uses, used))), 1, 5)) AS top_emotes
        FROM run_emotes
        GROUP BY channel, kind, emote, start
    ),
    -- First 3 messages (by time, then text) of each burst's peak window, in the burst's series: every
    -- message of a peak window is read once and counted in each series it belongs to (volume, and each
    -- distinct emote it uses), and only the (series, peak window) pairs of a burst are kept. Replaces
    -- 0030's join of each burst with all of its peak window's messages, filtered by has(emote_names,
    -- emote) afterwards (a volume and a dozen emote bursts often share a peak window: 400k joined rows
    -- for 40k kept on the bench). A series' bursts never share a peak window, so (series, peak window)
    -- names one burst. The (channel, window) IN filter uses the primary key (channel, ts): granules
    -- without a peak window are skipped.
    samples AS (
        SELECT channel, kind, emote, w,
            arrayMap(x -> x.2, arraySlice(arraySort(groupArray((ts, text))), 1, 3)) AS sample_messages
        FROM
        (
            SELECT channel, toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC') AS w, ts, text, series.1 AS kind, series.2 AS emote
            FROM messages
            ARRAY JOIN arrayConcat([('volume', '')], arrayMap(e -> ('emote', toString(e)), arrayDistinct(emote_names))) AS series
            WHERE (channel, toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC')) IN (SELECT channel, peak_window FROM runs)
        )
        WHERE (channel, kind, emote, w) IN (SELECT channel, kind, emote, peak_window FROM runs)
        GROUP BY channel, kind, emote, w
    )
SELECT
    r.channel AS channel,
    r.kind AS kind,
    r.emote AS emote,
    r.start AS start,
    r.`end` AS `end`,
    r.peak_window AS peak_window,
    r.peak_count AS peak_count,
    r.baseline AS baseline,
    r.score AS score,
    t.top_emotes AS top_emotes,
    s.sample_messages AS sample_messages,
    toDateTime(now(), 'UTC') AS detected_at
FROM runs AS r
LEFT JOIN tops AS t ON t.channel = r.channel AND t.kind = r.kind AND t.emote = r.emote AND t.start = r.start
LEFT JOIN samples AS s ON s.channel = r.channel AND s.kind = r.kind AND s.emote = r.emote AND s.w = r.peak_window;

CREATE MATERIALIZED VIEW hype_predictions_mv REFRESH EVERY 30 SECOND DEPENDS ON burst_windows_mv TO hype_predictions AS
WITH model AS (
    SELECT weights, bias, threshold, version
    FROM hype_model
    ORDER BY loaded_at DESC, version DESC
    LIMIT 1
)
SELECT
    f.channel AS channel,
    f.`window` AS `window`,
    1 / (1 + exp(-(m.bias + arraySum(arrayMap((w, x) -> w * x, m.weights, f.features))))) AS probability,
    probability >= m.threshold AS predicted,
    m.version AS model_version
FROM hype_features AS f
CROSS JOIN model AS m;
