-- Finalized chatter counts per rollup window, so a timeline does not merge `uniqExact` states.
--
-- Why: a chart of 500 one-minute windows of a busy channel merges ~220,000 chatter hashes out of
-- ~3.5 MB of states (and the granules around them); measured on 10^7 messages that was 70-80% of the
-- query time of `/analytics/{channel}/timeline` (`node bench/api.ts`, docs/api.md). The count per
-- window is a plain number once the window stops changing, so it is stored here.
--
-- How it stays exact: each row records the window's message count at the time it was counted. A
-- window's set of chatters only changes when its messages change (a new message, or an opt-out
-- deleting some), so a row is valid exactly while `messages` still equals the rollup's
-- `sum(messages)` for that window; readers (api/rollups.ts) use it only then and merge the states for
-- the other windows (the live window, late events, imports in flight). Nothing depends on clocks:
-- imported 2016 chat is counted like live chat.
--
-- Refresh: every 30 s, APPEND. Each refresh compares every window's message count with the last
-- count stored for it (one read of the rollup's `messages` column, ~0.1 s per 10^5 windows) and
-- merges states only for windows that are new or changed; a recount appends a row with a later
-- `counted_at`, and readers take the latest (argMax; ReplacingMergeTree drops the older rows at merge).
-- The first refresh after a large import counts every window once (~8 s for 13,700 one-minute windows
-- of 10^7 messages on 2 cores).
-- Per-channel only: a window of all channels together needs the union of the channels' chatters, so
-- that query still merges states.

CREATE TABLE chatter_counts
(
    resolution LowCardinality(String),
    channel LowCardinality(String),
    `window` DateTime('UTC'),
    -- sum(messages) of the rollup window when it was counted: the validity check.
    messages UInt64,
    chatters UInt64,
    counted_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(counted_at)
ORDER BY (resolution, channel, `window`);

CREATE MATERIALIZED VIEW chatter_counts_30s_mv REFRESH EVERY 30 SECOND APPEND TO chatter_counts AS
SELECT '30s' AS resolution, channel, `window`, sum(messages) AS messages, uniqExactMerge(chatters) AS chatters, now64(3, 'UTC') AS counted_at
FROM chat_30s
WHERE (channel, `window`) IN (
    SELECT channel, `window`
    FROM (SELECT channel, `window`, sum(messages) AS m FROM chat_30s GROUP BY channel, `window`) AS rollup
    LEFT ANTI JOIN (
        SELECT channel, `window`, argMax(messages, counted_at) AS m FROM chatter_counts WHERE resolution = '30s' GROUP BY channel, `window`
    ) AS counted USING (channel, `window`, m)
)
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW chatter_counts_1m_mv REFRESH EVERY 30 SECOND APPEND TO chatter_counts AS
SELECT '1m' AS resolution, channel, `window`, sum(messages) AS messages, uniqExactMerge(chatters) AS chatters, now64(3, 'UTC') AS counted_at
FROM chat_1m
WHERE (channel, `window`) IN (
    SELECT channel, `window`
    FROM (SELECT channel, `window`, sum(messages) AS m FROM chat_1m GROUP BY channel, `window`) AS rollup
    LEFT ANTI JOIN (
        SELECT channel, `window`, argMax(messages, counted_at) AS m FROM chatter_counts WHERE resolution = '1m' GROUP BY channel, `window`
    ) AS counted USING (channel, `window`, m)
)
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW chatter_counts_1h_mv REFRESH EVERY 30 SECOND APPEND TO chatter_counts AS
SELECT '1h' AS resolution, channel, `window`, sum(messages) AS messages, uniqExactMerge(chatters) AS chatters, now64(3, 'UTC') AS counted_at
FROM chat_1h
WHERE (channel, `window`) IN (
    SELECT channel, `window`
    FROM (SELECT channel, `window`, sum(messages) AS m FROM chat_1h GROUP BY channel, `window`) AS rollup
    LEFT ANTI JOIN (
        SELECT channel, `window`, argMax(messages, counted_at) AS m FROM chatter_counts WHERE resolution = '1h' GROUP BY channel, `window`
    ) AS counted USING (channel, `window`, m)
)
GROUP BY channel, `window`;

CREATE MATERIALIZED VIEW chatter_counts_1d_mv REFRESH EVERY 30 SECOND APPEND TO chatter_counts AS
SELECT '1d' AS resolution, channel, `window`, sum(messages) AS messages, uniqExactMerge(chatters) AS chatters, now64(3, 'UTC') AS counted_at
FROM chat_1d
WHERE (channel, `window`) IN (
    SELECT channel, `window`
    FROM (SELECT channel, `window`, sum(messages) AS m FROM chat_1d GROUP BY channel, `window`) AS rollup
    LEFT ANTI JOIN (
        SELECT channel, `window`, argMax(messages, counted_at) AS m FROM chatter_counts WHERE resolution = '1d' GROUP BY channel, `window`
    ) AS counted USING (channel, `window`, m)
)
GROUP BY channel, `window`;
