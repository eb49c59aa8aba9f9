-- Burst detection (issue 6): emote bursts per (channel, emote) and volume bursts ("hype moments")
-- per channel, from the 30-second rollups.
--
-- How a window is scored: its count against the trailing 20 windows (10 minutes) of the same series.
--   baseline = median of those 20 counts, mad = median absolute deviation from it; a window of the
--   series without any use is a 0 (the rollups only hold windows with uses, so the trailing values
--   are padded with zeros up to 20: the same as generating the gap-free series, without storing it).
--   score    = (count - baseline) / greatest(1.4826 * mad, sqrt(baseline), 1)
--     1.4826 * mad estimates a standard deviation robustly (a burst in the baseline barely moves it);
--     sqrt(baseline) is the Poisson noise floor so a flat series (mad = 0) does not give huge scores.
--   hot      = warm AND count >= min count AND score >= 4 AND count >= ratio * baseline
--     warm: the channel chatted at least 10 windows (5 min) before, within the trailing 10 minutes,
--       so the first minutes of every stream (baseline all zeros) are not flagged.
--     min count: 20 messages (volume), 8 uses (emote), so small channels and rare emotes stay quiet.
--     ratio: 1.5x the baseline (volume), 2x (emote): a busy channel's noise is not a burst.
-- Changing a threshold: a new migration that recreates `burst_windows_mv` (the constants are below).
--
-- Refresh cost: everything is recomputed from the full rollup history each refresh (correct for
-- imports of years-old chat; no "last hour" window to miss). That is one read of chat_30s and
-- emotes_30s plus a 20-value median per active (series, window): 0.1-0.4 s on chdb for the 1.4 h
-- riotgames log (170 windows x 35 emotes; `twichist analytics refresh` prints each view's time),
-- linear in history; beyond ~10^7 active emote-windows, lengthen the period.

-- Every active window of every series with its score; `hot` windows make up the bursts.
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

-- One row per burst: a run of adjacent hot windows of one series (gaps-and-islands). Replaced as a
-- whole on every refresh (refreshable view without APPEND swaps the table atomically), so readers
-- never see duplicates or a half-written refresh.
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
    -- Only the peak windows' messages are read (the IN filter runs before text is decompressed).
    peak_messages AS (
        SELECT channel, toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC') AS w, ts, text, emote_names
        FROM messages
        WHERE (channel, toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC')) IN (SELECT channel, peak_window FROM runs)
    ),
    samples AS (
        SELECT r.channel AS channel, r.kind AS kind, r.emote AS emote, r.start AS start,
            arrayMap(x -> x.2, arraySlice(arraySort(groupArray((m.ts, m.text))), 1, 3)) AS sample_messages
        FROM runs AS r
        INNER JOIN peak_messages AS m ON m.channel = r.channel AND m.w = r.peak_window
        WHERE r.kind = 'volume' OR has(m.emote_names, r.emote)
        GROUP BY channel, kind, emote, start
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
LEFT JOIN samples AS s ON s.channel = r.channel AND s.kind = r.kind AND s.emote = r.emote AND s.start = r.start;
