/**
 * NATS subject names. One stream holds every chat event; subjects carry the channel so a consumer
 * (or an operator with `nats sub`) can filter one channel without reading all of them.
 *
 *   <prefix>.chat.<channel>     chat events (NDJSON body: one or more events)
 *   <prefix>.control.channels   channel added/removed/enabled/disabled (API -> ingest)
 */
export function chatSubject(prefix: string, channel: string): string {
  return `${prefix}.chat.${channel}`;
}
export function chatStreamSubjects(prefix: string): string[] {
  return [`${prefix}.chat.>`];
}
export function channelControlSubject(prefix: string): string {
  return `${prefix}.control.channels`;
}
