-- Back to 0057's burst_windows_mv (baseline padded with zeros before the chat started, emote uses counted).
-- Every stored hour is made stale as in the up file, so the first refresh recomputes all history with 0057's
-- rules. bursts_mv and hype_predictions_mv as 0057 left them.
DROP VIEW IF EXISTS hype_predictions_mv;
DROP VIEW IF EXISTS bursts_mv;
DROP VIEW IF EXISTS burst_windows_mv;

INSERT INTO burst_window_rows (kind, channel, emote, `window`, count, baseline, mad, score, warm, hot, uses, version, deleted)
SELECT '', channel, '', `window`, argMax(count, version), 0., 0., 0., false, false, toUInt64('18446744073709551615'),
    (SELECT max(version) FROM burst_window_rows) + 1, toUInt8(0)
FROM burst_window_rows
WHERE kind = ''
GROUP BY channel, `window`
SETTINGS max_partitions_per_insert_block = 0;

CREATE MATERIALIZED VIEW burst_windows_mv REFRESH EVERY 30 SECOND APPEND TO burst_window_rows AS
WITH
    (SELECT max(version) FROM burst_window_rows WHERE kind = '') + 1 AS refresh_version,
    markers AS (
        SELECT channel, `window` AS hour, argMax(count, version) AS messages, argMax(uses, version) AS uses
        FROM burst_window_rows
        WHERE kind = ''
        GROUP BY channel, hour
    ),
    rollup AS (
        SELECT channel, `window` AS hour, sum(messages) AS messages, sum(emote_uses) AS uses
        FROM chat_1h
        GROUP BY channel, hour
    ),
    -- An hour without a marker or without chat counts as 0 messages, 0 uses (join_use_nulls either way).
    changed AS (
        SELECT if(coalesce(r.channel, '') = '', m.channel, r.channel) AS channel, if(coalesce(r.channel, '') = '', m.hour, r.hour) AS hour
        FROM rollup AS r
        FULL OUTER JOIN markers AS m ON m.channel = r.channel AND m.hour = r.hour
        WHERE coalesce(r.messages, 0) != coalesce(m.messages, 0) OR coalesce(r.uses, 0) != coalesce(m.uses, 0)
    ),
    -- Scalars, computed once: every use below reads the same sets, and the CTEs above run once
    -- (a CTE is re-run wherever it is named). `IN (SELECT arrayJoin(...))` keeps primary-key ranges.
    (
        SELECT groupArray((channel, hour))
        FROM (SELECT channel, hour FROM changed UNION DISTINCT SELECT channel, hour + INTERVAL 1 HOUR FROM changed)
    ) AS slices,
    arrayDistinct(arrayConcat(slices, arrayMap(sl -> (sl.1, sl.2 - 3600), slices))) AS read_hours,
    -- Everything below is 0030's query on the hours read (a slice's windows and the hour before).
    volume AS (
        SELECT channel, `window`, sum(messages) AS n
        FROM chat_30s
        WHERE (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(read_hours))
        GROUP BY channel, `window`
        HAVING n > 0
    ),
    emote_uses AS (
        SELECT channel, `window`, toString(emote) AS emote, sum(uses) AS n
        FROM emotes_30s
        WHERE (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(read_hours))
        GROUP BY channel, emote, `window`
        HAVING n > 0
    ),
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
    ),
    fresh AS (
        SELECT
            toString(s.kind) AS kind, s.channel AS channel, toString(s.emote) AS emote, s.`window` AS `window`,
            s.n AS count, s.baseline AS baseline, s.mad AS mad, s.score AS score, toBool(w.warm) AS warm,
            toBool(w.warm
                AND s.n >= if(s.kind = 'volume', 20, 8)
                AND s.score >= 4
                AND s.n >= if(s.kind = 'volume', 1.5, 2.0) * s.baseline) AS hot
        FROM scored AS s
        INNER JOIN warmth AS w ON w.channel = s.channel AND w.`window` = s.`window`
        WHERE (s.channel, toStartOfHour(s.`window`)) IN (SELECT arrayJoin(slices))
    ),
    -- Keys the slices hold now: a key the new computation lacks gets a tombstone.
    stored AS (
        SELECT toString(kind) AS kind, channel, toString(emote) AS emote, `window`
        FROM burst_window_rows FINAL
        WHERE kind IN ('volume', 'emote') AND (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(slices))
    ),
    keyed AS (
        SELECT kind, channel, emote, `window`, argMax(tuple(count, baseline, mad, score, warm, hot), is_fresh) AS v, max(is_fresh) AS present
        FROM
        (
            SELECT kind, channel, emote, `window`, count, baseline, mad, score, warm, hot, 1 AS is_fresh FROM fresh
            UNION ALL
            SELECT kind, channel, emote, `window`, toUInt64(0), 0., 0., 0., false, false, 0 AS is_fresh FROM stored
        )
        GROUP BY kind, channel, emote, `window`
    ),
    -- Per slice its rows and its marker (counted from the rows just computed, in this query's read).
    per_slice AS (
        SELECT
            channel,
            toStartOfHour(`window`) AS hour,
            groupArray(tuple(kind, emote, `window`, v.1, v.2, v.3, v.4, v.5, v.6, toUInt64(0), toUInt8(1 - present))) AS slice_rows,
            sumIf(v.1, present = 1 AND kind = 'volume') AS slice_messages,
            sumIf(v.1, present = 1 AND kind = 'emote') AS slice_uses
        FROM keyed
        GROUP BY channel, hour
    )
SELECT
    tupleElement(x, 1) AS kind,
    channel,
    tupleElement(x, 2) AS emote,
    tupleElement(x, 3) AS `window`,
    tupleElement(x, 4) AS count,
    tupleElement(x, 5) AS baseline,
    tupleElement(x, 6) AS mad,
    tupleElement(x, 7) AS score,
    tupleElement(x, 8) AS warm,
    tupleElement(x, 9) AS hot,
    tupleElement(x, 10) AS uses,
    refresh_version AS version,
    tupleElement(x, 11) AS deleted
FROM per_slice
ARRAY JOIN arrayConcat(slice_rows, [tuple('', '', hour, slice_messages, 0., 0., 0., false, false, slice_uses, toUInt8(0))]) AS x
-- Markers last (see above).
ORDER BY kind = '' SETTINGS max_partitions_per_insert_block = 0;

CREATE MATERIALIZED VIEW bursts_mv REFRESH EVERY 30 SECOND DEPENDS ON burst_windows_mv APPEND TO burst_rows AS
WITH
    window_markers AS (
        SELECT channel, `window` AS hour, max(version) AS v FROM burst_window_rows WHERE kind = '' GROUP BY channel, hour
    ),
    burst_markers AS (
        SELECT channel, start AS hour, max(version) AS v FROM burst_rows WHERE kind = '' GROUP BY channel, hour
    ),
    -- Hours burst_windows_mv rewrote since this view last read them, and the marker version read.
    -- Scalars, computed once (see burst_windows_mv).
    (
        SELECT groupArray((w.channel, w.hour, w.v))
        FROM window_markers AS w
        LEFT JOIN burst_markers AS b ON b.channel = w.channel AND b.hour = w.hour
        WHERE w.v > coalesce(b.v, 0)
    ) AS dirty,
    arrayMap(d -> (d.1, d.2), dirty) AS dirty_hours,
    -- Greater than the version of any row this view wrote before (those came from older markers).
    arrayReduce('max', arrayMap(d -> d.3, dirty)) AS refresh_version,
    -- Stored bursts that overlap or adjoin a dirty hour (their windows -30 s .. `end` reach into it).
    (
        SELECT groupArray((kind, channel, emote, start, `end`))
        FROM
        (
            SELECT DISTINCT kind, channel, emote, start, `end`
            FROM
            (
                SELECT toString(kind) AS kind, toString(channel) AS channel, toString(emote) AS emote, start, `end`,
                    toDateTime(arrayJoin(range(toUInt32(toStartOfHour(start - 30)), toUInt32(toStartOfHour(`end`)) + 1, 3600)), 'UTC') AS h
                FROM burst_rows FINAL
                WHERE kind IN ('volume', 'emote') AND channel IN (SELECT arrayJoin(arrayMap(d -> d.1, dirty)))
            )
            WHERE (channel, h) IN (SELECT arrayJoin(dirty_hours))
        )
    ) AS touching,
    -- Hot windows of the dirty hours, and of the whole span of each touching burst (its series only).
    islands AS (
        SELECT
            channel, kind, emote, `window`, count, baseline, score,
            intDiv(toUInt32(`window`), 30) - row_number() OVER (PARTITION BY channel, kind, emote ORDER BY `window`) AS island
        FROM burst_windows
        WHERE hot AND (
            (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(dirty_hours))
            OR (kind, channel, emote, `window`) IN (
                SELECT t.1, t.2, t.3, arrayJoin(arrayMap(i -> t.4 + i * 30, range(intDiv(toUInt32(t.5) - toUInt32(t.4), 30))))
                FROM (SELECT arrayJoin(touching) AS t)
            )
        )
    ),
    -- From here 0041's query on those windows (peak: the earliest window of the highest count).
    new_runs AS (
        SELECT
            channel, kind, emote,
            min(`window`) AS start,
            max(`window`) + 30 AS `end`,
            argMax(`window`, (count, -toInt64(toUInt32(`window`)))) AS peak_window,
            max(count) AS peak_count,
            argMax(baseline, (count, -toInt64(toUInt32(`window`)))) AS baseline,
            max(score) AS score
        FROM islands
        GROUP BY channel, kind, emote, island
    ),
    -- A scalar: the steps below name the runs five times, and each would read burst_windows again.
    (SELECT groupArray((channel, kind, emote, start, `end`, peak_window, peak_count, baseline, score)) FROM new_runs) AS run_list,
    runs AS (
        SELECT r.1 AS channel, r.2 AS kind, r.3 AS emote, r.4 AS start, r.5 AS `end`, r.6 AS peak_window, r.7 AS peak_count, r.8 AS baseline, r.9 AS score
        FROM (SELECT arrayJoin(run_list) AS r)
    ),
    run_windows AS (
        SELECT channel, kind, emote, start, arrayJoin(arrayMap(i -> start + i * 30, range(intDiv(toUInt32(`end`) - toUInt32(start), 30)))) AS w FROM runs
    ),
    run_emotes AS (
        SELECT r.channel AS channel, r.kind AS kind, r.emote AS emote, r.start AS start, e.used AS used, sum(e.uses) AS uses
        FROM run_windows AS r
        INNER JOIN
        (
            SELECT channel, `window`, toString(emote) AS used, uses
            FROM emotes_30s
            WHERE (channel, `window`) IN (SELECT channel, w FROM run_windows)
        ) AS e ON e.channel = r.channel AND e.`window` = r.w
        GROUP BY channel, kind, emote, start, used
    ),
    tops AS (
        SELECT channel, kind, emote, start, arrayMap(x -> x.2, arraySlice(arraySort(x -> (-x.1, x.2), groupArray((uses, used))), 1, 5)) AS top_emotes
        FROM run_emotes
        GROUP BY channel, kind, emote, start
    ),
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
    ),
    fresh AS (
        SELECT
            toString(r.kind) AS kind, r.channel AS channel, toString(r.emote) AS emote, r.start AS start, r.`end` AS `end`,
            r.peak_window AS peak_window, r.peak_count AS peak_count, r.baseline AS baseline, r.score AS score,
            t.top_emotes AS top_emotes, s.sample_messages AS sample_messages
        FROM runs AS r
        LEFT JOIN tops AS t ON t.channel = r.channel AND t.kind = r.kind AND t.emote = r.emote AND t.start = r.start
        LEFT JOIN samples AS s ON s.channel = r.channel AND s.kind = r.kind AND s.emote = r.emote AND s.w = r.peak_window
    ),
    keyed AS (
        SELECT kind, channel, emote, start,
            argMax(tuple(`end`, peak_window, peak_count, baseline, score, top_emotes, sample_messages), is_fresh) AS v,
            max(is_fresh) AS present
        FROM
        (
            SELECT kind, channel, emote, start, `end`, peak_window, peak_count, baseline, score, top_emotes, sample_messages, 1 AS is_fresh FROM fresh
            UNION ALL
            SELECT t.1, t.2, t.3, t.4, t.5, toDateTime(0, 'UTC'), toUInt64(0), 0., 0., CAST([], 'Array(String)'), CAST([], 'Array(String)'), 0 AS is_fresh
            FROM (SELECT arrayJoin(touching) AS t)
        )
        GROUP BY kind, channel, emote, start
    ),
    all_rows AS (
        SELECT kind, channel, emote, start, v.1 AS `end`, v.2 AS peak_window, v.3 AS peak_count, v.4 AS baseline, v.5 AS score,
            v.6 AS top_emotes, v.7 AS sample_messages, refresh_version AS version, toUInt8(1 - present) AS deleted
        FROM keyed
        UNION ALL
        SELECT '', d.1, '', d.2, d.2, toDateTime(0, 'UTC'), toUInt64(0), 0., 0., CAST([], 'Array(String)'), CAST([], 'Array(String)'), d.3, toUInt8(0)
        FROM (SELECT arrayJoin(dirty) AS d)
    )
SELECT
    kind, channel, emote, start, `end`, peak_window, peak_count, baseline, score, top_emotes, sample_messages,
    toDateTime(now(), 'UTC') AS detected_at, version, deleted
FROM all_rows
-- Markers last (see above).
ORDER BY kind = '' SETTINGS max_partitions_per_insert_block = 0;

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
