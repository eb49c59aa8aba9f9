DROP VIEW IF EXISTS topic_window_state_mv;
DROP TABLE IF EXISTS topic_window_state;
