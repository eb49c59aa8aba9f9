/**
 * Which channels Twichist knows, so that a route asked about a channel it has never seen (a typo such as
 * `nothernlion`) answers 404 naming it, instead of 200 with zeros that look like a quiet channel.
 *
 * Known = followed (TWITCH_CHANNELS of this process, the in-process ingestor's set, a row of the `channels`
 * table: enabled, disabled or removed, whose history is kept), or anything stored: chat or moderation (a
 * `chat_1d` row: the rollup every message and mod action is summed into, imports included, kept past raw
 * retention; a `user_notices` row: a channel with only subs or raids stored) or a lifecycle row of an ingestor elsewhere (`ingest_events`: compose's ingest container
 * joins before any chat; compose gives every container the same TWITCH_CHANNELS, a deployment may not).
 *
 * Cost: one query per request whose channels are not all known already, reading the `channel` column of
 * three tables by their sort key (chat_1d: a row per channel and day; channels: a row per followed channel;
 * ingest_events: answered by its `latest_event` projection, a row per channel and part, migration 0046), and for
 * channels none of them knows a second one on user_notices (a typo reads no row).
 * Known channels are remembered for {@link KNOWN_TTL_MS}: a channel stays known (history is never deleted per
 * channel), so that costs nothing but 60 s of a channel whose last rows retention dropped. Unknown ones are
 * not remembered: the channel added or imported a moment later must not stay a 404.
 */
import type { ClickHouseClient } from '../core/clickhouse.ts';
import type { ApiContext } from './context.ts';
import { rows } from './db.ts';
import { ApiError } from './errors.ts';

const KNOWN_TTL_MS = 60_000;

/** GROUP BY (not DISTINCT) on ingest_events, so its `latest_event` aggregate projection answers it. */
const KNOWN_SQL = `SELECT DISTINCT c FROM (
  SELECT channel AS c FROM chat_1d WHERE channel IN {channels:Array(String)}
  UNION ALL SELECT login AS c FROM channels WHERE login IN {channels:Array(String)}
  UNION ALL SELECT channel AS c FROM ingest_events WHERE channel IN {channels:Array(String)} GROUP BY channel
)`;
/** Asked only for the channels the tables above do not know: it reads every notice row of a channel it finds. */
const NOTICES_SQL = 'SELECT channel AS c FROM user_notices WHERE channel IN {channels:Array(String)} GROUP BY channel';

/**
 * The channels of `channels` with a `channels` row or anything stored (one query, see the module comment);
 * TWITCH_CHANNELS and an in-process ingestor are the caller's to add. Also `twichist analytics topics --channel`.
 */
export async function storedOrFollowed(client: ClickHouseClient, channels: readonly string[]): Promise<Set<string>> {
  const found = new Set((await rows<{ c: string }>(client, KNOWN_SQL, { channels }, { optimize_use_projections: 1 })).map((r) => r.c));
  const rest = channels.filter((c) => !found.has(c));
  if (rest.length > 0) for (const r of await rows<{ c: string }>(client, NOTICES_SQL, { channels: rest })) found.add(r.c);
  return found;
}

/** "unknown channel nosuch: not followed and nothing stored for it": the API's 404 and the CLI say it alike. */
export function unknownChannelsMessage(unknown: readonly string[]): string {
  return `unknown channel${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: not followed and nothing stored for ${unknown.length > 1 ? 'them' : 'it'}`;
}

/** Per client (one per app): channel -> when it was last found known. */
const seen = new WeakMap<object, Map<string, number>>();

/**
 * Throws a 404 naming every channel of `channels` that Twichist does not know (see the module comment);
 * resolves when all are known.
 */
export async function assertKnownChannels(ctx: ApiContext, channels: readonly string[]): Promise<void> {
  let known = seen.get(ctx.client);
  if (!known) seen.set(ctx.client, (known = new Map()));
  const now = Date.now();
  const followed = new Set([...ctx.config.twitch.channels, ...Object.keys(ctx.ingest?.state() ?? {})]);
  const ask = [...new Set(channels)].filter((c) => !followed.has(c) && !(now - (known.get(c) ?? -Infinity) < KNOWN_TTL_MS));
  if (ask.length === 0) return;
  const found = await storedOrFollowed(ctx.client, ask);
  for (const c of found) known.set(c, now);
  const unknown = ask.filter((c) => !found.has(c));
  if (unknown.length === 0) return;
  throw new ApiError(404, `${unknownChannelsMessage(unknown)} (check the spelling; GET /api/v1/channels lists the channels Twichist has)`, { unknown_channels: unknown });
}
