-- Topics per channel and time window, written by enrich/topics refreshTopics(). A topic is
-- identified by (channel, window_start, topic_id); topic_id is 0.. within its window, largest first.
-- A refresh deletes the windows it recomputes and inserts them again, so a window never mixes runs;
-- ReplacingMergeTree(computed_at) additionally collapses a re-insert of the same key.
CREATE TABLE topics
(
    channel LowCardinality(String),
    window_start DateTime('UTC'),
    window_seconds UInt32,
    topic_id Int32,
    label String,
    terms Array(String),
    weights Array(Float32),
    messages UInt32,
    -- 'embeddings' (clustered sentence vectors) or 'keywords' (c-TF-IDF, no model installed).
    method LowCardinality(String),
    -- Embedding model id, '' for keywords.
    model LowCardinality(String),
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (channel, window_start, topic_id);

-- Each message's topic (-1: none) for the window it falls in. Kept beside `messages` so a refresh is
-- an insert, not a mutation of the hot table; refreshTopics also copies the ids into
-- messages.topic_id (a mutation) unless told not to.
CREATE TABLE message_topics
(
    channel LowCardinality(String),
    window_start DateTime('UTC'),
    message_id String CODEC(ZSTD(1)),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    topic_id Int32,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (channel, window_start, message_id);
