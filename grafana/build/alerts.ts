/**
 * Alert rules, contact point and notification policy (grafana/provisioning/alerting/twichist.yaml).
 * Alert queries run in Grafana's backend only: no template variables and no `$__conditionalAll`
 * (the plugin expands those in the browser); every channel/emote is its own series via the string
 * columns, which Grafana turns into labels.
 */
import { DATASOURCE, PLUGIN_VERSION, header, target } from './lib.ts';

export interface AlertSpec {
  uid: string;
  title: string;
  summary: string;
  description: string;
  sql: string;
  /** Seconds of history the query reads (the rule's relative time range). */
  lookbackS: number;
  threshold: number;
  for: string;
  severity: 'warning' | 'critical';
}

/**
 * A z-score per series: the last complete minute against the minutes before it. The mean and
 * variance count quiet minutes as zero (sum and sum of squares over the baseline length), so a
 * channel that was silent and suddenly spams scores high, as it should. The current minute is
 * left out because it is still filling.
 */
const zScore = (table: string, keys: string, value: string, baselineMin: number, minRecent: number) =>
  header([
    `Last complete minute against the ${baselineMin} minutes before it; quiet minutes count as 0.`,
    `At least ${minRecent} in the minute, so one message in a dead chat is not a burst.`,
  ]) +
  `WITH toStartOfMinute($__toTime) - INTERVAL 1 MINUTE AS recent_start\n` +
  `SELECT ${keys}, (recent - base_sum / ${baselineMin}) / greatest(sqrt(greatest(base_sq / ${baselineMin} - pow(base_sum / ${baselineMin}, 2), 0)), 1) AS score\n` +
  `FROM (\n` +
  `    SELECT ${keys}, sumIf(v, \`window\` = recent_start) AS recent,\n` +
  `        sumIf(v, \`window\` < recent_start) AS base_sum, sumIf(v * v, \`window\` < recent_start) AS base_sq\n` +
  `    FROM (SELECT ${keys}, \`window\`, toFloat64(sum(${value})) AS v FROM ${table}\n` +
  `          WHERE $__timeFilter(\`window\`) AND \`window\` >= recent_start - INTERVAL ${baselineMin} MINUTE AND \`window\` <= recent_start\n` +
  `          GROUP BY ${keys}, \`window\`)\n` +
  `    GROUP BY ${keys}\n` +
  `)\nWHERE recent >= ${minRecent}`;

