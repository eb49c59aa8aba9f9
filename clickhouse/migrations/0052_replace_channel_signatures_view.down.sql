-- Back to 0032's channel_signatures_mv (same rows; aggregates every message once per grouping set).

DROP VIEW IF EXISTS channel_signatures_mv;

CREATE MATERIALIZED VIEW channel_signatures_mv REFRESH EVERY 5 MINUTE TO channel_signatures AS
WITH
    -- One pass, two groupings: (channel, day) and (channel); the second has day = 1970-01-01.
    chat AS (
        SELECT
            channel,
            toDate(ts) AS day,
            count() AS messages,
            uniqExact(login) AS chatters,
            sum(length(emote_names)) AS emote_uses,
            countIf(length(emote_names) > 0) / count() AS emote_message_share,
            avg(sentiment) AS sentiment_mean,
            countIf(sentiment_label < 0) / count() AS sentiment_neg_share,
            countIf(sentiment_label = 0) / count() AS sentiment_neu_share,
            countIf(sentiment_label > 0) / count() AS sentiment_pos_share,
            avg(toxicity) AS toxicity_mean,
            avg(lengthUTF8(text)) AS length_mean,
            min(ts) AS first_seen,
            max(ts) AS last_seen
        FROM messages
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
