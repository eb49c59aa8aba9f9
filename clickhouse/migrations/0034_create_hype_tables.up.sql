-- Hype prediction (issue 6): the probability that a volume burst (a hot volume window, see 0030)
-- happens in the next 60 seconds, from the features of the current and previous 30-second window.
-- The model is a logistic regression trained in TypeScript (analytics/hype.ts) and saved in
-- analytics/hype-weights.json; refreshDerived() loads it into `hype_model` (weights passed as query
-- parameters), and `hype_predictions_mv` applies the newest model row in SQL.

CREATE TABLE hype_model
(
    version String,
    -- Names of hype_features.features, in order; the loader refuses weights trained on another order.
    features Array(String),
    weights Array(Float64),
    bias Float64,
    -- Probability at or above which the model says "burst" (tuned on the training split).
    threshold Float64,
    -- When refreshDerived loaded it: the newest loaded model is the one applied.
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (loaded_at, version);

-- Per channel and active 30-second window: the model's inputs and the label it is trained on.
-- features (in this order):
--   1 log_rel_volume        ln(1 + messages) - ln(1 + baseline median of the trailing 10 minutes)
--   2 log_slope             ln(1 + messages) - ln(1 + messages of the previous window)
--   3 log_rel_prev          ln(1 + previous window) - ln(1 + baseline)
--   4 chatters_per_message  distinct chatters / messages
--   5 emotes_per_message    emote uses / messages
--   6 sentiment_mean        mean sentiment of the window
--   7 top_emote_share       uses of the window's most used emote / all emote uses (0 without emotes)
--   8 score_clipped         robust z-score of the window, clipped to [-10, 20], / 10
--   9 hot_now               1 when this window is itself part of a volume burst
-- label: 1 when the next or the one after (the next 60 s) is a hot volume window.
-- A plain view over burst_windows and the rollups; cost of a read ~ one pass over chat_30s/emotes_30s.
CREATE VIEW hype_features AS
WITH
    vol AS (
        SELECT channel, `window`, count AS n, baseline, score, hot
        FROM burst_windows
        WHERE kind = 'volume'
    ),
    chat AS (
        SELECT channel, `window`, uniqExactMerge(chatters) AS chatters, sum(emote_uses) AS emote_uses, sum(sentiment_sum) AS sentiment_sum
        FROM chat_30s
        GROUP BY channel, `window`
    ),
    top_share AS (
        SELECT channel, `window`, max(u) / sum(u) AS top_emote_share
        FROM (SELECT channel, `window`, emote, sum(uses) AS u FROM emotes_30s GROUP BY channel, `window`, emote)
        GROUP BY channel, `window`
    ),
    framed AS (
        SELECT
            v.channel AS channel,
            v.`window` AS `window`,
            v.n AS n,
            v.baseline AS baseline,
            v.score AS score,
            v.hot AS hot,
            c.chatters AS chatters,
            c.emote_uses AS emote_uses,
            c.sentiment_sum AS sentiment_sum,
            t.top_emote_share AS top_emote_share,
            -- The previous window's count, 0 when it had no chat (missing row).
            sum(v.n) OVER (PARTITION BY v.channel ORDER BY toUInt32(v.`window`) RANGE BETWEEN 30 PRECEDING AND 30 PRECEDING) AS prev_n,
            max(toUInt8(v.hot)) OVER (PARTITION BY v.channel ORDER BY toUInt32(v.`window`) RANGE BETWEEN 30 FOLLOWING AND 60 FOLLOWING) AS label
        FROM vol AS v
        LEFT JOIN chat AS c ON c.channel = v.channel AND c.`window` = v.`window`
        LEFT JOIN top_share AS t ON t.channel = v.channel AND t.`window` = v.`window`
    )
SELECT
    channel,
    `window`,
    n AS messages,
    prev_n AS previous_messages,
    baseline,
    score,
    hot,
    [
        log1p(n) - log1p(baseline),
        log1p(n) - log1p(prev_n),
        log1p(prev_n) - log1p(baseline),
        chatters / n,
        emote_uses / n,
        sentiment_sum / n,
        ifNull(top_emote_share, 0),
        least(greatest(score, -10), 20) / 10,
        toFloat64(hot)
    ] AS features,
    label
FROM framed;

CREATE TABLE hype_predictions
(
    channel LowCardinality(String),
    -- The window the prediction is made at; it is about the 60 seconds after it.
    `window` DateTime('UTC'),
    probability Float64,
    -- probability >= the model's tuned threshold.
    predicted Bool,
    model_version String
)
ENGINE = MergeTree
ORDER BY (channel, `window`);

-- Full history each refresh, like bursts (predictions for imported chat are there after refreshDerived).
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
