DROP VIEW IF EXISTS moderation_lag_mv;
DROP TABLE IF EXISTS moderation_lag;
DROP VIEW IF EXISTS moderation_toxicity_mv;
DROP TABLE IF EXISTS moderation_toxicity;
