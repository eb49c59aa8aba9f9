/**
 * Moderation risk against what moderators did, on stored chat: the label `npm run eval:moderation`
 * scores (the author was timed out or banned within 60 s after the message; docs/sentiment.md),
 * rebuilt in SQL from `messages` and `mod_actions`, so an operator can see how well `mod_risk` ranks
 * their own channel's chat. The API (`/api/v1/moderation/risk`) and the Grafana moderation dashboard
 * both build their queries from here, so the two cannot disagree on what "actioned" means.
 *
 * Stored times are all the label has: a ban stamped in the same millisecond as a message counts as
 * after it. Live IRC carries Twitch's millisecond `tmi-sent-ts`; Chatty logs have whole seconds, which the
 * importer spreads in log order (the k-th line of a second k ms into it), so a ban logged before a message of
 * its second is before it, as in the eval's log order; at the 60 s edge a ban in the 60th second counts only
 * when it is no later in its second than the message was in its own, where the eval counts whole seconds
 * (riotgames1: 1,149 actioned against the eval's 1,153 positives). Chatty rows stored at whole seconds by
 * earlier versions differ from the log order by one positive over every 2016 log (tidesoftime1).
 */

/** Seconds after a message within which a ban or timeout of its author makes it "actioned". */
export const RISK_LABEL_WINDOW_S = 60;

/**
 * One row per message matched by `messagesWhere` (the `top` highest-risk ones when given): `columns`
 * of `messages` (unqualified names, default channel, ts, id, login, mod_risk) plus
 * `actioned` (UInt8), and the author's first ban or timeout at or after the message, whether or not
 * it came within the window: `author_action` ('' when none), `author_action_ts`, `author_action_duration_s`.
 * `actionsWhere` filters `mod_actions` (ban and timeout only are read); it should reach
 * {@link RISK_LABEL_WINDOW_S} past the messages' range, or the range's last minute loses its labels.
 * Both are SQL conditions on unqualified columns (query parameters or Grafana macros, never values).
 * Cost: one ASOF hash join, the actions side in memory (small: actions are ~1-3% of messages).
 */
export function actionedMessagesSql(messagesWhere: string, actionsWhere: string, opts: { columns?: string; top?: string } = {}): string {
  const columns = opts.columns ?? 'channel, ts, id, login, mod_risk';
  // `top` (SQL: a query parameter or a constant): only the highest-risk messages are joined, picked by
  // a partial sort first; `columns` must hold id for that order
  const top = opts.top === undefined ? '' : ` ORDER BY mod_risk DESC, ts DESC, id DESC LIMIT ${opts.top}`;
  return `SELECT m.*, a.hit = 1 AND a.ts <= m.ts + INTERVAL ${RISK_LABEL_WINDOW_S} SECOND AS actioned,
    if(a.hit = 1, a.action, '') AS author_action, if(a.hit = 1, a.ts, NULL) AS author_action_ts, a.duration_s AS author_action_duration_s
  FROM (SELECT ${columns} FROM messages WHERE ${messagesWhere}${top}) AS m
  ASOF LEFT JOIN (
    SELECT channel, target_login, ts, toString(action) AS action, duration_s, toUInt8(1) AS hit
    FROM mod_actions WHERE action IN ('ban', 'timeout') AND (${actionsWhere})
  ) AS a ON a.channel = m.channel AND a.target_login = m.login AND m.ts <= a.ts`;
}

/**
 * Per channel (or over everything with `perChannel` false): `messages`, `actioned_messages`,
 * `expected_actioned` (the sum of `mod_risk`: what the score predicts, its scale as it is) and `auc`, the ROC
 * AUC of `mod_risk` for `actioned` (ties count half, as the eval's `auc`), NULL when either class is
 * empty. `arrayROCAUC` holds the range's risks and labels in memory: 5 bytes per message.
 */
export function riskQualitySql(messagesWhere: string, actionsWhere: string, perChannel = true): string {
  return `SELECT ${perChannel ? 'channel, ' : ''}count() AS messages, toUInt64(sum(actioned)) AS actioned_messages, sum(mod_risk) AS expected_actioned,
    arrayROCAUC(groupArray(mod_risk), groupArray(actioned)) AS auc
  FROM (${actionedMessagesSql(messagesWhere, actionsWhere)})${perChannel ? '\n  GROUP BY channel' : ''}`;
}
