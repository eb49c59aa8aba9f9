/**
 * The six provisioned dashboards. Column names follow DEVELOPERS.md "Table contracts" and the
 * migrations in clickhouse/migrations/; test/grafana runs every query against imported real chat.
 */
import { actionedMessagesSql, RISK_LABEL_WINDOW_S, riskQualitySql } from '../../analytics/risk-quality.ts';
import { newestTopicVersionSql } from '../../enrich/topics/refresh.ts';
import { STALLED_MINUTES } from './alerts.ts';
import { LATEST_LIFECYCLE_SQL } from '../../api/routes/channels.ts';
import { CHANNEL, header, tiered, type DashboardSpec, type PanelSpec, type VariableSpec } from './lib.ts';

const channelVar: VariableSpec = {
  name: 'channel',
  label: 'Channel',
  description: 'Channels to show (All = every channel with stored chat).',
  type: 'query',
  // Followed channels and every channel with stored chat (imports included), whatever the time range.
  sql: 'SELECT login FROM channels FINAL WHERE NOT removed\nUNION DISTINCT\nSELECT DISTINCT channel FROM chat_1d',
  multi: true,
  includeAll: true,
};

const userVar: VariableSpec = {
  name: 'user',
  label: 'User (login)',
  description: 'Optional: one chatter login; empty shows everyone.',
  type: 'textbox',
};

const emoteVar: VariableSpec = {
  name: 'emote',
  label: 'Emote',
  description: 'Emotes to chart (All = the ten most used in the range).',
  type: 'query',
  // Value (the plugin takes the first column) is the name in hex, the text (second) the name: Grafana's
  // singlequote format escapes ' but not \, so a picked ':\' closed its own literal and broke the panel
  // (ClickHouse reads \ as an escape). Hex needs no escaping; the cost is unreadable var-emote in URLs.
  sql: `${header(['The 200 most used emotes of the selected channels over their whole history; value hex(name), text the name.'])}SELECT hex(emote) AS value, emote AS text FROM emotes_1d WHERE ${CHANNEL}\nGROUP BY emote ORDER BY sum(uses) DESC LIMIT 200`,
  multi: true,
  includeAll: true,
};

/** `emote IN` a set built from the picked hex values (a subquery set still prunes the (channel, emote, window) key). */
const EMOTE = '$__conditionalAll(emote IN (SELECT unhex(arrayJoin([${emote:singlequote}]))), $emote)';

/**
 * The windows of a rollup (`length` long, e.g. '1 MINUTE') that overlap the picked range [from, to), as the API reads rollups: the minute
 * holding an unaligned `from`, not the one starting at `to`. `$__timeFilter(window)` (window >= from AND
 * window <= to) took the minute starting exactly at `to`, a minute past an absolute range, and dropped the one
 * holding `from`: riotgames 02:00-03:00 read 31,464 messages for 30,696. The same for the 5-minute windows of
 * moderation_toxicity: 02:00:30-03:00 read 02:05-03:05, 31,396 messages for 30,696.
 */
const windowsInRange = (length: string) => `\`window\` > $__fromTime - INTERVAL ${length} AND \`window\` < $__toTime`;
const MINUTES_IN_RANGE = windowsInRange('1 MINUTE');

/** Sums of a chat rollup over the range (stats); chat_1m: a month is ~43k rows a channel. */
const chatTotal = (expr: string, why: string) =>
  `${header([why])}SELECT ${expr} AS value\nFROM chat_1m\nWHERE ${MINUTES_IN_RANGE} AND ${CHANNEL}`;

const stat = (title: string, description: string, sql: string, unit = 'short', decimals?: number): PanelSpec => ({
  title, description, type: 'stat', sql, w: 4, h: 4, unit, decimals,
});

/** A chat rollup time series, one series per channel (long format: time, channel, value). */
const perChannel = (title: string, description: string, expr: string, unit: string, w = 12): PanelSpec => ({
  title,
  description,
  type: 'timeseries',
  interval: '30s',
  unit,
  w,
  h: 8,
  sql:
    header(['One SELECT per rollup resolution; only the one matching the bucket size reads anything.']) +
    tiered('chat', (t) => `SELECT $__timeInterval(\`window\`) AS time, channel, ${expr}\nFROM ${t}\nWHERE ${CHANNEL} AND`, '\nGROUP BY time, channel', 'time, channel'),
});

/** A chat rollup time series over all selected channels together (wide format: time, a, b, ...). */
const combined = (title: string, description: string, exprs: string, unit: string, extra: Partial<PanelSpec> = {}): PanelSpec => ({
  title,
  description,
  type: 'timeseries',
  interval: '30s',
  unit,
  w: 12,
  h: 8,
  sql:
    header(['All selected channels together; the rollup resolution follows the bucket size.', 'toFloat64 around max(): the plugin cannot read SimpleAggregateFunction types.']) +
    tiered('chat', (t) => `SELECT $__timeInterval(\`window\`) AS time, ${exprs}\nFROM ${t}\nWHERE ${CHANNEL} AND`, '\nGROUP BY time'),
  ...extra,
});

