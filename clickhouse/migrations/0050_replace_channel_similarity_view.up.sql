-- channel_similarity (0032) with emote_js_similarity NULL when either channel used no emote. 0032's
-- query gave such a pair 0.5 (one side empty) or 1 (both: "the same emote mix"), while the API's
-- figure for a time range (computed from the raw tables, same definition) is null: the two sources of
-- GET /analytics/compare disagreed. A plain view: nothing is stored, so nothing is rewritten.
DROP VIEW IF EXISTS channel_similarity;

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
    -- NULL when either channel used no emote (its distribution is undefined; the LEFT JOIN gives an empty map).
    if(empty(da.p) OR empty(db.p), NULL,
       1 - arraySum(e -> 0.5 * if(da.p[e] > 0, da.p[e] * log2(da.p[e] / ((da.p[e] + db.p[e]) / 2)), 0)
                       + 0.5 * if(db.p[e] > 0, db.p[e] * log2(db.p[e] / ((da.p[e] + db.p[e]) / 2)), 0),
                    arrayDistinct(arrayConcat(mapKeys(da.p), mapKeys(db.p))))) AS emote_js_similarity,
    arraySum(arrayMap((x, y) -> x * y, va.v, vb.v)) / (sqrt(arraySum(x -> x * x, va.v)) * sqrt(arraySum(x -> x * x, vb.v))) AS feature_cosine
FROM pairs
INNER JOIN vec AS va ON va.channel = pairs.channel_a
INNER JOIN vec AS vb ON vb.channel = pairs.channel_b
LEFT JOIN dist AS da ON da.channel = pairs.channel_a
LEFT JOIN dist AS db ON db.channel = pairs.channel_b;
