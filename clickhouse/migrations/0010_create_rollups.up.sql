-- Enrich rollups: 30-second AggregatingMergeTree tables fed by materialized views on the raw tables,
-- and 1-minute, 1-hour and 1-day tables fed by views on the 30-second ones (re-aggregation of states,
-- so a window's numbers are the same whichever resolution is read).
--
-- Exactly once: enrich inserts each batch with a deterministic `insert_deduplication_token` and
-- `deduplicate_blocks_in_dependent_materialized_views = 1`; a retried identical insert is then dropped
-- by the raw table and by every view below it. Non-replicated MergeTree keeps no block hashes unless
-- `non_replicated_deduplication_window` is set, so every table an enrich insert reaches sets it
-- (10,000 blocks: at one 5,000-row batch per 250 ms that is ~40 minutes of retries covered, far more
-- than the 30 s ack_wait; each remembered block costs a few bytes in the table's dedup log).
ALTER TABLE messages MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE mod_actions MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE user_notices MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE room_states MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE ingest_events MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE dead_letters MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE user_names MODIFY SETTING non_replicated_deduplication_window = 10000;

CREATE TABLE chat_30s
(
    channel LowCardinality(String),
    `window` DateTime('UTC'),
    messages SimpleAggregateFunction(sum, UInt64),
    chatters AggregateFunction(uniqExact, String),
    first_time_chatters SimpleAggregateFunction(sum, UInt64),
    sentiment_sum SimpleAggregateFunction(sum, Float64),
    sentiment_neg SimpleAggregateFunction(sum, UInt64),
    sentiment_neu SimpleAggregateFunction(sum, UInt64),
    sentiment_pos SimpleAggregateFunction(sum, UInt64),
    toxicity_sum SimpleAggregateFunction(sum, Float64),
    toxicity_max SimpleAggregateFunction(max, Float32),
    emote_uses SimpleAggregateFunction(sum, UInt64),
    bits SimpleAggregateFunction(sum, UInt64),
    bans SimpleAggregateFunction(sum, UInt64),
    timeouts SimpleAggregateFunction(sum, UInt64),
    deletions SimpleAggregateFunction(sum, UInt64),
    clears SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(`window`)
ORDER BY (channel, `window`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE chat_1m AS chat_30s;
CREATE TABLE chat_1h AS chat_30s;
CREATE TABLE chat_1d AS chat_30s;

CREATE TABLE emotes_30s
(
    channel LowCardinality(String),
    `window` DateTime('UTC'),
    emote LowCardinality(String),
    uses SimpleAggregateFunction(sum, UInt64),
    users AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(`window`)
ORDER BY (channel, emote, `window`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE emotes_1m AS emotes_30s;
CREATE TABLE emotes_1h AS emotes_30s;
CREATE TABLE emotes_1d AS emotes_30s;

-- Chat messages -> chat_30s. The moderation columns are 0 here; mod_actions_30s_mv fills them.
CREATE MATERIALIZED VIEW chat_30s_messages_mv TO chat_30s AS
SELECT
    channel,
    toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC') AS `window`,
    count() AS messages,
    uniqExactState(login) AS chatters,
    countIf(first_msg) AS first_time_chatters,
    sum(toFloat64(sentiment)) AS sentiment_sum,
    countIf(sentiment_label < 0) AS sentiment_neg,
    countIf(sentiment_label = 0) AS sentiment_neu,
    countIf(sentiment_label > 0) AS sentiment_pos,
    sum(toFloat64(toxicity)) AS toxicity_sum,
    max(toxicity) AS toxicity_max,
    sum(toUInt64(length(emote_names))) AS emote_uses,
    sum(toUInt64(ifNull(bits, 0))) AS bits,
    toUInt64(0) AS bans,
    toUInt64(0) AS timeouts,
    toUInt64(0) AS deletions,
    toUInt64(0) AS clears
FROM messages
GROUP BY channel, `window`;

-- Moderation actions -> the same chat_30s rows (a second view into one table; parts merge by key).
CREATE MATERIALIZED VIEW chat_30s_mod_actions_mv TO chat_30s AS
SELECT
    channel,
    toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC') AS `window`,
    toUInt64(0) AS messages,
    uniqExactStateIf(target_login, 0) AS chatters,
    toUInt64(0) AS first_time_chatters,
    toFloat64(0) AS sentiment_sum,
    toUInt64(0) AS sentiment_neg,
    toUInt64(0) AS sentiment_neu,
    toUInt64(0) AS sentiment_pos,
    toFloat64(0) AS toxicity_sum,
    toFloat32(0) AS toxicity_max,
    toUInt64(0) AS emote_uses,
    toUInt64(0) AS bits,
    countIf(action = 'ban') AS bans,
    countIf(action = 'timeout') AS timeouts,
    countIf(action = 'delete') AS deletions,
    countIf(action = 'clear') AS clears
FROM mod_actions
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW emotes_30s_mv TO emotes_30s AS
SELECT
    channel,
    toDateTime(toStartOfInterval(ts, toIntervalSecond(30)), 'UTC') AS `window`,
    emote,
    count() AS uses,
    uniqExactState(login) AS users
FROM messages
ARRAY JOIN emote_names AS emote
GROUP BY channel, `window`, emote;

-- Coarser resolutions re-aggregate the 30-second rows as they are inserted. The subquery renames
-- every column (s_*) so no output alias can shadow an input column of the same name.
CREATE MATERIALIZED VIEW chat_1m_mv TO chat_1m AS
SELECT
    s_channel AS channel,
    toDateTime(toStartOfMinute(s_window), 'UTC') AS `window`,
    sum(s_messages) AS messages,
    sum(s_first_time_chatters) AS first_time_chatters,
    sum(s_sentiment_sum) AS sentiment_sum,
    sum(s_sentiment_neg) AS sentiment_neg,
    sum(s_sentiment_neu) AS sentiment_neu,
    sum(s_sentiment_pos) AS sentiment_pos,
    sum(s_toxicity_sum) AS toxicity_sum,
    sum(s_emote_uses) AS emote_uses,
    sum(s_bits) AS bits,
    sum(s_bans) AS bans,
    sum(s_timeouts) AS timeouts,
    sum(s_deletions) AS deletions,
    sum(s_clears) AS clears,
    uniqExactMergeState(s_chatters) AS chatters,
    max(s_toxicity_max) AS toxicity_max
FROM (SELECT channel AS s_channel, `window` AS s_window, chatters AS s_chatters, toxicity_max AS s_toxicity_max, messages AS s_messages, first_time_chatters AS s_first_time_chatters, sentiment_sum AS s_sentiment_sum, sentiment_neg AS s_sentiment_neg, sentiment_neu AS s_sentiment_neu, sentiment_pos AS s_sentiment_pos, toxicity_sum AS s_toxicity_sum, emote_uses AS s_emote_uses, bits AS s_bits, bans AS s_bans, timeouts AS s_timeouts, deletions AS s_deletions, clears AS s_clears FROM chat_30s)
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW chat_1h_mv TO chat_1h AS
SELECT
    s_channel AS channel,
    toDateTime(toStartOfHour(s_window), 'UTC') AS `window`,
    sum(s_messages) AS messages,
    sum(s_first_time_chatters) AS first_time_chatters,
    sum(s_sentiment_sum) AS sentiment_sum,
    sum(s_sentiment_neg) AS sentiment_neg,
    sum(s_sentiment_neu) AS sentiment_neu,
    sum(s_sentiment_pos) AS sentiment_pos,
    sum(s_toxicity_sum) AS toxicity_sum,
    sum(s_emote_uses) AS emote_uses,
    sum(s_bits) AS bits,
    sum(s_bans) AS bans,
    sum(s_timeouts) AS timeouts,
    sum(s_deletions) AS deletions,
    sum(s_clears) AS clears,
    uniqExactMergeState(s_chatters) AS chatters,
    max(s_toxicity_max) AS toxicity_max
FROM (SELECT channel AS s_channel, `window` AS s_window, chatters AS s_chatters, toxicity_max AS s_toxicity_max, messages AS s_messages, first_time_chatters AS s_first_time_chatters, sentiment_sum AS s_sentiment_sum, sentiment_neg AS s_sentiment_neg, sentiment_neu AS s_sentiment_neu, sentiment_pos AS s_sentiment_pos, toxicity_sum AS s_toxicity_sum, emote_uses AS s_emote_uses, bits AS s_bits, bans AS s_bans, timeouts AS s_timeouts, deletions AS s_deletions, clears AS s_clears FROM chat_30s)
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW chat_1d_mv TO chat_1d AS
SELECT
    s_channel AS channel,
    toDateTime(toStartOfDay(s_window), 'UTC') AS `window`,
    sum(s_messages) AS messages,
    sum(s_first_time_chatters) AS first_time_chatters,
    sum(s_sentiment_sum) AS sentiment_sum,
    sum(s_sentiment_neg) AS sentiment_neg,
    sum(s_sentiment_neu) AS sentiment_neu,
    sum(s_sentiment_pos) AS sentiment_pos,
    sum(s_toxicity_sum) AS toxicity_sum,
    sum(s_emote_uses) AS emote_uses,
    sum(s_bits) AS bits,
    sum(s_bans) AS bans,
    sum(s_timeouts) AS timeouts,
    sum(s_deletions) AS deletions,
    sum(s_clears) AS clears,
    uniqExactMergeState(s_chatters) AS chatters,
    max(s_toxicity_max) AS toxicity_max
FROM (SELECT channel AS s_channel, `window` AS s_window, chatters AS s_chatters, toxicity_max AS s_toxicity_max, messages AS s_messages, first_time_chatters AS s_first_time_chatters, sentiment_sum AS s_sentiment_sum, sentiment_neg AS s_sentiment_neg, sentiment_neu AS s_sentiment_neu, sentiment_pos AS s_sentiment_pos, toxicity_sum AS s_toxicity_sum, emote_uses AS s_emote_uses, bits AS s_bits, bans AS s_bans, timeouts AS s_timeouts, deletions AS s_deletions, clears AS s_clears FROM chat_30s)
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW emotes_1m_mv TO emotes_1m AS
SELECT
    s_channel AS channel,
    toDateTime(toStartOfMinute(s_window), 'UTC') AS `window`,
    s_emote AS emote,
    sum(s_uses) AS uses,
    uniqExactMergeState(s_users) AS users
FROM (SELECT channel AS s_channel, `window` AS s_window, emote AS s_emote, uses AS s_uses, users AS s_users FROM emotes_30s)
GROUP BY channel, `window`, emote;

CREATE MATERIALIZED VIEW emotes_1h_mv TO emotes_1h AS
SELECT
    s_channel AS channel,
    toDateTime(toStartOfHour(s_window), 'UTC') AS `window`,
    s_emote AS emote,
    sum(s_uses) AS uses,
    uniqExactMergeState(s_users) AS users
FROM (SELECT channel AS s_channel, `window` AS s_window, emote AS s_emote, uses AS s_uses, users AS s_users FROM emotes_30s)
GROUP BY channel, `window`, emote;

CREATE MATERIALIZED VIEW emotes_1d_mv TO emotes_1d AS
SELECT
    s_channel AS channel,
    toDateTime(toStartOfDay(s_window), 'UTC') AS `window`,
    s_emote AS emote,
    sum(s_uses) AS uses,
    uniqExactMergeState(s_users) AS users
FROM (SELECT channel AS s_channel, `window` AS s_window, emote AS s_emote, uses AS s_uses, users AS s_users FROM emotes_30s)
GROUP BY channel, `window`, emote;
