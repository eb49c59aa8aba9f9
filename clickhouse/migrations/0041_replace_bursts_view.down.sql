-- Back to 0030's bursts_mv (same rows, slower sample step).

DROP VIEW IF EXISTS bursts_mv;

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
