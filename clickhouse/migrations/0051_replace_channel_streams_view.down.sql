-- Back to 0031's channel_streams_mv (same rows; merges every window's chatter states twice).

DROP VIEW IF EXISTS channel_streams_mv;

CREATE MATERIALIZED VIEW channel_streams_mv REFRESH EVERY 5 MINUTE TO channel_streams AS
WITH
    active AS (
        SELECT channel, `window`, sum(messages) AS messages, uniqExactMergeState(chatters) AS chatters
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
    )
SELECT
    channel,
    toUInt32(stream_no) AS stream_no,
    min(`window`) AS start,
    max(`window`) + 30 AS `end`,
    sum(messages) AS messages,
    uniqExactMerge(chatters) AS chatters
FROM numbered
GROUP BY channel, stream_no;
