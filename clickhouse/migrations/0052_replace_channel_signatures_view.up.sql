-- channel_signatures_mv aggregating each message once; the rows it writes to `channel_signatures` are
-- 0032's (test/analytics/refresh-rewrites.test.ts compares them with 0032's query on real chat: counts,
-- ratios of counts, emotes and times equal; sentiment, toxicity and length means equal to 1e-9 relative).
--
-- Why: 0032's GROUP BY GROUPING SETS ((channel, day), (channel)) over `messages` fed every message into
-- two aggregations, each hashing its login into a uniqExact set. Here messages are aggregated once per
-- (channel, day) into states, and the whole-history row of a channel merges its days' states (a few
-- rows per channel-day). The means are avg states, so the 'all' row sums the days' sums: the same
-- additions in another order, which only moves the last bits of a float mean (0032's own parallel
-- aggregation already adds its partial sums in varying order). Integer counts, and the ratios
-- computed from them, are exact.
-- Measured 2026-11-21 (chdb 26.7, 2-core VM shared with other sessions), same data as 0051 (4,330,100
--   messages in 100 channels, 200 signature rows), the view's query alone, 5 runs alternating 0032 / 0052
--   (load 2.5): wall 758-976 ms -> 563-712 ms, process CPU 1,488-1,899 ms -> 1,070-1,284 ms.
--   `node bench/analytics.ts --copies 100 --refresh-only`, 2 interleaved pairs at load 4-9: 1,016 / 2,599 ms
--   before, 2,358 / 2,256 ms after: within that machine's noise (see 0051).
--
-- What does not change: still one read of (channel, ts, login, emote_names, sentiment, sentiment_label,
-- toxicity, text) of all history per refresh, linear in history.

DROP VIEW IF EXISTS channel_signatures_mv;

CREATE MATERIALIZED VIEW channel_signatures_mv REFRESH EVERY 5 MINUTE TO channel_signatures AS
WITH
    days AS (
        SELECT
            channel,
            toDate(ts) AS day,
            count() AS messages,
            uniqExactState(login) AS chatters,
            sum(length(emote_names)) AS emote_uses,
            countIf(length(emote_names) > 0) AS emote_messages,
            avgState(sentiment) AS sentiment,
            countIf(sentiment_label < 0) AS neg,
            countIf(sentiment_label = 0) AS neu,
            countIf(sentiment_label > 0) AS pos,
            avgState(toxicity) AS toxicity,
            avgState(lengthUTF8(text)) AS length,
            min(ts) AS first_seen,
            max(ts) AS last_seen
        FROM messages
        GROUP BY channel, day
    ),
    -- Two groupings of the day rows: (channel, day) and (channel); the second has day = 1970-01-01.
    chat AS (
        SELECT
            channel,
            day,
            sum(messages) AS messages,
            uniqExactMerge(chatters) AS chatters,
            sum(emote_uses) AS emote_uses,
            sum(emote_messages) / messages AS emote_message_share,
            avgMerge(sentiment) AS sentiment_mean,
            sum(neg) / messages AS sentiment_neg_share,
            sum(neu) / messages AS sentiment_neu_share,
            sum(pos) / messages AS sentiment_pos_share,
            avgMerge(toxicity) AS toxicity_mean,
            avgMerge(length) AS length_mean,
            min(first_seen) AS first_seen,
            max(last_seen) AS last_seen
        FROM days
        GROUP BY GROUPING SETS ((channel, day), (channel))
    ),
    emote_totals AS (
        SELECT channel, toDate(`window`) AS day, toString(emote) AS emote, sum(uses) AS n
        FROM emotes_1d
        GROUP BY GROUPING SETS ((channel, day, emote), (channel, emote))
    ),
    top AS (
        SELECT
            channel,
            day,
            arraySlice(arraySort(x -> (-x.1, x.2), groupArray((n, emote))), 1, 10) AS ranked,
            sum(n) AS total
        FROM emote_totals
        GROUP BY channel, day
    )
SELECT
    c.channel AS channel,
    if(c.day = toDate('1970-01-01'), 'all', 'day') AS period,
    c.day AS period_start,
    c.messages AS messages,
    c.chatters AS chatters,
    c.messages / c.chatters AS messages_per_chatter,
    c.emote_uses AS emote_uses,
    c.emote_message_share AS emote_message_share,
    arrayMap(x -> x.2, t.ranked) AS top_emotes,
    arrayMap(x -> x.1 / t.total, t.ranked) AS top_emote_shares,
    c.sentiment_mean AS sentiment_mean,
    c.sentiment_neg_share AS sentiment_neg_share,
    c.sentiment_neu_share AS sentiment_neu_share,
    c.sentiment_pos_share AS sentiment_pos_share,
    c.toxicity_mean AS toxicity_mean,
    c.length_mean AS length_mean,
    c.first_seen AS first_seen,
    c.last_seen AS last_seen
FROM chat AS c
LEFT JOIN top AS t ON t.channel = c.channel AND t.day = c.day;
