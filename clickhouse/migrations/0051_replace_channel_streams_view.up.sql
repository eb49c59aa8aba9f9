-- channel_streams_mv with each stream's chatters merged once; the rows it writes to `channel_streams`
-- are identical to 0031's (test/analytics/refresh-rewrites.test.ts compares them with 0031's query on real chat).
--
-- Why: 0031 merged every 30-second window's chatter states into a new state (uniqExactMergeState per
-- window) and then merged those again per stream, so every login hash of the history was inserted into a
-- hash set twice and every window's set serialized in between. Here the streams are cut from the
-- windows' message counts alone (no states), and each stream's chatters are one uniqExactMerge of the
-- chat_30s rows whose window falls in it (ASOF join on the stream start: a row with no messages, e.g.
-- only moderation actions, holds an empty state and adds nothing, as in 0031).
-- Measured 2026-11-21 (chdb 26.7, 2-core VM shared with other sessions): riotgames1 loaded 100 times as
--   100 channels (4,330,100 messages, 19,500 chat_30s rows; the data of `node bench/analytics.ts --copies 100
--   --refresh-only`, kept and merged), the view's query alone, 5 runs alternating 0031 / 0051 (load 2.5):
--   wall 321-412 ms -> 162-247 ms, process CPU 477-731 ms -> 272-407 ms (first, cold run: 797 -> 225 ms).
--   Whole refreshes in `node bench/analytics.ts --copies 100 --refresh-only`, 2 interleaved pairs at load
--   4-9: 587 / 1,496 ms before, 3,073 / 807 ms after; the unchanged views of the same runs swung as much
--   (bursts_mv 1,603-2,643 ms), so one refresh right after a load does not resolve a 2x change here.
--
-- What does not change: the cost is still linear in history (every login hash of every window is
-- merged once per refresh).

DROP VIEW IF EXISTS channel_streams_mv;

CREATE MATERIALIZED VIEW channel_streams_mv REFRESH EVERY 5 MINUTE TO channel_streams AS
WITH
    active AS (
        SELECT channel, `window`, sum(messages) AS messages
        FROM chat_30s
        GROUP BY channel, `window`
        HAVING messages > 0
    ),
    -- A window more than 30 minutes after the previous active one opens a stream (the first always does).
    marked AS (
        SELECT
            *,
            toUInt32(`window`) - lagInFrame(toUInt32(`window`), 1, 0) OVER (PARTITION BY channel ORDER BY `window` ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) > 1800 AS opens
        FROM active
    ),
    numbered AS (
        SELECT *, sum(toUInt32(opens)) OVER (PARTITION BY channel ORDER BY `window` ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS stream_no
        FROM marked
    ),
    streams AS (
        SELECT channel, toUInt32(stream_no) AS stream_no, min(`window`) AS start, max(`window`) + 30 AS `end`, sum(messages) AS messages
        FROM numbered
        GROUP BY channel, stream_no
    ),
    -- (Not named stream_chatters: analytics/refresh.ts orders views by the tables their text names.)
    stream_logins AS (
        SELECT c.channel AS channel, s.stream_no AS stream_no, uniqExactMerge(c.chatters) AS chatters
        FROM chat_30s AS c
        ASOF INNER JOIN streams AS s ON c.channel = s.channel AND c.`window` >= s.start
        GROUP BY channel, stream_no
    )
SELECT
    s.channel AS channel,
    s.stream_no AS stream_no,
    s.start AS start,
    s.`end` AS `end`,
    s.messages AS messages,
    l.chatters AS chatters
FROM streams AS s
LEFT JOIN stream_logins AS l ON l.channel = s.channel AND l.stream_no = s.stream_no;