const MESSAGES_STAT = stat('Messages', 'Chat messages in the range, selected channels.', chatTotal('sum(messages)', 'Exact: every stored message counted once by the rollup.'));
const CHATTERS_STAT = stat('Unique chatters', 'Distinct logins that wrote in the range.', chatTotal('uniqExactMerge(chatters)', 'Exact distinct logins: the rollup keeps uniqExact states.'));

const dataRange: PanelSpec = {
  title: 'Data range',
  description: 'Where the stored chat is, whatever the time picker says. Click "first" to open the whole stored range (imports are often older than the default 7 days).',
  type: 'table',
  w: 8,
  h: 4,
  sql:
    header(['Deliberately not limited by the time picker: it tells where the history is.', 'chat_1h: to the hour (24 rows a channel-day; chat_1d showed whole days, 00:00 to 00:00).']) +
    "SELECT min(`window`) AS first, max(`window`) + INTERVAL 1 HOUR AS last, sum(messages) AS messages,\n" +
    '    toUnixTimestamp(min(`window`)) * 1000 AS from_ms, toUnixTimestamp(max(`window`) + INTERVAL 1 HOUR) * 1000 AS to_ms\n' +
    `FROM chat_1h\nWHERE ${CHANNEL}\nHAVING messages > 0`,
  overrides: [
    { matcher: { id: 'byName', options: 'first' }, properties: [{ id: 'links', value: [{ title: 'Show the stored range', url: '/d/${__dashboard.uid}?from=${__data.fields.from_ms}&to=${__data.fields.to_ms}&${channel:queryparam}' }] }] },
    { matcher: { id: 'byRegexp', options: '^(from_ms|to_ms)$' }, properties: [{ id: 'custom.hidden', value: true }] },
  ],
};

const overview: DashboardSpec = {
  uid: 'twichist-overview',
  title: 'Twichist / Overview',
  description: 'Every channel at a glance: volume, chatters, top channels, ingest health and gaps.',
  tags: ['overview'],
  variables: [channelVar],
  rows: [
    {
      panels: [
        MESSAGES_STAT,
        CHATTERS_STAT,
        stat('Active channels', 'Channels with at least one message in the range.', chatTotal('uniqExactIf(channel, messages > 0)', 'A channel counts once it has a message in the range.')),
        stat('Messages / minute', 'Mean chat rate over the range.', chatTotal("sum(messages) / greatest(dateDiff('minute', $__fromTime, $__toTime), 1)", 'Mean over the whole picked range, quiet minutes included.'), 'short', 1),
        dataRange,
      ],
    },
    {
      panels: [
        perChannel('Messages over time', 'Messages per bucket and channel.', 'sum(messages) AS messages', 'short', 16),
        {
          title: 'Top channels',
          description: 'Channels by messages in the range.',
          type: 'barchart',
          w: 8,
          h: 8,
          sql: `${header(['chat_1m: exact sums, and a month of one channel is ~43k rows.'])}SELECT channel, sum(messages) AS messages, uniqExactMerge(chatters) AS chatters\nFROM chat_1m\nWHERE ${MINUTES_IN_RANGE} AND ${CHANNEL}\nGROUP BY channel\nORDER BY messages DESC\nLIMIT 15`,
          options: { orientation: 'horizontal', xField: 'channel', showValue: 'auto', legend: { showLegend: true, displayMode: 'list', placement: 'bottom' } },
        },
      ],
    },
    {
      panels: [
        perChannel('Chatters over time', 'Distinct logins per bucket and channel.', 'uniqExactMerge(chatters) AS chatters', 'short'),
        {
          title: 'Ingest events',
          description: 'Connections, joins, parts and gaps recorded by ingest (and by imports). Heartbeats (alive) are left out: one per channel every 2 minutes would bury the rest; "Followed channels" shows the last one.',
          type: 'timeseries',
          interval: '1m',
          w: 12,
          h: 8,
          unit: 'short',
          stack: true,
          sql: `${header(['Lifecycle events other than heartbeats are few (a handful per connection): the raw table is cheap to bucket.'])}SELECT $__timeInterval(ts) AS time, toString(event) AS event, count() AS events\nFROM ingest_events\nWHERE $__timeFilter(ts) AND event != 'alive' AND (channel = '' OR ${CHANNEL})\nGROUP BY time, event\nORDER BY time, event`,
        },
      ],
    },
    {
      title: 'Ingest health',
      panels: [
        {
          title: 'Followed channels',
          description: `Channels ingest follows: the last stored message, the last heartbeat (an ingestor joined to the channel sends one every 2 minutes while its connection answers, chat or not) and the latest ingest event (alive while the channel is joined; parted, disconnected, gap ... say what went wrong). quiet_minutes counts from the newer of message and heartbeat; over ${STALLED_MINUTES} the ingest of the channel is down (the alert "Ingest stalled"), an offline streamer alone never gets there.`,
          type: 'table',
          w: 12,
          h: 8,
          sql:
            header([
              'Not limited by the time picker: the state now.',
              'chat_30s max(window) is cheap (sorted by channel, window) where max(ts) on messages would scan.',
              "Heartbeats of the last day only (720 rows a channel); the latest event of all history comes from ingest_events' latest_event projection (migration 0046).",
            ]) +
            // A channel missing from a joined side gets that side's defaults ('' / 1970 / the Enum's first
            // value 'connected'): shown as NULL, never as a state it never had; quiet_minutes keeps 1970 (never).
            "SELECT c.login AS channel, c.enabled AS enabled, if(m.channel = '', NULL, m.last_message) AS last_message, if(a.channel = '', NULL, a.last_heartbeat) AS last_heartbeat,\n" +
            "    if(e.channel = '', NULL, e.event) AS last_event, if(e.channel = '', NULL, fromUnixTimestamp64Milli(e.last_ms)) AS last_event_at,\n" +
            "    dateDiff('minute', greatest(m.last_message, a.last_heartbeat), now()) AS quiet_minutes\n" +
            'FROM (SELECT login, enabled FROM channels FINAL WHERE NOT removed) AS c\n' +
            'LEFT JOIN (SELECT channel, max(`window`) + INTERVAL 30 SECOND AS last_message FROM chat_30s GROUP BY channel) AS m ON m.channel = c.login\n' +
            "LEFT JOIN (SELECT channel, toDateTime(max(ts)) AS last_heartbeat FROM ingest_events WHERE event = 'alive' AND ts > now() - INTERVAL 1 DAY GROUP BY channel) AS a ON a.channel = c.login\n" +
            `LEFT JOIN (${LATEST_LIFECYCLE_SQL}) AS e ON e.channel = c.login\n` +
            `WHERE $__conditionalAll(c.login IN (\${channel:singlequote}), $channel)\nORDER BY quiet_minutes DESC`,
          overrides: [{ matcher: { id: 'byName', options: 'quiet_minutes' }, properties: [{ id: 'unit', value: 'm' }, { id: 'custom.cellOptions', value: { type: 'color-background' } }, { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: STALLED_MINUTES / 2 }, { color: 'red', value: STALLED_MINUTES }] } }] }],
        },
        {
          title: 'Gaps',
          description: 'Spans where chat may be missing (disconnects, or holes found in an imported log).',
          type: 'table',
          w: 12,
          h: 8,
          sql: `${header(['A gap event carries its own start and end; list the latest first.'])}SELECT channel, gap_start, gap_end, dateDiff('second', gap_start, gap_end) AS missing_s, ingestor, detail\nFROM ingest_events\nWHERE event = 'gap' AND $__timeFilter(ts) AND (channel = '' OR ${CHANNEL})\nORDER BY gap_start DESC\nLIMIT 200`,
          overrides: [{ matcher: { id: 'byName', options: 'missing_s' }, properties: [{ id: 'unit', value: 's' }] }],
        },
      ],
    },
  ],
};

