ALTER TABLE messages DROP PROJECTION IF EXISTS channel_summary SETTINGS mutations_sync = 2;
