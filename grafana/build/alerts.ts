/**
 * Alert rules, contact point and notification policy (grafana/provisioning/alerting/twichist.yaml).
 * Alert queries run in Grafana's backend only: no template variables and no `$__conditionalAll`
 * (the plugin expands those in the browser); every channel/emote is its own series via the string
 * columns, which Grafana turns into labels.
 */
import { INGEST_ALIVE_DEFAULT_S, INGEST_STALLED_PERIODS as STALLED_PERIODS, INGEST_STALLED_S } from '../../core/config.ts';
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
 * How far back a burst rule reads `burst_windows`. A 30-s window starting at w is scored by the first
 * refresh (every 30 s) after it closes, so it is there by w + 65 s (60 s + a few seconds of refresh;
 * clickhouse/README.md). Evaluations (every 60 s) at any T in [w + 65 s, w + 150 s] see it: that span
 * is longer than 60 s, so no hot window is missed; most are seen twice, as the same alert instance
 * (same labels), so one notification. A longer refresh period (README: `MODIFY REFRESH EVERY 2
 * MINUTE` on big archives) needs this raised to 95 s + the period.
 */
const BURST_LOOKBACK_S = 150;

/**
 * A burst rule reads the analytics detector's verdicts (burst_windows, migration 0030; what the
 * Bursts table and annotations show), not its own statistics. The rules had their own: the last
 * minute against the mean and standard deviation of the 30 before, quiet minutes as 0. On the test
 * chat (test/grafana/support/fill.ts, 6 streams) Chat volume burst fired 20 times, 17 of them in a
 * stream's first 5 minutes (any chat beats an empty baseline), and paged 2 of the detector's 9
 * volume bursts; Emote burst found none of 20 BibleThump bursts injected into riotgames1
 * (analytics/inject.ts; the detector finds all 20): one burst inflated the standard deviation for
 * the next 30 minutes. The detector's median and MAD are robust to that, and it has a warm-up.
 * Since migration 0058 its baseline holds only chat since the stream's chat started (0057's zeros from before it
 * paged steady chat 5 minutes into a stream: Northernlion, xqc), and an emote window counts chatters (one
 * message of MrDestructoid x24 paged Emote burst for 3 minutes on riotgames1).
 */
const hotWindows = (kind: 'emote' | 'volume', keys: string) =>
  header([
    `Hot ${kind} windows of the last ${BURST_LOOKBACK_S} s as the analytics detector marks them (burst_windows: warm, a minimum count, robust z-score >= 4, a multiple of the baseline).`,
    'Every row is a burst: the value is its score, the threshold 0.',
  ]) +
  `SELECT ${keys}, max(score) AS score\nFROM burst_windows\nWHERE kind = '${kind}' AND hot AND $__timeFilter(\`window\`)\nGROUP BY ${keys}`;

/**
 * "Ingest stalled" pages when a followed channel has had neither stored chat nor a heartbeat for this many
 * heartbeat periods (INGEST_ALIVE_S, which config caps at its default so this holds): one missed beat
 * (a reconnect, an ingestor restart: twurple's backoff reaches 120 s) is no page. Then `for: 2m`, so an
 * outage pages 8 to 9 minutes after its last heartbeat. Before the heartbeats it read any stored message or
 * lifecycle row for 30 minutes, and so paged for every followed channel whose streamer was offline.
 */
export const STALLED_MINUTES = INGEST_STALLED_S / 60;

/**
 * "Toxicity surge" (scripts/calibrate-toxicity-alert.ts, every minute of the 27 real streams of ../shared/data,
 * 118,359 messages, lexicon scorer; docs/grafana.md has the table). The rule had 0.15 and 20 messages: it
 * never fired on real chat, where the largest increase is 0.067 and a 5-minute mean is ~0.01 (per message
 * sd 0.077). With 0.04 and 100 messages in each part it pages the two toxic episodes of the logs (neviilz
 * 2016-09-16: "DISGUSTING STREAM" and slur copy-pastas, 5 timeouts; northernlion 2016-11-25: "REVERSE CUCKED"
 * spam) and nothing else. Both margins are thin: elsewhere the largest increase with 100 messages is 0.036
 * (reckful 2016-09-11, a chat rough from its first minute), and the lowest of the 3 evaluations in a row that
 * `for: 2m` needs is 0.054 in northernlion's episode. 20 messages paged 4 more (arypie, ~10 messages/minute:
 * "clown", "apes", "stupid" lines moving a 40-message mean), 50 one more; 100 costs that the rule never
 * pages a chat under ~20 messages/minute. Two episodes back it: a starting point to revisit with more chat,
 * not a measured false-alarm rate.
 */
export const TOXICITY_SURGE = { threshold: 0.04, minMessages: 100 };

