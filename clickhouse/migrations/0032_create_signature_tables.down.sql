DROP VIEW IF EXISTS chatter_overlap;
DROP VIEW IF EXISTS channel_similarity;
DROP VIEW IF EXISTS channel_signatures_mv;
DROP TABLE IF EXISTS channel_signatures;
