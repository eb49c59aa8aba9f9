/**
 * Sources of the live feed. The API does not care where events come from:
 * - in-process: the single-process runtime calls `emit(events)` with what it stored;
 * - NATS: a core subscription on the chat subjects (JetStream-published messages reach core
 *   subscribers too), bodies are NDJSON of events.
 */
import { EventEmitter } from 'node:events';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { splitEventLines } from '../core/bus.ts';
import { validateEvent, type ChatEvent } from '../core/events.ts';
import { chatSubject } from '../core/subjects.ts';

export interface LiveSource {
  /** Calls `onEvent` for each new event of the channels; returns the unsubscribe function. */
  subscribe(channels: string[] | '*', onEvent: (e: ChatEvent) => void): () => void;
}

/** Per-client bounds: a slow client is dropped, it never slows the rest. */
export interface LiveLimits {
  /** Bytes waiting in a client's socket before it is dropped. Default 1 MiB. */
  maxBufferedBytes: number;
  /** Events queued for a client before they are written. Default 1000. */
  maxQueuedEvents: number;
  /** Channels one client may follow. Default 50. */
  maxChannels: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = { maxBufferedBytes: 1 << 20, maxQueuedEvents: 1000, maxChannels: 50 };

export interface InProcessLive extends LiveSource {
  /** Hands stored events to subscribers; synchronous and cheap when nobody listens. */
  emit(events: readonly ChatEvent[]): void;
}

export function createInProcessLive(): InProcessLive {
  const bus = new EventEmitter();
  // One listener per channel per client: many dashboards on one channel are expected.
  bus.setMaxListeners(0);
  return {
    emit(events) {
      for (const e of events) {
        if (bus.listenerCount(e.channel) > 0) bus.emit(e.channel, e);
        if (bus.listenerCount('*') > 0) bus.emit('*', e);
      }
    },
    subscribe(channels, onEvent) {
      const keys = channels === '*' ? ['*'] : channels;
      for (const k of keys) bus.on(k, onEvent);
      return () => {
        for (const k of keys) bus.off(k, onEvent);
      };
    },
  };
}

/**
 * Live events from NATS. One core subscription per channel (or one wildcard for `*`); a body that
 * is not valid NDJSON of events is skipped (the enrich stage dead-letters it, not us).
 */
export function createNatsLive(nc: NatsConnection, subjectPrefix: string): LiveSource {
  return {
    subscribe(channels, onEvent) {
      const subjects = channels === '*' ? [`${subjectPrefix}.chat.>`] : channels.map((c) => chatSubject(subjectPrefix, c));
      const subs: Subscription[] = subjects.map((subject) =>
        nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) return;
            for (const line of splitEventLines(msg.string())) {
              let input: unknown;
              try {
                input = JSON.parse(line);
              } catch {
                continue;
              }
              const r = validateEvent(input);
              if (r.ok) onEvent(r.event);
            }
          },
        }),
      );
      return () => {
        for (const s of subs) s.unsubscribe();
      };
    },
  };
}
