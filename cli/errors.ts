/** Turns any failure into the one line a user reads: what went wrong and, when we know it, the fix. */
import { ConfigError } from '../core/config.ts';
import { UsageError } from './command.ts';

export function describeError(err: unknown): string {
  if (err instanceof ConfigError) return `configuration error: ${err.message}`;
  if (err instanceof UsageError) return `${err.message} (see --help)`;
  const e = err as { message?: string; code?: string; type?: string; name?: string };
  const msg = String(e?.message ?? err).split('\n')[0];
  // nats.js: connect() failed (refused, timeout, DNS); the reason is in the message, the setting is NATS_URL.
  if (e?.name === 'ConnectionError') return `cannot connect to NATS (${msg}); check NATS_URL, start nats-server with JetStream (-js), or unset NATS_URL to use the in-process bus`;
  if (e?.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(msg)) return `cannot connect: ${msg}. Is the server running and the URL right (CLICKHOUSE_URL / NATS_URL)?`;
  if (/Cannot lock file/.test(msg)) return `the embedded database is in use by another process that does not serve it (${msg}); stop it or set CLICKHOUSE_URL`;
  if (e?.code === 'EACCES' || e?.code === 'EROFS') return `${msg}: the data folder is not writable; set TWICHIST_DATA_DIR to a folder you can write`;
  if (e?.type && e?.code) return `ClickHouse error ${e.code} (${e.type}): ${msg}`;
  return msg;
}
