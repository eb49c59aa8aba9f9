-- bursts_mv with a cheaper way to pick each burst's sample messages; the rows it writes to `bursts`
-- are identical to 0030's (test/analytics/bursts.test.ts compares them with 0030's query on real chat).
--
-- Why: on `node bench/analytics.ts` (433k messages, 1,400 bursts) a refresh of bursts_mv took
-- 216-226 ms (the query alone ~150 ms), ~2/3 of it the `samples` step: 0030 joined every burst with
-- all the messages of its peak window and only then kept those containing the burst's emote.
-- Measured (interleaved, same machine, nice -n 19): `node bench/analytics.ts`, 3 pairs, HEAD then this
--   migration, bursts_mv refresh: 216 / 226 / 224 ms before, 149 / 170 / 146 ms after (burst_windows_mv
--   80-96 and 74-85 ms, unchanged code; the detection figures are the same). The query alone, 9 runs
--   alternating on one database of that data: median 152 ms before, 104-116 ms after; of the ~105 ms,
--   `samples` ~75 (reading the peak windows' ts/text/emote_names ~40), `tops` ~27, `runs` ~9.
--   `--quick` (43k messages): 96-106 ms before, 84-127 after: noise, the fixed cost of a refresh dominates.
--
-- What does not change: the cost is still linear in history. Every refresh recomputes every burst, and
-- reading the peak windows' messages cannot skip much: the (channel, window) IN filter does use the
-- primary key (EXPLAIN indexes=1: 1 of 36 granules for one window), but peak windows are about half
-- of all active windows on real chat (930 of 1,710 on the bench), so nearly every granule holds one.

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
