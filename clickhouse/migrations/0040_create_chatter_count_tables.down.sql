DROP VIEW IF EXISTS chatter_counts_30s_mv;
DROP VIEW IF EXISTS chatter_counts_1m_mv;
DROP VIEW IF EXISTS chatter_counts_1h_mv;
DROP VIEW IF EXISTS chatter_counts_1d_mv;
DROP TABLE IF EXISTS chatter_counts;