export const ALERTS: AlertSpec[] = [
  {
    uid: 'twichist-emote-burst',
    title: 'Emote burst',
    summary: '{{ $labels.emote }} is bursting in #{{ $labels.channel }}',
    description: 'Uses of {{ $labels.emote }} in the last minute are {{ $values.A }} standard deviations above the previous 30 minutes.',
    sql: zScore('emotes_1m', 'channel, emote', 'uses', 30, 10),
    lookbackS: 32 * 60,
    threshold: 4,
    for: '0s',
    severity: 'warning',
  },
  {
    uid: 'twichist-chat-burst',
    title: 'Chat volume burst',
    summary: 'Chat in #{{ $labels.channel }} is bursting',
    description: 'Messages in the last minute are {{ $values.A }} standard deviations above the previous 30 minutes.',
    sql: zScore('chat_1m', 'channel', 'messages', 30, 20),
    lookbackS: 32 * 60,
    threshold: 4,
    for: '0s',
    severity: 'warning',
  },
  {
    uid: 'twichist-toxicity-surge',
    title: 'Toxicity surge',
    summary: 'Toxicity is surging in #{{ $labels.channel }}',
    description: 'Mean toxicity of the last 5 minutes is {{ $values.A }} above the hour before.',
    sql:
      header(['Mean toxicity of the last 5 complete minutes minus the mean of the hour before them.', 'At least 20 messages in the 5 minutes, so a single rude line in a quiet chat does not page.']) +
      'WITH toStartOfMinute($__toTime) - INTERVAL 5 MINUTE AS recent_start\n' +
      'SELECT channel, sumIf(toxicity_sum, `window` >= recent_start) / sumIf(messages, `window` >= recent_start)\n' +
      '    - sumIf(toxicity_sum, `window` < recent_start) / greatest(sumIf(messages, `window` < recent_start), 1) AS increase\n' +
      'FROM chat_1m\n' +
      'WHERE $__timeFilter(`window`) AND `window` >= recent_start - INTERVAL 60 MINUTE AND `window` < recent_start + INTERVAL 5 MINUTE\n' +
      'GROUP BY channel\nHAVING sumIf(messages, `window` >= recent_start) >= 20',
    lookbackS: 66 * 60,
    threshold: 0.15,
    for: '2m',
    severity: 'warning',
  },
  {
    uid: 'twichist-ingest-stalled',
    title: 'Ingest stalled',
    summary: 'No chat stored from followed channel #{{ $labels.channel }}',
    description: 'Channel #{{ $labels.channel }} is enabled but nothing (no message, no ingest event) arrived for {{ $values.A }} minutes. An offline streamer with no lifecycle events also looks like this: check the Overview dashboard\'s "Followed channels".',
    sql:
      header(['Enabled channels only; the newest stored message or ingest event within the last day.', 'A channel with neither in the day gets the whole day as its quiet time.']) +
      'SELECT c.login AS channel,\n' +
      "    dateDiff('minute', greatest(ifNull(m.last_message, $__fromTime), ifNull(e.last_event, $__fromTime)), $__toTime) AS quiet_minutes\n" +
      'FROM (SELECT login FROM channels FINAL WHERE enabled AND NOT removed) AS c\n' +
      'LEFT JOIN (SELECT channel, max(`window`) + INTERVAL 30 SECOND AS last_message FROM chat_30s WHERE $__timeFilter(`window`) GROUP BY channel) AS m ON m.channel = c.login\n' +
      'LEFT JOIN (SELECT channel, toDateTime(max(ts)) AS last_event FROM ingest_events WHERE $__timeFilter(ts) GROUP BY channel) AS e ON e.channel = c.login\n' +
      'SETTINGS join_use_nulls = 1',
    lookbackS: 24 * 3600,
    threshold: 30,
    for: '5m',
    severity: 'critical',
  },
];

/** Grafana interpolates `$NAME` in provisioning files; `$$` keeps a literal `$` (the plugin's macros). */
export const escapeProvisioning = (s: string) => s.replace(/\$/g, '$$$$');

const rule = (a: AlertSpec) => ({
  uid: a.uid,
  title: a.title,
  condition: 'B',
  data: [
    {
      refId: 'A',
      relativeTimeRange: { from: a.lookbackS, to: 0 },
      datasourceUid: DATASOURCE.uid,
      model: { ...target(escapeProvisioning(a.sql), 'table'), datasource: DATASOURCE, intervalMs: 1000, maxDataPoints: 43200 },
    },
    {
      refId: 'B',
      datasourceUid: '__expr__',
      model: {
        refId: 'B',
        type: 'threshold',
        expression: 'A',
        datasource: { type: '__expr__', uid: '__expr__' },
        conditions: [{ evaluator: { type: 'gt', params: [a.threshold] } }],
      },
    },
  ],
  // No rows means no channel is bursting, not a broken pipeline (Ingest stalled covers that).
  noDataState: 'OK',
  execErrState: 'Error',
  for: a.for,
  annotations: { summary: escapeProvisioning(a.summary), description: escapeProvisioning(a.description), dashboardUId: 'twichist-channel' },
  labels: { severity: a.severity, source: 'twichist' },
  isPaused: false,
});

export function alertingYaml() {
  return {
    apiVersion: 1,
    groups: [{ orgId: 1, name: 'twichist', folder: 'Twichist', interval: '1m', rules: ALERTS.map(rule) }],
    contactPoints: [
      {
        orgId: 1,
        name: 'twichist-webhook',
        receivers: [{ uid: 'twichist-webhook', type: 'webhook', disableResolveMessage: false, settings: { url: '${TWICHIST_ALERT_WEBHOOK_URL}', httpMethod: 'POST' } }],
      },
    ],
    policies: [
      {
        orgId: 1,
        receiver: 'twichist-webhook',
        // One notification per channel (and emote) and rule, not one per evaluation.
        group_by: ['grafana_folder', 'alertname', 'channel', 'emote'],
        group_wait: '30s',
        group_interval: '5m',
        repeat_interval: '4h',
      },
    ],
  };
}

export { PLUGIN_VERSION };