const BURSTS_ANNOTATION = {
  name: 'Bursts',
  color: 'orange',
  sql: `${header(['Chat and emote bursts found by analytics, drawn as ranges.'])}SELECT start AS time, \`end\` AS timeEnd, concat(channel, ': ', kind, if(emote = '', '', concat(' ', emote)), ', score ', toString(round(score, 1))) AS text, [channel, kind] AS tags\nFROM bursts\nWHERE $__timeFilter(start) AND ${CHANNEL}\nORDER BY start\nLIMIT 500`,
};

const recentMessages = (title: string, description: string, filter: string): PanelSpec => ({
  title,
  description,
  type: 'table',
  w: 24,
  h: 10,
  sql: `${header(['Newest first; the raw table is sorted by (channel, ts), so a channel and range read few granules.'])}SELECT ts AS time, channel, login, text, emote_names AS emotes, round(sentiment, 2) AS sentiment, round(toxicity, 2) AS toxicity, first_msg\nFROM messages\nWHERE $__timeFilter_ms(ts) AND ${filter}\nORDER BY ts DESC\nLIMIT 500`,
  overrides: [{ matcher: { id: 'byName', options: 'text' }, properties: [{ id: 'custom.width', value: 700 }] }],
});

/**
 * The textbox as percent-encoding (only [A-Za-z0-9%._~-]), decoded by ClickHouse: with singlequote a typed \
 * broke the query, and a typed \' ended the literal, letting a dashboard viewer append SQL.
 */
const USER = "$__conditionalAll(login = decodeURLComponent('${user:percentencode}'), $user)";

const modActions: PanelSpec = {
  title: 'Moderation actions',
  description: 'Bans, timeouts, deletions and clears, newest first, with the deleted text where Twitch sent it.',
  type: 'table',
  w: 16,
  h: 9,
  sql: `${header(['Raw actions: a few per minute at most, newest first.'])}SELECT ts AS time, channel, toString(action) AS action, target_login, duration_s, reason, text\nFROM mod_actions\nWHERE $__timeFilter_ms(ts) AND ${CHANNEL}\nORDER BY ts DESC\nLIMIT 500`,
};

