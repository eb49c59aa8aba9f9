/**
 * Deterministic event ids for events Twitch gives no id (CLEARCHAT, ROOMSTATE, imported lines
 * without ids): the same event seen twice (re-import, re-publish, two ingestors) gets the same id,
 * so the bus and the store keep one copy. Costs one SHA-1 per event (~1 µs).
 */
import { createHash } from 'node:crypto';

/** `prefix:` + 32 hex chars of SHA-1 over the parts, separated by a byte that cannot occur in them. */
export function deterministicId(prefix: string, ...parts: Array<string | number | null>): string {
  // One update over the joined parts: the same bytes as an update per part and separator (so the
  // same id), without two native calls per part (~40% of the Chatty importer's profile).
  let joined = '';
  for (const p of parts) joined += (p === null ? '\u0000null' : String(p)) + '\u0001';
  return `${prefix}:${createHash('sha1').update(joined).digest('hex').slice(0, 32)}`;
}