export const ALERTS: AlertSpec[] = [
  {
    uid: 'twichist-emote-burst',
    title: 'Emote burst',
    summary: '{{ $labels.emote }} is bursting in #{{ $labels.channel }}',
    description: 'The chatters who used {{ $labels.emote }} in a 30-second window of the last 2.5 minutes (at least 5; each counts once, however often they repeat it) are {{ $values.A }} robust standard deviations above its previous 10 minutes (the analytics burst detector: the Bursts table on the Emotes and bursts dashboard).',
    sql: hotWindows('emote', 'channel, emote'),
    lookbackS: BURST_LOOKBACK_S,
    threshold: 0,
    for: '0s',
    severity: 'warning',
  },
  {
    uid: 'twichist-chat-burst',
    title: 'Chat volume burst',
    summary: 'Chat in #{{ $labels.channel }} is bursting',
    description: 'Messages in a 30-second window of the last 2.5 minutes are {{ $values.A }} robust standard deviations above the previous 10 minutes (the analytics burst detector: the Bursts table on the Emotes and bursts dashboard).',
    sql: hotWindows('volume', 'channel'),
    lookbackS: BURST_LOOKBACK_S,
    threshold: 0,
    for: '0s',
    severity: 'warning',
  },
  {
    uid: 'twichist-toxicity-surge',
    title: 'Toxicity surge',
    summary: 'Toxicity is surging in #{{ $labels.channel }}',
    description:
      `Mean toxicity of the last 5 minutes is {{ $values.A }} above the hour before (threshold ${TOXICITY_SURGE.threshold}, at least ${TOXICITY_SURGE.minMessages} messages in each). ` +
      'Calibrated for the lexicon toxicity scorer (no toxicity model installed); a toxicity model raises scores (max(model, lexicon)), so recalibrate: scripts/calibrate-toxicity-alert.ts, docs/grafana.md.',
    sql:
      header([
        'Mean toxicity of the last 5 complete minutes minus the mean of the hour before them.',
        `At least ${TOXICITY_SURGE.minMessages} messages in the 5 minutes and in the hour before: with fewer, one or two rude lines (or a lexicon word such as "clown") move a mean by the threshold;`,
        'with none before, the increase was the whole mean toxicity, so a stream start (or a reconnect) of a rough chat paged.',
      ]) +
      'WITH toStartOfMinute($__toTime) - INTERVAL 5 MINUTE AS recent_start\n' +
      'SELECT channel, sumIf(toxicity_sum, `window` >= recent_start) / sumIf(messages, `window` >= recent_start)\n' +
      '    - sumIf(toxicity_sum, `window` < recent_start) / greatest(sumIf(messages, `window` < recent_start), 1) AS increase\n' +
      'FROM chat_1m\n' +
      'WHERE $__timeFilter(`window`) AND `window` >= recent_start - INTERVAL 60 MINUTE AND `window` < recent_start + INTERVAL 5 MINUTE\n' +
      `GROUP BY channel\nHAVING sumIf(messages, \`window\` >= recent_start) >= ${TOXICITY_SURGE.minMessages} AND sumIf(messages, \`window\` < recent_start) >= ${TOXICITY_SURGE.minMessages}`,
    lookbackS: 66 * 60,
    threshold: TOXICITY_SURGE.threshold,
    for: '2m',
    severity: 'warning',
  },
  {
    uid: 'twichist-ingest-stalled',
    title: 'Ingest stalled',
    summary: 'Ingest of followed channel #{{ $labels.channel }} is down',
    description:
      `Channel #{{ $labels.channel }} is enabled, but for {{ $values.A }} minutes no chat of it was stored and no ingestor sent its heartbeat for it (an 'alive' row in ingest_events, every ${INGEST_ALIVE_DEFAULT_S} s per joined channel while the IRC connection answers, whether the streamer is live or not). ` +
      "Either no ingestor runs, it is not joined to the channel (a refused join is a 'parted' row whose detail says why), its connection to Twitch is down (see 'disconnected' and 'gap' rows), or the events are not stored (NATS, enrich, ClickHouse). Overview dashboard: \"Followed channels\".",
    sql:
      header([
        `Enabled channels quiet for over ${STALLED_MINUTES} minutes (${STALLED_PERIODS} heartbeat periods): no stored chat and no 'alive' heartbeat.`,
        'Quiet time counts from the newest of: last stored message, last heartbeat, last change of the channel row (so a channel just added or enabled has time to be joined); at most the day read.',
        'A quiet channel of a healthy ingestor gets a heartbeat every period, so it never gets here; other lifecycle events (joined, gap, ...) do not count as alive.',
      ]) +
      'SELECT c.login AS channel,\n' +
      "    round(dateDiff('second', greatest(c.changed, ifNull(m.last_message, $__fromTime), ifNull(a.last_alive, $__fromTime)), $__toTime) / 60, 1) AS quiet_minutes\n" +
      'FROM (SELECT login, greatest(toDateTime(updated_at), $__fromTime) AS changed FROM channels FINAL WHERE enabled AND NOT removed) AS c\n' +
      'LEFT JOIN (SELECT channel, max(`window`) + INTERVAL 30 SECOND AS last_message FROM chat_30s WHERE $__timeFilter(`window`) GROUP BY channel) AS m ON m.channel = c.login\n' +
      "LEFT JOIN (SELECT channel, toDateTime(max(ts)) AS last_alive FROM ingest_events WHERE event = 'alive' AND $__timeFilter(ts) GROUP BY channel) AS a ON a.channel = c.login\n" +
      'SETTINGS join_use_nulls = 1',
    lookbackS: 24 * 3600,
    threshold: STALLED_MINUTES,
    for: '2m',
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
