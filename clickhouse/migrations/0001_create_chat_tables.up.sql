-- Raw chat, one row per event, exactly once (enrich drops ids already stored before inserting).
-- Sorted by (channel, ts): dashboards and the API read one channel over a time range.
-- The `by_login` projection stores only (login, ts, _part_offset): one user's history across
-- channels reads a few granules instead of the whole table, for ~8 bytes a row.
CREATE TABLE messages
(
    id String CODEC(ZSTD(1)),
    channel LowCardinality(String),
    channel_id LowCardinality(Nullable(String)),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    received_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    source LowCardinality(String),
    user_id Nullable(String) CODEC(ZSTD(1)),
    login String CODEC(ZSTD(1)),
    display_name Nullable(String) CODEC(ZSTD(1)),
    text String CODEC(ZSTD(3)),
    action Bool,
    badges Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    badge_info Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    color LowCardinality(Nullable(String)),
    emotes Array(Tuple(id String, start UInt32, `end` UInt32)) CODEC(ZSTD(1)),
    bits Nullable(UInt32),
    first_msg Bool,
    returning_chatter Bool,
    reply_parent_msg_id Nullable(String) CODEC(ZSTD(1)),
    reply_parent_user_id Nullable(String) CODEC(ZSTD(1)),
    reply_parent_login Nullable(String) CODEC(ZSTD(1)),
    reply_parent_display_name Nullable(String) CODEC(ZSTD(1)),
    reply_parent_text Nullable(String) CODEC(ZSTD(3)),
    reply_thread_parent_msg_id Nullable(String) CODEC(ZSTD(1)),
    reply_thread_parent_login Nullable(String) CODEC(ZSTD(1)),
    source_room_id Nullable(String),
    source_id Nullable(String),
    flags Nullable(String),
    tags Map(String, String) CODEC(ZSTD(3)),
    -- Enrichment (filled by enrich before insert; never updated in place).
    emote_names Array(LowCardinality(String)),
    emote_ids Array(String) CODEC(ZSTD(1)),
    emote_providers Array(LowCardinality(String)),
    sentiment Float32 CODEC(ZSTD(1)),
    sentiment_label Int8,
    toxicity Float32 CODEC(ZSTD(1)),
    mod_risk Float32 CODEC(ZSTD(1)),
    topic_id Int32 DEFAULT -1,
    enrich_version LowCardinality(String),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1)),
    INDEX text_idx text TYPE text(tokenizer = 'splitByNonAlpha', preprocessor = lower(text)),
    INDEX user_id_idx user_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX id_idx id TYPE bloom_filter(0.001) GRANULARITY 1,
    PROJECTION by_login (SELECT _part_offset ORDER BY login, ts)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (channel, ts, id)
SETTINGS index_granularity = 8192, deduplicate_merge_projection_mode = 'rebuild', lightweight_mutation_projection_mode = 'rebuild';

-- Bans, timeouts, single-message deletions and chat clears.
CREATE TABLE mod_actions
(
    id String CODEC(ZSTD(1)),
    channel LowCardinality(String),
    channel_id LowCardinality(Nullable(String)),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    received_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    source LowCardinality(String),
    action Enum8('ban' = 1, 'timeout' = 2, 'delete' = 3, 'clear' = 4),
    target_user_id Nullable(String),
    -- '' for a chat clear, which targets nobody.
    target_login String,
    duration_s Nullable(UInt32),
    reason Nullable(String),
    target_msg_id Nullable(String),
    -- The deleted message's text (CLEARMSG repeats it).
    text Nullable(String) CODEC(ZSTD(3)),
    tags Map(String, String) CODEC(ZSTD(3)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX target_login_idx target_login TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX target_msg_idx target_msg_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (channel, ts, id);

-- Subs, resubs, gifts, raids, announcements, ... (USERNOTICE).
CREATE TABLE user_notices
(
    id String CODEC(ZSTD(1)),
    channel LowCardinality(String),
    channel_id LowCardinality(Nullable(String)),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    received_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    source LowCardinality(String),
    notice_type LowCardinality(String),
    user_id Nullable(String),
    login Nullable(String),
    display_name Nullable(String),
    text Nullable(String) CODEC(ZSTD(3)),
    system_msg Nullable(String) CODEC(ZSTD(3)),
    params Map(String, String) CODEC(ZSTD(3)),
    badges Map(LowCardinality(String), String),
    badge_info Map(LowCardinality(String), String),
    color LowCardinality(Nullable(String)),
    emotes Array(Tuple(id String, start UInt32, `end` UInt32)),
    source_room_id Nullable(String),
    tags Map(String, String) CODEC(ZSTD(3)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (channel, ts, id);

-- ROOMSTATE: full on join, partial on change (NULL = not part of this update).
CREATE TABLE room_states
(
    id String,
    channel LowCardinality(String),
    channel_id LowCardinality(Nullable(String)),
    ts DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    emote_only Nullable(Bool),
    followers_only Nullable(Int32),
    r9k Nullable(Bool),
    slow Nullable(UInt32),
    subs_only Nullable(Bool),
    tags Map(String, String),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (channel, ts, id);

-- Ingest lifecycle: when data may be missing (disconnects and the gaps they leave).
CREATE TABLE ingest_events
(
    id String,
    channel LowCardinality(String),
    channel_id LowCardinality(Nullable(String)),
    ts DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    event Enum8('connected' = 1, 'joined' = 2, 'parted' = 3, 'disconnected' = 4, 'reconnected' = 5, 'gap' = 6),
    ingestor String,
    detail Nullable(String),
    gap_start Nullable(DateTime64(3, 'UTC')),
    gap_end Nullable(DateTime64(3, 'UTC')),
    tags Map(String, String),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (channel, ts, id);

-- Everything rejected anywhere (bad import line, invalid bus event, failed enrichment), with the
-- original payload so it can be fixed and replayed. Ids are deterministic per (stage, source, payload)
-- and enrich skips ids already stored, so a redelivered rejection is kept once.
CREATE TABLE dead_letters
(
    id String,
    ts DateTime64(3, 'UTC'),
    stage LowCardinality(String),
    source String,
    reason String,
    payload String CODEC(ZSTD(3)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (stage, ts, id);

-- Logins and display names seen per user id (renames), like rustlog's. Fed by messages; min/max are
-- idempotent, so even a duplicated insert could not skew it.
CREATE TABLE user_names
(
    user_id String,
    login String,
    display_name String,
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (user_id, login, display_name);

CREATE MATERIALIZED VIEW user_names_mv TO user_names AS
SELECT
    assumeNotNull(user_id) AS user_id,
    login,
    coalesce(display_name, login) AS display_name,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM messages
WHERE user_id IS NOT NULL
GROUP BY user_id, login, display_name;

-- Channels followed by ingest; the API adds, enables, disables and removes them at run time.
-- A config table of a few rows: read it with FINAL.
CREATE TABLE channels
(
    login String,
    channel_id Nullable(String),
    enabled Bool,
    removed Bool,
    added_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY login;

-- Users who opted out: ingest and enrich drop their messages, the API deleted their history.
CREATE TABLE opt_outs
(
    login String,
    user_id Nullable(String),
    active Bool,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY login;
