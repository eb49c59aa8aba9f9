/** Small synthetic events for the enrich unit tests. */
import type { Ban, ChatMessage } from '../../../core/events.ts';

export const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 123);

export function chatMessage(n: number, patch: Partial<ChatMessage> = {}): ChatMessage {
  return {
    v: 1, id: `msg-${n}`, channel: 'testchan', channel_id: '42', ts: T0 + n * 1000, received_at: T0 + n * 1000, source: 'replay', tags: {},
    kind: 'message', user_id: `u${n % 7}`, login: `user${n % 7}`, display_name: null, text: n % 2 ? 'Kappa hello' : 'nice PagMan', action: false,
    badges: {}, badge_info: {}, color: null, emotes: [], bits: n % 5 === 0 ? 100 : null, first_msg: n % 3 === 0, returning_chatter: false, reply: null,
    source_room_id: null, source_id: null, flags: null, ...patch,
  };
}

export function ban(n: number): Ban {
  return { v: 1, id: `ban-${n}`, channel: 'testchan', channel_id: '42', ts: T0 + n * 1000, received_at: T0 + n * 1000, source: 'replay', tags: {}, kind: 'ban', target_user_id: null, target_login: `user${n % 7}`, reason: null };
}
