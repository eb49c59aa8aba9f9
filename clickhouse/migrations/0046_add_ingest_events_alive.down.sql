ALTER TABLE ingest_events DROP PROJECTION IF EXISTS latest_event SETTINGS mutations_sync = 2;
-- The heartbeats go first: an Enum8 without 'alive' cannot hold them (they are not restored by the up).
ALTER TABLE ingest_events DELETE WHERE event = 'alive' SETTINGS mutations_sync = 2;
ALTER TABLE ingest_events MODIFY COLUMN event Enum8('connected' = 1, 'joined' = 2, 'parted' = 3, 'disconnected' = 4, 'reconnected' = 5, 'gap' = 6);
