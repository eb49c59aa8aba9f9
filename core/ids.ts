/**
 * Deterministic event ids for events Twitch gives no id (CLEARCHAT, ROOMSTATE, imported lines
 * without ids): the same event seen twice (re-import, re-publish, two ingestors) gets the same id,
 * so the bus and the store keep one copy. Costs one SHA-1 per event (~1 µs).
 */
import { createHash } from 'node:crypto';

/** `prefix:` + 32 hex chars of SHA-1 over the parts, separated by a byte that cannot occur in them. */
export function deterministicId(prefix: string, ...parts: Array<string | number | null>): string {
  const h = createHash('sha1');
  for (const p of parts) {
    h.update(p === null ? '\u0000null' : String(p));
    h.update('\u0001');
  }
  return `${prefix}:${h.digest('hex').slice(0, 32)}`;
}
