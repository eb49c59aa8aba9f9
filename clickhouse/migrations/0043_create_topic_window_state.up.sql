-- Which 5-minute topic windows need their topics recomputed, found in the tables instead of one enrich
-- process's memory: per (channel, window), when its messages last changed and which version of its
-- topics is newest (enrich/topics/refresh.ts, enrich/topics/job.ts).
--
-- changed_at: the newest messages.inserted_at of the window (the view below, so a crash between an
-- insert and anything the enrich process does next cannot lose it), or the time an opt-out deleted
-- messages of the window (api/privacy.ts).
-- computed_at: the newest version of the window's topics: the server's clock just before the refresh
-- read the messages. `topics` and `message_topics` rows carry it too; a refresh deletes the rows of
-- older versions, so concurrent refreshes of one window leave one set.
-- A window needs a refresh while max(changed_at) + 10 s > max(computed_at) (the 10 s cover an insert
-- still in flight when a refresh read: inserted_at is taken when the insert starts, not when its rows
-- become visible).
--
-- Size: one row per channel and window after merges (a busy channel stores hundreds of messages a
-- window). The periodic check reads all of it, never `messages` (cost: bench/topics.ts).
CREATE TABLE topic_window_state
(
    channel LowCardinality(String),
    window_start DateTime('UTC'),
    changed_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    computed_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (channel, window_start);

CREATE MATERIALIZED VIEW topic_window_state_mv TO topic_window_state AS
SELECT channel, toStartOfInterval(ts, INTERVAL 5 MINUTE) AS window_start, max(inserted_at) AS changed_at, toDateTime64(0, 3, 'UTC') AS computed_at
FROM messages
GROUP BY channel, window_start;

-- What is stored already (one pass over messages and message_topics, once). A window computed after
-- its last insert (message_topics has a row per message of a computed window; its computed_at was the
-- enrich process's clock before the read) gets its changed_at a minute earlier, out of the 10 s above:
-- otherwise every window computed within seconds of its import would be recomputed once now.
INSERT INTO topic_window_state
SELECT m.channel, m.window_start, if(c.computed >= m.changed, m.changed - INTERVAL 1 MINUTE, m.changed), c.computed
FROM
(
    SELECT channel, toDateTime(toStartOfInterval(ts, INTERVAL 5 MINUTE), 'UTC') AS window_start, max(inserted_at) AS changed
    FROM messages
    GROUP BY channel, window_start
) AS m
LEFT JOIN
(
    SELECT channel, window_start, max(computed_at) AS computed
    FROM message_topics
    GROUP BY channel, window_start
) AS c USING (channel, window_start)
SETTINGS join_use_nulls = 0;
