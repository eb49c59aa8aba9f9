DROP VIEW IF EXISTS chatter_retention;
DROP VIEW IF EXISTS chatter_segments;
DROP VIEW IF EXISTS chatter_features_mv;
DROP TABLE IF EXISTS chatter_features;
DROP VIEW IF EXISTS stream_chatters_mv;
DROP TABLE IF EXISTS stream_chatters;
DROP VIEW IF EXISTS channel_streams_mv;
DROP TABLE IF EXISTS channel_streams;
