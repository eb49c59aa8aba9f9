-- Burst detection, two fixes found by an audit on real chat (riotgames1, Northernlion's v5 rechat, the xqc
-- IRC capture): a stream's first minutes scored against windows from before the chat started, and an emote
-- burst could be one chatter's message. Only burst_windows_mv changes; bursts_mv and hype_predictions_mv are
-- recreated as 0057 left them (they depend on it), and the tables and the views `burst_windows` / `bursts`
-- keep their columns.
--
-- 1. The baseline only counts windows since the chat started. It was the median of the trailing 20 windows
--    with every missing one a 0, also those before the channel's first message, while a window is `warm` once
--    the chat is 5 minutes old. So k windows after warm-up the baseline was the (k+1)-th smallest count since
--    the start: Northernlion 2016-08-16 00:39:00 (41 messages against 24-63 in the ten windows before) got
--    baseline 1, score 27, hot; xqc 2023-04-01 03:19:00 (412 against 317-433) baseline 44, score 5.6; most
--    volume bursts of minutes 5-10 were that (clickhouse/README.md has the figures). Now a window with no chat
--    in the 10 minutes before it starts the chat, and a window's baseline span (the 20 windows before it) is
--    cut at the latest start in it: zeros pad only the windows after the start without chat, and the median
--    is over the windows since the start (10 to 20 once warm). Warm stays "the chat is 5 minutes old" (10
--    windows of baseline), for both kinds: an emote series uses its channel's start. Making a window warm only
--    once its whole 20-window span lies after the start (10 minutes) was the other way; it also drops real
--    bursts of minutes 5-10 (the HotPokket raid at riotgames 01:46:30, 7 minutes into the log).
--    What it costs: a window's start is found from the windows up to 20 minutes before it, all in the hour
--    read before its slice, so what a stale hour recomputes is unchanged.
-- 2. An emote window counts the chatters who used the emote (uniqExact of emotes_30s.users), not its uses,
--    and needs 5 of them (was 8 uses). A message repeating an emote 8 times or more was a burst by itself
--    (mcclerklin's MrDestructoid x24 at riotgames 2016-09-30 01:50:41 fired the Emote burst alert for 3
--    minutes at score 24). Requiring 3 chatters but scoring uses still left 53 of 395 bursts whose peak window
--    had one chatter writing over half of the uses (26% on riotgames: one spammer and two others); counting
--    chatters makes every chatter one, and 5 keeps the HotPokket raid's first window (5 chatters, 11 uses).
--    `count`, `baseline`, `mad` of emote windows and `peak_count`, `baseline` of emote bursts are chatters
--    now. Emote rows store their uses in `uses` (was 0; markers as before), which the hour marker sums, so
--    markers still equal chat_1h's emote uses.
--
-- Upgrade: every stored hour is stale (its marker gets an emote count no chat reaches, as api/privacy.ts
-- does for opt-outs), so the first refresh recomputes all history with the new rules, in one query: its
-- memory grows with history as after the upgrade to 0053 (~750 bytes per window row; clickhouse/README.md).
-- Until it has run, readers see the rows of the old rules. Safe to rerun from any point (each statement is
-- a drop, an insert of markers or a create).
-- Tests: test/analytics/burst-incremental.test.ts (the incremental views equal the full-history rules below),
-- test/grafana/bursts.test.ts (stream starts, one chatter's spam, the audited windows of real chat).

DROP VIEW IF EXISTS hype_predictions_mv;
DROP VIEW IF EXISTS bursts_mv;
DROP VIEW IF EXISTS burst_windows_mv;

-- 18446744073709551615 (UInt64 max): the poisoned marker of api/privacy.ts, greater version than any row.
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
    -- Everything below scores the hours read (a slice's windows and the hour before); the full-history form of
    -- these rules is the reference of test/analytics/burst-incremental.test.ts.
    volume AS (
        SELECT channel, `window`, sum(messages) AS n
        FROM chat_30s
        WHERE (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(read_hours))
        GROUP BY channel, `window`
        HAVING n > 0
    ),
    -- n = chatters who used the emote (see 2. above); uses only for the hour's marker.
    emote_uses AS (
        SELECT channel, `window`, toString(emote) AS emote, uniqExactMerge(users) AS n, sum(uses) AS uses
        FROM emotes_30s
        WHERE (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(read_hours))
        GROUP BY channel, emote, `window`
        HAVING uses > 0
    ),
    -- A window starts the chat when the channel had none in the 10 minutes before it (the span a baseline
    -- reads). The first window read has no previous one here and counts as a start: it lies in the hour before
    -- a slice, and only windows of that hour read it.
    starts AS (
        SELECT
            channel,
            `window`,
            toUInt32(`window`) - lagInFrame(toUInt32(`window`), 1, 0) OVER (PARTITION BY channel ORDER BY `window` ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) > 600 AS is_start
        FROM volume
    ),
    -- Where a window's baseline span begins: 10 minutes back, or the latest start in them.
    spans AS (
        SELECT
            channel,
            `window`,
            greatest(
                max(if(is_start, toUInt32(`window`), 0)) OVER (PARTITION BY channel ORDER BY toUInt32(`window`) RANGE BETWEEN 600 PRECEDING AND CURRENT ROW),
                toUInt32(`window`) - 600) AS span_start
        FROM starts
    ),
    series AS (
        SELECT channel, 'volume' AS kind, '' AS emote, `window`, n, toUInt64(0) AS uses FROM volume
        UNION ALL
        SELECT channel, 'emote' AS kind, emote, `window`, n, uses FROM emote_uses
    ),
    trailing AS (
        SELECT
            channel, kind, emote, `window`, n, uses,
            groupArray((toUInt32(`window`), n)) OVER (PARTITION BY channel, kind, emote ORDER BY toUInt32(`window`) RANGE BETWEEN 600 PRECEDING AND 30 PRECEDING) AS prev
        FROM series
    ),
    -- The span's windows without a count are zeros: pad to one value per window of the span. A chat's first
    -- window has an empty span and scores against a single 0, as every window of the first minutes did before.
    padded AS (
        SELECT
            t.channel AS channel, t.kind AS kind, t.emote AS emote, t.`window` AS `window`, t.n AS n, t.uses AS uses,
            greatest(intDiv(toUInt32(t.`window`) - p.span_start, 30), 1) AS slots,
            arrayMap(x -> x.2, arrayFilter(x -> x.1 >= p.span_start, t.prev)) AS kept,
            arrayConcat(kept, arrayWithConstant(slots - length(kept), toUInt64(0))) AS base
        FROM trailing AS t
        INNER JOIN spans AS p ON p.channel = t.channel AND p.`window` = t.`window`
        WHERE (t.channel, toStartOfHour(t.`window`)) IN (SELECT arrayJoin(slices))
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
    -- Warm: 10 windows (5 minutes) of baseline since the start.
    fresh AS (
        SELECT
            toString(kind) AS kind, channel, toString(emote) AS emote, `window`,
            n AS count, baseline, mad, score, toBool(slots >= 10) AS warm,
            toBool(slots >= 10
                AND n >= if(kind = 'volume', 20, 5)
                AND score >= 4
                AND n >= if(kind = 'volume', 1.5, 2.0) * baseline) AS hot,
            uses
        FROM scored
    ),
    -- Keys the slices hold now: a key the new computation lacks gets a tombstone.
    stored AS (
        SELECT toString(kind) AS kind, channel, toString(emote) AS emote, `window`
        FROM burst_window_rows FINAL
        WHERE kind IN ('volume', 'emote') AND (channel, toStartOfHour(`window`)) IN (SELECT arrayJoin(slices))
    ),
    keyed AS (
        SELECT kind, channel, emote, `window`, argMax(tuple(count, baseline, mad, score, warm, hot, uses), is_fresh) AS v, max(is_fresh) AS present
        FROM
        (
            SELECT kind, channel, emote, `window`, count, baseline, mad, score, warm, hot, uses, 1 AS is_fresh FROM fresh
            UNION ALL
            SELECT kind, channel, emote, `window`, toUInt64(0), 0., 0., 0., false, false, toUInt64(0), 0 AS is_fresh FROM stored
        )
        GROUP BY kind, channel, emote, `window`
    ),
    -- Per slice its rows and its marker (counted from the rows just computed, in this query's read).
    per_slice AS (
        SELECT
            channel,
            toStartOfHour(`window`) AS hour,
            groupArray(tuple(kind, emote, `window`, v.1, v.2, v.3, v.4, v.5, v.6, v.7, toUInt8(1 - present))) AS slice_rows,
            sumIf(v.1, present = 1 AND kind = 'volume') AS slice_messages,
            sumIf(v.7, present = 1 AND kind = 'emote') AS slice_uses
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
-- Markers last (see 0053).
ORDER BY kind = '' SETTINGS max_partitions_per_insert_block = 0;

-- 0057's, unchanged.
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