const topEmotes = (w: number): PanelSpec => ({
  title: 'Top emotes',
  description: 'Most used emotes in the range.',
  type: 'bargauge',
  w,
  h: 9,
  sql: `${header(['emotes_1m: exact sums; LIMIT keeps the bar list readable.'])}SELECT emote, sum(uses) AS uses\nFROM emotes_1m\nWHERE ${MINUTES_IN_RANGE} AND ${CHANNEL}\nGROUP BY emote\nORDER BY uses DESC\nLIMIT 20`,
  options: { orientation: 'horizontal', displayMode: 'gradient', reduceOptions: { calcs: [], fields: '', values: true } },
});

const channel: DashboardSpec = {
  uid: 'twichist-channel',
  title: 'Twichist / Channel',
  description: 'One or more channels in depth: volume, chatters, sentiment, toxicity, emotes, bursts, messages and moderation.',
  tags: ['channel'],
  variables: [channelVar, userVar],
  annotations: [BURSTS_ANNOTATION],
  rows: [
    {
      panels: [
        MESSAGES_STAT,
        CHATTERS_STAT,
        stat('First-time chatters', 'Messages flagged first-msg by Twitch: people writing in the channel for the first time.', chatTotal('sum(first_time_chatters)', 'Twitch flags the first message a user ever sends in a channel.')),
        stat('Mean sentiment', 'Mean message sentiment, -1 (negative) to 1 (positive).', chatTotal('sum(sentiment_sum) / greatest(sum(messages), 1)', 'Mean of per-message scores, weighted by message.'), 'none', 2),
        stat('Peak toxicity', 'Highest toxicity score of a message in the range (0 to 1).', chatTotal('toFloat64(max(toxicity_max))', 'The worst single message; toFloat64 because max() of a SimpleAggregateFunction column keeps that type, which the plugin cannot read.'), 'percentunit', 0),
        stat('Mod actions', 'Moderation actions in the range: bans + timeouts + deletions + clears.', chatTotal('sum(bans + timeouts + deletions + clears)', 'The rollup counts mod_actions rows by type.')),
      ],
    },
    {
      panels: [
        perChannel('Volume', 'Messages per bucket and channel.', 'sum(messages) AS messages', 'short'),
        combined('Unique and first-time chatters', 'Distinct chatters per bucket, and how many wrote for the first time.', 'uniqExactMerge(chatters) AS chatters, sum(first_time_chatters) AS first_time', 'short'),
      ],
    },
    {
      panels: [
        combined('Sentiment', 'Mean sentiment per bucket (left) and the share of positive and negative messages (right).', 'sum(sentiment_sum) / greatest(sum(messages), 1) AS mean_sentiment, sum(sentiment_pos) / greatest(sum(messages), 1) AS positive_share, sum(sentiment_neg) / greatest(sum(messages), 1) AS negative_share', 'none', {
          overrides: [{ matcher: { id: 'byRegexp', options: '.*_share' }, properties: [{ id: 'unit', value: 'percentunit' }, { id: 'custom.axisPlacement', value: 'right' }] }],
        }),
        combined('Toxicity', 'Mean and peak toxicity per bucket (0 to 1).', 'sum(toxicity_sum) / greatest(sum(messages), 1) AS mean_toxicity, toFloat64(max(toxicity_max)) AS peak_toxicity', 'percentunit'),
      ],
    },
    { panels: [topEmotes(8), modActions] },
    {
      panels: [
        {
          title: 'Topics',
          description: 'What chat talked about per 5-minute window: topics the enrich stage found (embedding clusters when the model is installed, keywords otherwise), labelled by their most distinctive terms, largest first.',
          type: 'table',
          w: 24,
          h: 9,
          sql: `${header(['One row per topic and window (table topics, written by enrich every TOPICS_INTERVAL_S); newest windows first.', 'Only the newest version of each window (topic_window_state): a refresh deletes the older one just after writing its own.'])}SELECT window_start AS time, channel, label, messages, arrayStringConcat(terms, ', ') AS terms, method\nFROM topics\nWHERE $__timeFilter(window_start) AND ${CHANNEL}\n  AND ${newestTopicVersionSql(`$__timeFilter(window_start) AND ${CHANNEL}`, { perChannel: true })}\nORDER BY window_start DESC, channel, messages DESC\nLIMIT 300`,
          overrides: [{ matcher: { id: 'byName', options: 'terms' }, properties: [{ id: 'custom.width', value: 500 }] }],
        },
      ],
    },
    { panels: [recentMessages('Recent messages', 'The newest 500 messages of the selected channels (and user, if set).', `${CHANNEL} AND ${USER}`)] },
  ],
};

