-- Stream signatures and channel comparison (issue 6).
--
-- channel_signatures: per channel and period ('day' = one UTC day, 'all' = whole history, with
-- period_start 1970-01-01) what the chat looks like: top-10 emotes with their share of all emote
-- uses, sentiment label shares and mean, toxicity mean, message length mean, messages per chatter.
-- Refreshed every 5 minutes over the full history: one GROUPING SETS pass over messages (day and
-- all at once) and one over emotes_1d. Cost ~ reading 7 numeric columns + text length of messages.
-- (Topic mix is left out: topic ids are per topic window, so they do not add up across a day.)

CREATE TABLE channel_signatures
(
    channel LowCardinality(String),
    period LowCardinality(String),
    period_start Date,
    messages UInt64,
    chatters UInt64,
    messages_per_chatter Float64,
    emote_uses UInt64,
    -- Share of messages with at least one emote.
    emote_message_share Float64,
    top_emotes Array(String),
    -- top_emotes[i] uses / all emote uses of the channel in the period.
    top_emote_shares Array(Float64),
    sentiment_mean Float64,
    sentiment_neg_share Float64,
    sentiment_neu_share Float64,
    sentiment_pos_share Float64,
    toxicity_mean Float64,
    length_mean Float64,
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (channel, period, period_start);

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

-- Pairwise channel similarity over the whole history (one row per unordered pair, channel_a < channel_b):
--   emote_js_similarity = 1 - Jensen-Shannon divergence (log base 2, so in [0, 1]) between the two
--     channels' full emote distributions (uses of each emote / all emote uses, from emotes_1d).
--     1 = the same emote mix, 0 = no emote in common.
--   feature_cosine = cosine similarity of the vectors
--     [sentiment_neg_share, sentiment_neu_share, sentiment_pos_share, toxicity_mean,
--      emote_message_share, least(length_mean / 100, 1), least(messages_per_chatter / 100, 1)]
--     from channel_signatures (period 'all'). Every component is a share or capped to [0, 1], so no
--     feature dwarfs the others and the value does not depend on which other channels exist.
-- A plain view: computed when read, from emotes_1d and channel_signatures (small tables).
CREATE VIEW channel_similarity AS
WITH
    dist AS (
        SELECT channel, CAST((groupArray(emote), groupArray(n / total)), 'Map(String, Float64)') AS p
        FROM (
            SELECT channel, toString(emote) AS emote, sum(uses) AS n, sum(n) OVER (PARTITION BY channel) AS total
            FROM emotes_1d
            GROUP BY channel, emote
        )
        GROUP BY channel
    ),
    vec AS (
        SELECT channel, [sentiment_neg_share, sentiment_neu_share, sentiment_pos_share, toxicity_mean,
                         emote_message_share, least(length_mean / 100, 1), least(messages_per_chatter / 100, 1)] AS v
        FROM channel_signatures
        WHERE period = 'all'
    ),
    pairs AS (
        SELECT a.channel AS channel_a, b.channel AS channel_b
        FROM vec AS a CROSS JOIN vec AS b
        WHERE a.channel < b.channel
    )
SELECT
    pairs.channel_a AS channel_a,
    pairs.channel_b AS channel_b,
    -- sum over emotes of 0.5 p log2(p/m) + 0.5 q log2(q/m), m = (p + q) / 2; 0 log 0 = 0.
    1 - arraySum(e -> 0.5 * if(da.p[e] > 0, da.p[e] * log2(da.p[e] / ((da.p[e] + db.p[e]) / 2)), 0)
                    + 0.5 * if(db.p[e] > 0, db.p[e] * log2(db.p[e] / ((da.p[e] + db.p[e]) / 2)), 0),
                 arrayDistinct(arrayConcat(mapKeys(da.p), mapKeys(db.p)))) AS emote_js_similarity,
    arraySum(arrayMap((x, y) -> x * y, va.v, vb.v)) / (sqrt(arraySum(x -> x * x, va.v)) * sqrt(arraySum(x -> x * x, vb.v))) AS feature_cosine
FROM pairs
INNER JOIN vec AS va ON va.channel = pairs.channel_a
INNER JOIN vec AS vb ON vb.channel = pairs.channel_b
LEFT JOIN dist AS da ON da.channel = pairs.channel_a
LEFT JOIN dist AS db ON db.channel = pairs.channel_b;

-- Chatter overlap between channels over the whole history: Jaccard = |A ∩ B| / |A ∪ B| of the sets
-- of logins that chatted in each (from stream_chatters). One row per unordered pair; pairs without
-- a shared chatter have shared = 0. A plain view over stream_chatters.
CREATE VIEW chatter_overlap AS
WITH
    audience AS (SELECT DISTINCT channel, login FROM stream_chatters),
    sizes AS (SELECT channel, count() AS chatters FROM audience GROUP BY channel),
    shared AS (
        SELECT a.channel AS channel_a, b.channel AS channel_b, count() AS shared
        FROM audience AS a
        INNER JOIN audience AS b ON a.login = b.login
        WHERE a.channel < b.channel
        GROUP BY channel_a, channel_b
    )
SELECT
    sa.channel AS channel_a,
    sb.channel AS channel_b,
    sa.chatters AS chatters_a,
    sb.chatters AS chatters_b,
    ifNull(s.shared, 0) AS shared,
    ifNull(s.shared, 0) / (sa.chatters + sb.chatters - ifNull(s.shared, 0)) AS jaccard
FROM sizes AS sa
CROSS JOIN sizes AS sb
LEFT JOIN shared AS s ON s.channel_a = sa.channel AND s.channel_b = sb.channel
WHERE sa.channel < sb.channel;
