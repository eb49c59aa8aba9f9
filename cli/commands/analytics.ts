import { storedOrFollowed, unknownChannelsMessage } from '../../api/known-channels.ts';
import { createClickHouse, embeddedConnection } from '../../core/clickhouse.ts';
import { loadHypeModel } from '../../analytics/hype-model.ts';
import { evaluateHype, fetchHypeRows, saveWeights } from '../../analytics/hype.ts';
import { refreshDerived, refreshableViews, viewRefreshStates } from '../../analytics/refresh.ts';
import { openModelRuntime } from '../../enrich/models/index.ts';
import { refreshTopics, TOPIC_RANGE_MAX_MS } from '../../enrich/topics/refresh.ts';
import { channelFlag, parseArgs, UsageError, type Command } from '../command.ts';

export const command: Command = {
  name: 'analytics',
  summary: 'Refresh the derived analytics tables now, recompute topics, list the views, or retrain the hype model on stored chat',
  usage: 'twichist analytics refresh|topics|views|train-hype [--channel C] [--since T] [--until T] [--save] [--train-share 0.7]',
  options: [
    { flag: 'refresh', description: 'refresh every refreshable view now, in dependency order, and wait (what import and up do)' },
    { flag: 'topics', description: 'recompute topics (tables topics and message_topics; messages.topic_id is deprecated and no longer written) of a range, with the embedding model when installed; enrich does this on its own for what it stores' },
    { flag: '--channel LOGIN', description: 'topics: one channel (default every channel with messages in the range)' },
    { flag: '--since TIME / --until TIME', description: 'topics: ISO times; default the 6 hours before now' },
    { flag: 'views', description: 'list the refreshable views in refresh order with their last refresh, as the running process that refreshes them reports it (without one: when each table was last written)' },
    { flag: 'train-hype', description: 'train the hype model on hype_features (time split per channel) and print model vs baseline' },
    { flag: '--save', description: 'train-hype: write analytics/hype-weights.json and apply it to hype_predictions' },
    { flag: '--train-share FRACTION', description: "train-hype: share of each channel's time used for training (default 0.7)" },
  ],
  examples: ['twichist analytics refresh', 'twichist analytics topics --channel riotgames --since 2016-09-30T01:00:00Z --until 2016-09-30T03:00:00Z', 'twichist analytics views', 'twichist analytics train-hype --save'],
  async run(args, ctx) {
    const { flags, positional } = parseArgs(args, { save: 'boolean', 'train-share': 'string', channel: 'string', since: 'string', until: 'string' });
    const action = positional[0];
    if (!action || !['refresh', 'topics', 'views', 'train-hype'].includes(action)) throw new UsageError('give refresh, topics, views or train-hype');
    const time = (flag: 'since' | 'until'): Date | null => {
      const v = flags[flag];
      if (v === undefined) return null;
      const d = new Date(String(v));
      if (Number.isNaN(d.getTime())) throw new UsageError(`--${flag} must be an ISO time such as 2016-09-30T01:00:00Z, not '${v}'`);
      return d;
    };
    const since = time('since'), until = time('until');
    const channel = channelFlag(flags, 'channel');
    if (since !== null && since.getTime() >= (until ?? new Date()).getTime()) throw new UsageError(`--since must be before ${until === null ? 'now (no --until)' : '--until'}`);
    const share = flags['train-share'] === undefined ? 0.7 : Number(flags['train-share']);
    if (!(share > 0 && share < 1)) throw new UsageError(`--train-share must be between 0 and 1, not '${flags['train-share']}'`);
    const config = ctx.config();
    const client = await createClickHouse(config);
    try {
      if (action === 'refresh') {
        await refreshDerived(client, { onRefreshed: (v, ms) => ctx.stdout.write(`refreshed ${v} in ${ms} ms\n`) });
        return 0;
      }
      if (action === 'topics') {
        // As the API's 404: a misspelt channel printed "topics: 0 in 0 windows" and exited 0, like a quiet one.
        if (channel !== null && !config.twitch.channels.includes(channel) && !(await storedOrFollowed(client, [channel])).has(channel)) {
          throw new UsageError(`${unknownChannelsMessage([channel])}; check the spelling`);
        }
        const models = await openModelRuntime({ modelsDir: config.models.dir, models: { sentiment: null, toxicity: null } });
        try {
          // bounded steps: a refresh holds its range's messages (of one channel at a time) in memory
          const end = (until ?? new Date()).getTime();
          const STEP = TOPIC_RANGE_MAX_MS;
          const total = { topics: 0, windows: 0, messages: 0, channels: new Set<string>(), method: null as string | null };
          for (let from = since?.getTime() ?? end - STEP; from < end; from += STEP) {
            const r = await refreshTopics(client, { database: config.clickhouse.database, channel, since: new Date(from), until: new Date(Math.min(end, from + STEP)), embedder: models, contextMs: 0 });
            total.topics += r.topics;
            total.windows += r.windows;
            total.messages += r.messages;
            for (const c of r.channels) total.channels.add(c);
            total.method ??= r.method;
          }
          ctx.stdout.write(`topics: ${total.topics} in ${total.windows} windows of ${total.channels.size} channel(s), ${total.messages} messages, ${total.method ?? 'no messages in range'}\n`);
        } finally {
          await models.close();
        }
        return 0;
      }
      if (action === 'views') {
        const { views } = await viewRefreshStates(client);
        const byName = new Map(views.map((v) => [v.view, v]));
        const every = (s: number | null) => (s === null ? '?' : s % 60 === 0 ? `${s / 60} min` : `${s} s`);
        // Refreshes run inside the engine that holds the data; their state is in its memory. Opened here (no
        // process serves the folder), the engine is this command's: it has refreshed nothing, and printed
        // "last ok never, next 1970-01-01 00:00:30" for every view. What the folder keeps is each table's data.
        if (config.clickhouse.url === null && embeddedConnection() !== null) {
          ctx.stdout.write(`no twichist process runs on ${config.dataDir}: views refresh only inside one (up, enrich, api, ingest), and this command refreshed none; when each view's table was last written:\n`);
          for (const name of await refreshableViews(client)) {
            const v = byName.get(name)!;
            ctx.stdout.write(`${name.padEnd(28)} every ${every(v.period_s).padEnd(6)}  ${v.target ?? '?'} written ${v.target_written_at ?? 'never (empty)'}\n`);
          }
          return 0;
        }
        for (const name of await refreshableViews(client)) {
          const v = byName.get(name)!;
          ctx.stdout.write(`${name.padEnd(28)} ${(v.status || '?').padEnd(10)} every ${every(v.period_s).padEnd(6)}  last ok ${v.last_success_at ?? 'never'}  next ${v.next_refresh_at ?? '?'}${v.error === null ? '' : `  error: ${v.error}`}\n`);
        }
        return 0;
      }
      await refreshDerived(client, { skipHypeModel: true });
      const rows = await fetchHypeRows(client);
      if (rows.length === 0) throw new UsageError('hype_features is empty: import some chat first (twichist import ...)');
      const { model, eval: ev } = evaluateHype(rows, share);
      ctx.stdout.write(JSON.stringify(ev, null, 2) + '\n');
      if (flags.save) {
        // The database row is what predicts; the file is for committing the weights. A read-only
        // install (the Docker image's /app belongs to root) keeps the model in the database only.
        await loadHypeModel(client, model);
        await refreshDerived(client, { skipHypeModel: true, views: ['hype_predictions_mv'] });
        try {
          saveWeights(model);
          ctx.stderr.write(`saved hype model ${model.version} (hype_model and analytics/hype-weights.json) and refreshed hype_predictions\n`);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
          ctx.stderr.write(`hype model ${model.version} is in hype_model and predicting; analytics/hype-weights.json is not writable here (${code}), so a fresh database would start from the shipped weights\n`);
        }
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};
