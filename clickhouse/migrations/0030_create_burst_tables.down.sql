DROP VIEW IF EXISTS bursts_mv;
DROP TABLE IF EXISTS bursts;
DROP VIEW IF EXISTS burst_windows_mv;
DROP TABLE IF EXISTS burst_windows;
