-- Moderation versus toxicity (issue 6).
-- A message is "flagged" when toxicity > 0.5 or mod_risk > 0.5 (enrich's scores are probabilities;
-- 0.5 is where the models call a message toxic/risky). Both views refresh every 5 minutes over the
-- full history: a read of (channel, ts, login, toxicity, mod_risk) of messages plus mod_actions.

-- Per channel and 5-minute window: what moderators did against how toxic the chat was.
CREATE TABLE moderation_toxicity
(
    channel LowCardinality(String),
    `window` DateTime('UTC'),
    messages UInt64,
    toxicity_mean Float64,
    -- Share of messages with toxicity > 0.5.
    toxic_share Float64,
    mod_risk_mean Float64,
    bans UInt64,
    timeouts UInt64,
    deletions UInt64,
    clears UInt64,
    -- bans + timeouts + deletions per 100 messages.
    actions_per_100 Float64
)
ENGINE = MergeTree
ORDER BY (channel, `window`);

CREATE MATERIALIZED VIEW moderation_toxicity_mv REFRESH EVERY 5 MINUTE TO moderation_toxicity AS
WITH
    chat AS (
        SELECT channel, toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS w, count() AS messages,
            avg(toxicity) AS toxicity_mean, countIf(toxicity > 0.5) / count() AS toxic_share, avg(mod_risk) AS mod_risk_mean
        FROM messages
        GROUP BY channel, w
    ),
    actions AS (
        SELECT channel, toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS w,
            countIf(action = 'ban') AS bans, countIf(action = 'timeout') AS timeouts,
            countIf(action = 'delete') AS deletions, countIf(action = 'clear') AS clears
        FROM mod_actions
        GROUP BY channel, w
    )
SELECT
    if(c.channel = '', a.channel, c.channel) AS channel,
    toDateTime(if(c.channel = '', a.w, c.w), 'UTC') AS `window`,
    c.messages AS messages,
    c.toxicity_mean AS toxicity_mean,
    c.toxic_share AS toxic_share,
    c.mod_risk_mean AS mod_risk_mean,
    a.bans AS bans,
    a.timeouts AS timeouts,
    a.deletions AS deletions,
    a.clears AS clears,
    if(c.messages = 0, 0, 100 * (a.bans + a.timeouts + a.deletions) / c.messages) AS actions_per_100
FROM chat AS c
FULL OUTER JOIN actions AS a ON a.channel = c.channel AND a.w = c.w;

-- Per channel: how fast bans/timeouts follow flagged messages, and how many flagged users get one.
-- For every ban/timeout, the lag is measured from the same user's last flagged message in the
-- 10 minutes before it (the message that most plausibly triggered it); actions with no flagged
-- message before them (e.g. spam the models did not flag) do not count.
CREATE TABLE moderation_lag
(
    channel LowCardinality(String),
    flagged_messages UInt64,
    flagged_users UInt64,
    -- Flagged users with a ban/timeout within 10 minutes after one of their flagged messages.
    actioned_users UInt64,
    actioned_share Float64,
    actions_after_flag UInt64,
    lag_median_s Float64,
    lag_p90_s Float64
)
ENGINE = MergeTree
ORDER BY channel;

CREATE MATERIALIZED VIEW moderation_lag_mv REFRESH EVERY 5 MINUTE TO moderation_lag AS
WITH
    flagged AS (
        SELECT channel, login, ts
        FROM messages
        WHERE toxicity > 0.5 OR mod_risk > 0.5
    ),
    -- Each ban/timeout joined to the latest flagged message of its target at or before it.
    lags AS (
        SELECT a.channel AS channel, a.target_login AS login, a.ts AS action_ts,
            dateDiff('millisecond', f.ts, a.ts) / 1000 AS lag_s
        FROM (SELECT channel, target_login, ts FROM mod_actions WHERE action IN ('ban', 'timeout')) AS a
        ASOF INNER JOIN flagged AS f ON f.channel = a.channel AND f.login = a.target_login AND f.ts <= a.ts
        WHERE lag_s <= 600
    ),
    per_flagged AS (
        SELECT channel, count() AS flagged_messages, uniqExact(login) AS flagged_users
        FROM flagged
        GROUP BY channel
    ),
    per_lag AS (
        SELECT channel, uniqExact(login) AS actioned_users, count() AS actions_after_flag,
            quantileExact(0.5)(lag_s) AS lag_median_s, quantileExact(0.9)(lag_s) AS lag_p90_s
        FROM lags
        GROUP BY channel
    )
SELECT
    f.channel AS channel,
    f.flagged_messages AS flagged_messages,
    f.flagged_users AS flagged_users,
    l.actioned_users AS actioned_users,
    l.actioned_users / f.flagged_users AS actioned_share,
    l.actions_after_flag AS actions_after_flag,
    l.lag_median_s AS lag_median_s,
    l.lag_p90_s AS lag_p90_s
FROM per_flagged AS f
LEFT JOIN per_lag AS l ON l.channel = f.channel;