const emotes: DashboardSpec = {
  uid: 'twichist-emotes',
  title: 'Twichist / Emotes and bursts',
  description: 'Emote timelines and leaderboard, and the bursts analytics found (with sample messages).',
  tags: ['emotes', 'bursts'],
  variables: [channelVar, emoteVar],
  annotations: [BURSTS_ANNOTATION],
  rows: [
    {
      panels: [
        {
          title: 'Emote timeline',
          description: 'Uses per bucket of the selected emotes (All: the ten most used in the range).',
          type: 'timeseries',
          interval: '30s',
          unit: 'short',
          w: 24,
          h: 9,
          sql:
            header(['With All, chart only the ten most used emotes of the range: hundreds of lines help nobody.']) +
            tiered(
              'emotes',
              (t) => `SELECT $__timeInterval(\`window\`) AS time, emote, sum(uses) AS uses\nFROM ${t}\nWHERE ${CHANNEL} AND ${EMOTE}\n    AND emote IN (SELECT emote FROM ${t} WHERE $__timeFilter(\`window\`) AND ${CHANNEL} AND ${EMOTE} GROUP BY emote ORDER BY sum(uses) DESC LIMIT 10) AND`,
              '\nGROUP BY time, emote',
              'time, emote',
            ),
        },
      ],
    },
    {
      panels: [
        {
          title: 'Emote leaderboard',
          description: 'Emotes by uses in the range, with distinct users and the share of all emote uses.',
          type: 'table',
          w: 10,
          h: 10,
          sql: `${header(['Share is of all emote uses in the selected channels and range.'])}SELECT emote, sum(uses) AS uses, uniqExactMerge(users) AS users, uniqExact(channel) AS channels, uses / sum(uses) OVER () AS share\nFROM emotes_1m\nWHERE ${MINUTES_IN_RANGE} AND ${CHANNEL}\nGROUP BY emote\nORDER BY uses DESC\nLIMIT 100`,
          overrides: [{ matcher: { id: 'byName', options: 'share' }, properties: [{ id: 'unit', value: 'percentunit' }, { id: 'custom.cellOptions', value: { type: 'gauge', mode: 'basic' } }] }],
        },
        {
          title: 'Bursts',
          description: 'Volume and emote bursts found by analytics: when, how strong (robust z-score, peak 30 s count against the baseline median: messages, or for an emote the chatters who used it), the top emotes and sample messages of the peak.',
          type: 'table',
          w: 14,
          h: 10,
          sql: `${header(['Strongest first; samples are a few messages analytics kept from the burst.'])}SELECT start, \`end\`, channel, kind, emote, round(score, 2) AS score, peak_count, round(baseline, 1) AS baseline, arrayStringConcat(top_emotes, ' ') AS top_emotes, arrayStringConcat(sample_messages, ' | ') AS samples\nFROM bursts\nWHERE $__timeFilter(start) AND ${CHANNEL}\nORDER BY score DESC\nLIMIT 200`,
        },
      ],
    },
    {
      panels: [
        combined('Emote density', 'Emotes per message: how much of the chat is emotes.', 'sum(emote_uses) / greatest(sum(messages), 1) AS emotes_per_message', 'none'),
        {
          title: 'Bursts over time',
          description: 'How many bursts started per bucket, by kind.',
          type: 'timeseries',
          interval: '1m',
          unit: 'short',
          stack: true,
          w: 12,
          h: 8,
          sql: `${header(['Few rows (bursts are rare): bucket the table directly. kind is volume or emote.'])}SELECT $__timeInterval(start) AS time, kind, count() AS bursts\nFROM bursts\nWHERE $__timeFilter(start) AND ${CHANNEL}\nGROUP BY time, kind\nORDER BY time, kind`,
        },
      ],
    },
    {
      panels: [
        {
          title: 'Hype: chance of a burst in the next minute',
          description: 'hype_predictions: per 30-second window, the probability that a volume burst starts within the next 60 seconds (the hype model; analytics/hype-weights.json), highest per bucket.',
          type: 'timeseries',
          interval: '30s',
          unit: 'percentunit',
          w: 24,
          h: 8,
          sql: `${header(['One row per channel and 30-s window; max per bucket keeps a spike visible when zoomed out.'])}SELECT $__timeInterval(\`window\`) AS time, channel, max(probability) AS hype\nFROM hype_predictions\nWHERE $__timeFilter(\`window\`) AND ${CHANNEL}\nGROUP BY time, channel\nORDER BY time, channel`,
        },
      ],
    },
  ],
};

