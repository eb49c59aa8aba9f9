-- `alive`: the live ingestor's heartbeat (ingest/live.ts), one row per joined channel every INGEST_ALIVE_S
-- (120 s) while its IRC connection receives lines. Grafana's "Ingest stalled" pages on a followed channel
-- with neither a heartbeat nor stored chat for 3 periods; it paged for every offline streamer before, since
-- a quiet channel left no row at all. Adding an Enum8 value changes metadata only (no part is rewritten).
--
-- Cost, measured 2026-11-21 on chdb 26.7 (a year of heartbeats for 100 channels, 26,280,000 rows, written
-- straight into the table and merged, as a scratch script): 46.9 bytes per row compressed (34.5 of them the
-- 32-hex-digit id), 1.23 GB a year for 100 channels, 3.4 MB a day.
-- They made GET /api/v1/channels slow where no ingestor runs in the API's process (compose): its ingest_state
-- is `argMax(event, ts)` per channel over all of ingest_events: over that year 989-1,175 ms (7 runs, 2-core
-- VM, load 5-7) and 1,160-2,880 ms (load 7-17), where it read a few rows a channel before. The `latest_event`
-- aggregate projection answers it from one row per channel and part: 9-127 and 8-201 ms on the same data
-- (MATERIALIZE took 4.6 s there; a database without heartbeats has only a few lifecycle rows). Figures from
-- a scratch script (not in the repo) writing the rows with INSERT ... SELECT FROM numbers(). The projection
-- also answers the Overview's "Followed channels" latest event. ingest_events is a plain MergeTree that no
-- opt-out deletes from; retention (TTL) merges rebuild the projection of the parts they rewrite.
ALTER TABLE ingest_events MODIFY COLUMN event Enum8('connected' = 1, 'joined' = 2, 'parted' = 3, 'disconnected' = 4, 'reconnected' = 5, 'gap' = 6, 'alive' = 7);
-- toInt8(event), not event: the projection's state type then holds no Enum, so a later migration can add a
-- lifecycle type with MODIFY COLUMN (with argMax(event, ts) ClickHouse refuses it: "Cannot apply ALTER because it
-- breaks projection latest_event"). Readers map the code back with latestLifecycleSql (api/routes/channels.ts).
ALTER TABLE ingest_events ADD PROJECTION IF NOT EXISTS latest_event (SELECT channel, argMax(toInt8(event), ts), max(ts) GROUP BY channel);
ALTER TABLE ingest_events MATERIALIZE PROJECTION latest_event SETTINGS mutations_sync = 2;
