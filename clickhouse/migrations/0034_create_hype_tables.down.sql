DROP VIEW IF EXISTS hype_predictions_mv;
DROP TABLE IF EXISTS hype_predictions;
DROP VIEW IF EXISTS hype_features;
DROP TABLE IF EXISTS hype_model;