const moderation: DashboardSpec = {
  uid: 'twichist-moderation',
  title: 'Twichist / Moderation and toxicity',
  description: 'Moderation actions by type against toxicity, who gets moderated, and the messages most at risk.',
  tags: ['moderation'],
  variables: [channelVar],
  rows: [
    {
      panels: [
        combined('Actions by type', 'Bans, timeouts, deletions and chat clears per bucket.', 'sum(bans) AS bans, sum(timeouts) AS timeouts, sum(deletions) AS deletions, sum(clears) AS clears', 'short', { stack: true }),
        combined('Actions against toxicity', 'All moderation actions per bucket (left) against mean and peak message toxicity (right).', 'sum(bans + timeouts + deletions + clears) AS actions, sum(toxicity_sum) / greatest(sum(messages), 1) AS mean_toxicity, toFloat64(max(toxicity_max)) AS peak_toxicity', 'short', {
          overrides: [{ matcher: { id: 'byRegexp', options: '.*_toxicity' }, properties: [{ id: 'unit', value: 'percentunit' }, { id: 'custom.axisPlacement', value: 'right' }] }],
        }),
      ],
    },
    {
      panels: [
        {
          title: 'Most moderated users',
          description: 'Targets of bans, timeouts and deletions in the range.',
          type: 'table',
          w: 12,
          h: 10,
          sql: `${header(['Clears target nobody (empty login) and are left out.'])}SELECT target_login AS login, count() AS actions, countIf(action = 'ban') AS bans, countIf(action = 'timeout') AS timeouts,\n    countIf(action = 'delete') AS deletions, sum(ifNull(duration_s, 0)) AS timeout_s, uniqExact(channel) AS channels, max(ts) AS last_action\nFROM mod_actions\nWHERE $__timeFilter_ms(ts) AND ${CHANNEL} AND target_login != ''\nGROUP BY login\nORDER BY actions DESC\nLIMIT 100`,
          overrides: [{ matcher: { id: 'byName', options: 'timeout_s' }, properties: [{ id: 'unit', value: 's' }] }],
        },
        {
          title: 'Toxicity and moderation by channel',
          description: 'Per channel (analytics, moderation_toxicity): message-weighted mean toxicity, share of toxic messages, and moderation actions per 100 messages.',
          type: 'table',
          w: 12,
          h: 10,
          sql: `${header(['The 5-minute windows of moderation_toxicity that overlap the range, as the stats read minutes; means weighted by each window\'s messages.'])}SELECT channel, sum(messages) AS total_messages, round(sum(toxicity_mean * messages) / greatest(total_messages, 1), 3) AS mean_toxicity,\n    round(sum(toxic_share * messages) / greatest(total_messages, 1), 3) AS toxic_message_share, sum(bans + timeouts + deletions + clears) AS actions,\n    round(actions * 100 / greatest(total_messages, 1), 2) AS actions_per_100\nFROM moderation_toxicity\nWHERE ${windowsInRange('5 MINUTE')} AND ${CHANNEL}\nGROUP BY channel\nORDER BY actions DESC`,
          overrides: [{ matcher: { id: 'byName', options: 'toxic_message_share' }, properties: [{ id: 'unit', value: 'percentunit' }] }],
        },
      ],
    },
    { panels: [{ ...modActions, w: 24 }] },
    {
      panels: [
        {
          title: 'Moderation lag',
          description: 'Per channel over all stored chat (moderation_lag): messages flagged (toxicity or moderation risk above 0.5), how many flagged users were banned or timed out within 10 minutes, and how fast (seconds from their last flagged message).',
          type: 'table',
          w: 12,
          h: 7,
          sql: `${header(['moderation_lag is one row per channel over all history (refreshed every 5 minutes): the time picker does not apply.'])}SELECT channel, flagged_messages, flagged_users, actioned_users, round(actioned_share, 3) AS actioned_share, actions_after_flag, lag_median_s, lag_p90_s\nFROM moderation_lag\nWHERE ${CHANNEL}\nORDER BY flagged_users DESC`,
          overrides: [
            { matcher: { id: 'byName', options: 'actioned_share' }, properties: [{ id: 'unit', value: 'percentunit' }] },
            { matcher: { id: 'byRegexp', options: 'lag_.*' }, properties: [{ id: 'unit', value: 's' }] },
          ],
        },
        {
          title: 'Moderation risk against actions',
          description: `Per channel over the range: messages, how many were followed by a ban or timeout of their author within ${RISK_LABEL_WINDOW_S} s (actioned), how many mod_risk expected (its sum), and the AUC of mod_risk for that (0.5 = chance, 1 = every actioned message ranked above the rest; empty when all or none were actioned). The figure \`npm run eval:moderation\` prints, on your own chat (docs/sentiment.md).`,
          type: 'table',
          w: 12,
          h: 7,
          sql: `${header([`Every message of the range with its author's next ban/timeout (ASOF join; analytics/risk-quality.ts, shared with the API's /moderation/risk); the AUC holds 5 bytes per message in memory.`])}SELECT channel, messages, actioned_messages AS actioned, round(expected_actioned, 1) AS expected, round(auc, 4) AS auc\nFROM (${riskQualitySql(`$__timeFilter_ms(ts) AND ${CHANNEL}`, `ts >= $__fromTime_ms AND ts <= $__toTime_ms + INTERVAL ${RISK_LABEL_WINDOW_S} SECOND AND ${CHANNEL}`)})\nORDER BY messages DESC`,
          overrides: [{ matcher: { id: 'byName', options: 'auc' }, properties: [{ id: 'decimals', value: 4 }] }],
        },
      ],
    },
    {
      panels: [
        {
          title: 'Highest moderation risk',
          description: `Messages most likely to get their author timed out or banned within a minute (mod_risk: spam, floods, copy-pastas, toxicity, the author's recent behaviour and standing; docs/sentiment.md), highest first, with the author's next ban or timeout: \`actioned\` when it came within ${RISK_LABEL_WINDOW_S} s. Empty author_action: none stored.`,
          type: 'table',
          w: 24,
          h: 10,
          sql: `${header(['Reads one Float32 column of the range: top 100 by a partial sort, then joins their authors\' next ban/timeout.'])}SELECT ts AS time, channel, login, text, round(mod_risk, 3) AS mod_risk, round(toxicity, 2) AS toxicity, actioned,\n    author_action, author_action_ts, author_action_duration_s\nFROM (${actionedMessagesSql(`$__timeFilter_ms(ts) AND ${CHANNEL}`, `ts >= $__fromTime_ms AND ${CHANNEL}`, { columns: 'channel, ts, id, login, text, mod_risk, toxicity', top: '100' })})\nORDER BY mod_risk DESC, ts DESC, id DESC`,
          overrides: [
            { matcher: { id: 'byName', options: 'text' }, properties: [{ id: 'custom.width', value: 700 }] },
            { matcher: { id: 'byName', options: 'mod_risk' }, properties: [{ id: 'unit', value: 'percentunit' }, { id: 'custom.cellOptions', value: { type: 'color-background' } }, { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.3 }, { color: 'red', value: 0.7 }] } }] },
          ],
        },
      ],
    },
  ],
};

