-- Audience (issue 6): streams, who chatted in which stream, per-chatter features, segments, retention.
--
-- A stream is a run of chat activity in a channel with no gap longer than 30 minutes, measured on
-- the 30-second windows of chat_30s (two active windows more than 1,800 s apart start a new stream).
-- We do not know when the broadcast went live; chat is the evidence we have, and a 30-minute silence
-- is longer than any break of a live stream with an active chat.
--
-- Refresh: every 5 minutes, full history (imports of old chat land in the right stream). Cost: one
-- read of chat_30s, then one read of messages' (channel, login, ts) for stream_chatters and of
-- (channel, login, ts, text, emote_names) for chatter_features: the text read dominates, roughly
-- 1 s per 10^7 messages on one core.

CREATE TABLE channel_streams
(
    channel LowCardinality(String),
    -- 1, 2, ... per channel in time order (renumbered when an import adds an earlier stream).
    stream_no UInt32,
    start DateTime('UTC'),
    -- End of the last active window (exclusive).
    `end` DateTime('UTC'),
    messages UInt64,
    chatters UInt64
)
ENGINE = MergeTree
ORDER BY (channel, start);

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

-- Who chatted in which stream (the attendance behind features, retention and overlap).
CREATE TABLE stream_chatters
(
    channel LowCardinality(String),
    stream_no UInt32,
    login String,
    messages UInt64,
    first_ts DateTime64(3, 'UTC'),
    last_ts DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (channel, stream_no, login);

CREATE MATERIALIZED VIEW stream_chatters_mv REFRESH EVERY 5 MINUTE DEPENDS ON channel_streams_mv TO stream_chatters AS
SELECT
    m.channel AS channel,
    s.stream_no AS stream_no,
    m.login AS login,
    count() AS messages,
    min(m.ts) AS first_ts,
    max(m.ts) AS last_ts
FROM (SELECT channel, login, ts, toDateTime(ts, 'UTC') AS t FROM messages) AS m
ASOF INNER JOIN channel_streams AS s ON m.channel = s.channel AND m.t >= s.start
GROUP BY channel, stream_no, login;

-- One row per (channel, chatter).
CREATE TABLE chatter_features
(
    channel LowCardinality(String),
    login String,
    messages UInt64,
    streams_attended UInt32,
    messages_per_stream Float64,
    -- Distinct clock hours (UTC) with at least one message.
    active_hours UInt32,
    messages_per_active_hour Float64,
    -- Share of messages whose text (trimmed, lowercased) the chatter already sent in this channel.
    repeated_ratio Float64,
    -- Share of messages made only of emotes (every whitespace token is an emote).
    emote_only_ratio Float64,
    mean_length Float64,
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (channel, login);

CREATE MATERIALIZED VIEW chatter_features_mv REFRESH EVERY 5 MINUTE DEPENDS ON stream_chatters_mv TO chatter_features AS
WITH
    text_stats AS (
        SELECT
            channel,
            login,
            count() AS messages,
            uniqExact(toStartOfHour(ts)) AS active_hours,
            1 - uniqExact(cityHash64(lowerUTF8(trimBoth(text)))) / count() AS repeated_ratio,
            countIf(length(emote_names) > 0 AND length(emote_names) = length(splitByWhitespace(text))) / count() AS emote_only_ratio,
            avg(lengthUTF8(text)) AS mean_length,
            min(ts) AS first_seen,
            max(ts) AS last_seen
        FROM messages
        GROUP BY channel, login
    ),
    attendance AS (
        SELECT channel, login, toUInt32(count()) AS streams_attended
        FROM stream_chatters
        GROUP BY channel, login
    )
SELECT
    t.channel AS channel,
    t.login AS login,
    t.messages AS messages,
    greatest(a.streams_attended, 1) AS streams_attended,
    t.messages / greatest(a.streams_attended, 1) AS messages_per_stream,
    toUInt32(t.active_hours) AS active_hours,
    t.messages / t.active_hours AS messages_per_active_hour,
    t.repeated_ratio AS repeated_ratio,
    t.emote_only_ratio AS emote_only_ratio,
    t.mean_length AS mean_length,
    t.first_seen AS first_seen,
    t.last_seen AS last_seen
FROM text_stats AS t
LEFT JOIN attendance AS a ON a.channel = t.channel AND a.login = t.login;

-- A segment per (channel, chatter): the first rule that matches, in this order (deterministic):
--   spammer      messages >= 5 and repeated_ratio >= 0.5 (half of what they send is a repeat)
--   power_user   streams_attended >= 3 and messages_per_stream >= 20
--   regular      streams_attended >= 3
--   casual       streams_attended = 2, or messages >= 5 in a single stream
--   occasional   everyone else: one stream, under 5 messages (lurker-like: seen once, said little)
-- A plain view: always consistent with chatter_features, one pass over it per read.
CREATE VIEW chatter_segments AS
SELECT
    channel,
    login,
    multiIf(
        messages >= 5 AND repeated_ratio >= 0.5, 'spammer',
        streams_attended >= 3 AND messages_per_stream >= 20, 'power_user',
        streams_attended >= 3, 'regular',
        streams_attended = 2 OR messages >= 5, 'casual',
        'occasional') AS segment,
    messages,
    streams_attended,
    messages_per_stream,
    repeated_ratio,
    emote_only_ratio
FROM chatter_features;

-- Per channel and stream: chatters, how many of them also chatted in the previous stream, and the
-- retention ratio = returning / chatters of the previous stream (share of last stream's chatters who
-- came back). The first stream of a channel has previous_chatters = 0 and retention NULL.
CREATE VIEW chatter_retention AS
WITH
    per_stream AS (
        SELECT channel, stream_no, count() AS chatters
        FROM stream_chatters
        GROUP BY channel, stream_no
    ),
    returners AS (
        SELECT cur.channel AS channel, cur.stream_no AS stream_no, count() AS returning
        FROM stream_chatters AS cur
        INNER JOIN (SELECT channel, stream_no + 1 AS next_no, login FROM stream_chatters) AS prev
            ON prev.channel = cur.channel AND prev.next_no = cur.stream_no AND prev.login = cur.login
        GROUP BY channel, stream_no
    )
SELECT
    s.channel AS channel,
    s.stream_no AS stream_no,
    st.start AS stream_start,
    s.chatters AS chatters,
    ifNull(p.chatters, 0) AS previous_chatters,
    ifNull(r.returning, 0) AS returning,
    if(ifNull(p.chatters, 0) = 0, NULL, ifNull(r.returning, 0) / p.chatters) AS retention
FROM per_stream AS s
LEFT JOIN channel_streams AS st ON st.channel = s.channel AND st.stream_no = s.stream_no
LEFT JOIN (SELECT channel, stream_no + 1 AS next_no, chatters FROM per_stream) AS p ON p.channel = s.channel AND p.next_no = s.stream_no
LEFT JOIN returners AS r ON r.channel = s.channel AND r.stream_no = s.stream_no;