const normalisedVolume: PanelSpec = {
  title: 'Volume, each channel to its own peak',
  description: "Messages per bucket divided by the channel's own busiest bucket in the range, so a small and a big channel share a scale.",
  type: 'timeseries',
  interval: '30s',
  unit: 'percentunit',
  w: 24,
  h: 8,
  sql:
    header(['Each channel divided by its own busiest bucket in the range, so shapes compare across sizes.']) +
    'SELECT time, channel, messages / max(messages) OVER (PARTITION BY channel) AS share_of_peak\nFROM (\n' +
    tiered('chat', (t) => `SELECT $__timeInterval(\`window\`) AS time, channel, sum(messages) AS messages\nFROM ${t}\nWHERE ${CHANNEL} AND`, '\nGROUP BY time, channel', 'time, channel') +
    '\n)\nORDER BY time, channel',
};

const compare: DashboardSpec = {
  uid: 'twichist-compare',
  title: 'Twichist / Compare streams',
  description: 'Channels side by side: normalised volume, chat signatures, similarity and shared chatters.',
  tags: ['compare'],
  variables: [channelVar],
  rows: [
    {
      panels: [
        normalisedVolume,
      ],
    },
    {
      panels: [
        {
          title: 'Signatures side by side',
          description: 'Each channel\'s chat signature (analytics): one column per channel, one row per feature.',
          type: 'table',
          w: 12,
          h: 10,
          sql:
            header(["The whole-history signature (period 'all'), one row per feature; the panel pivots channels into columns."]) +
            'SELECT channel, feature, round(value, 3) AS value\nFROM channel_signatures\n' +
            "ARRAY JOIN ['messages per chatter', 'emote share of messages', 'mean sentiment', 'negative share', 'neutral share', 'positive share', 'mean toxicity', 'mean length'] AS feature,\n" +
            '    [messages_per_chatter, emote_message_share, sentiment_mean, sentiment_neg_share, sentiment_neu_share, sentiment_pos_share, toxicity_mean, length_mean] AS value\n' +
            `WHERE period = 'all' AND ${CHANNEL}\nORDER BY feature, channel`,
          transformations: [{ id: 'groupingToMatrix', options: { columnField: 'channel', rowField: 'feature', valueField: 'value' } }],
        },
        {
          title: 'Similarity matrix',
          description: 'How alike two channels\' emote use is (1 - Jensen-Shannon divergence of their emote distributions; 1 = the same emotes in the same proportions). Each pair appears once.',
          type: 'table',
          w: 12,
          h: 10,
          sql: `${header(['Pairs (a, b, similarity) with a < b; the panel pivots them into a matrix.'])}SELECT channel_a, channel_b, round(emote_js_similarity, 3) AS similarity, round(feature_cosine, 3) AS feature_cosine\nFROM channel_similarity\nWHERE $__conditionalAll(channel_a IN (\${channel:singlequote}) AND channel_b IN (\${channel:singlequote}), $channel)\nORDER BY channel_a, channel_b`,
          transformations: [{ id: 'groupingToMatrix', options: { columnField: 'channel_b', rowField: 'channel_a', valueField: 'similarity' } }],
          defaults: { custom: { cellOptions: { type: 'color-background' } }, color: { mode: 'continuous-GrYlRd' }, min: 0, max: 1 },
        },
      ],
    },
    {
      panels: [
        {
          title: 'Chatter overlap',
          description: 'Chatters two channels share (analytics, whole history).',
          type: 'table',
          w: 12,
          h: 9,
          sql: `${header(['Pairs as analytics stored them; the Jaccard index is shared / union.'])}SELECT channel_a, channel_b, chatters_a, chatters_b, shared AS shared_chatters, round(jaccard, 4) AS jaccard\nFROM chatter_overlap\nWHERE $__conditionalAll(channel_a IN (\${channel:singlequote}) AND channel_b IN (\${channel:singlequote}), $channel)\nORDER BY shared_chatters DESC\nLIMIT 100`,
        },
        {
          title: 'Shared chatters in the range',
          description: 'Logins that wrote in both channels within the picked range (computed live from messages).',
          type: 'table',
          w: 12,
          h: 9,
          sql:
            header(['Live: distinct (channel, login) pairs joined on login; fine for days, slow for years.']) +
            'SELECT a.channel AS channel_a, b.channel AS channel_b, count() AS shared_chatters\n' +
            `FROM (SELECT DISTINCT channel, login FROM messages WHERE $__timeFilter_ms(ts) AND ${CHANNEL}) AS a\n` +
            `INNER JOIN (SELECT DISTINCT channel, login FROM messages WHERE $__timeFilter_ms(ts) AND ${CHANNEL}) AS b ON a.login = b.login\n` +
            'WHERE a.channel < b.channel\nGROUP BY channel_a, channel_b\nORDER BY shared_chatters DESC\nLIMIT 100',
        },
      ],
    },
  ],
};
const audience: DashboardSpec = {
  uid: 'twichist-audience',
  title: 'Twichist / Audience',
  description: 'Who chats: segments, returning-chatter retention, new against returning, top chatters and one chatter\'s history.',
  tags: ['audience'],
  variables: [channelVar, userVar],
  rows: [
    {
      panels: [
        {
          title: 'Chatter segments',
          description: 'Chatters per segment (analytics clustering of chat behaviour).',
          type: 'piechart',
          w: 8,
          h: 9,
          sql: `${header(['chatter_segments is a view over chatter_features: one row per (channel, login).'])}SELECT segment, count() AS chatters\nFROM chatter_segments\nWHERE ${CHANNEL}\nGROUP BY segment\nORDER BY chatters DESC`,
          options: { reduceOptions: { calcs: [], fields: '', values: true }, pieType: 'donut', legend: { displayMode: 'table', placement: 'right', values: ['value', 'percent'] } },
        },
        {
          title: 'Returning-chatter retention',
          description: 'Per stream (analytics, chatter_retention): chatters, how many also chatted in the previous stream, and that share of the previous stream\'s chatters.',
          type: 'table',
          w: 16,
          h: 9,
          sql: `${header(['Streams that started in the range; a channel\'s first stream has no retention.'])}SELECT stream_start, channel, stream_no, chatters, previous_chatters, returning, round(retention, 3) AS retention\nFROM chatter_retention\nWHERE $__timeFilter(stream_start) AND ${CHANNEL}\nORDER BY stream_start DESC\nLIMIT 200`,
          overrides: [{ matcher: { id: 'byName', options: 'retention' }, properties: [{ id: 'unit', value: 'percentunit' }, { id: 'custom.cellOptions', value: { type: 'gauge', mode: 'basic' } }, { id: 'min', value: 0 }, { id: 'max', value: 1 }] }],
        },
      ],
    },
    {
      panels: [
        combined('First-time and other chatters', "Per bucket: chatters Twitch flagged as writing in the channel for the first time (the first-msg IRC tag), and everyone else. Recordings without IRC tags (Chatty logs, VOD exports) carry no flag: all their chatters are 'other'.", 'sum(first_time_chatters) AS first_time, uniqExactMerge(chatters) - sum(first_time_chatters) AS other', 'short', { stack: true }),
        {
          title: 'Top chatters',
          description: 'Most active logins in the range.',
          type: 'table',
          w: 12,
          h: 8,
          sql: `${header(['Raw messages: the time filter on (channel, ts) keeps the scan to the range.'])}SELECT login, count() AS messages, uniqExact(channel) AS channels, min(ts) AS first_seen, max(ts) AS last_seen, round(avg(sentiment), 2) AS mean_sentiment\nFROM messages\nWHERE $__timeFilter_ms(ts) AND ${CHANNEL}\nGROUP BY login\nORDER BY messages DESC\nLIMIT 100`,
        },
      ],
    },
    {
      panels: [
        recentMessages('Chatter history', 'Messages of the login in "User" across the selected channels (empty: everyone).', `${USER} AND ${CHANNEL}`),
      ],
    },
  ],
};

export const DASHBOARDS: Array<{ file: string; spec: DashboardSpec }> = [
  { file: 'overview.json', spec: overview },
  { file: 'channel.json', spec: channel },
  { file: 'emotes-and-bursts.json', spec: emotes },
  { file: 'moderation.json', spec: moderation },
  { file: 'compare-streams.json', spec: compare },
  { file: 'audience.json', spec: audience },
];
