/**
 * Burst injection for measuring detection on real chat: adds emote bursts of known times and sizes
 * to a real log, as extra messages from synthetic users, so recall and precision can be counted.
 *
 * Generator (deterministic for a seed; the mulberry32 PRNG topics uses, since Math.random cannot be seeded):
 * - `count` bursts of `emote`, each 1 to `maxWindows` consecutive 30-second windows long, starting at
 *   30-s-aligned times drawn uniformly from [from + warmupMs, to - tail], at least `minGapWindows`
 *   windows apart (a burst's own trailing baseline then holds at most a few injected windows);
 * - each window of a burst gets `uses` messages, `uses` drawn uniformly from [sizeMin, sizeMax],
 *   each message being the emote alone from a new synthetic user (`inject_<burst>_<n>`), at times
 *   spread evenly inside the window.
 * Defaults: 20 bursts of 10-40 uses per window, 1-2 windows, 4 windows apart, 5-minute warm-up
 * (the detector ignores the first 5 minutes of a stream, see migration 0030).
 */
import { mulberry32 } from '../enrich/topics/kmeans.ts';
import type { ChatRow } from './chatty.ts';
import { chTime } from './chatty.ts';

export interface InjectOptions {
  channel: string;
  emote: string;
  /** Epoch ms of the first and last real message. */
  from: number;
  to: number;
  seed?: number;
  count?: number;
  sizeMin?: number;
  sizeMax?: number;
  maxWindows?: number;
  minGapWindows?: number;
  warmupMs?: number;
}

export interface InjectedBurst {
  /** Epoch ms of the first window (30-s aligned). */
  start: number;
  /** Epoch ms of the end of the last window (exclusive). */
  end: number;
  uses: number[];
}

const WINDOW_MS = 30_000;

export function planBursts(o: InjectOptions): InjectedBurst[] {
  const rnd = mulberry32(o.seed ?? 42);
  const count = o.count ?? 20;
  const sizeMin = o.sizeMin ?? 10;
  const sizeMax = o.sizeMax ?? 40;
  const maxWindows = o.maxWindows ?? 2;
  const gap = (o.minGapWindows ?? 4) * WINDOW_MS;
  const first = Math.ceil((o.from + (o.warmupMs ?? 5 * 60_000)) / WINDOW_MS) * WINDOW_MS;
  const last = Math.floor((o.to - maxWindows * WINDOW_MS) / WINDOW_MS) * WINDOW_MS;
  const slots = (last - first) / WINDOW_MS;
  if (slots < count * (maxWindows + gap / WINDOW_MS)) throw new Error(`the log is too short for ${count} bursts ${gap / WINDOW_MS} windows apart`);
  const bursts: InjectedBurst[] = [];
  // Rejection sampling; the slot check above keeps the expected number of tries small.
  for (let tries = 0; bursts.length < count; tries++) {
    if (tries > 100_000) throw new Error('could not place the bursts; lower count or minGapWindows');
    const start = first + Math.floor(rnd() * (slots + 1)) * WINDOW_MS;
    const windows = 1 + Math.floor(rnd() * maxWindows);
    const end = start + windows * WINDOW_MS;
    if (bursts.some((b) => start < b.end + gap && b.start < end + gap)) continue;
    const uses = Array.from({ length: windows }, () => sizeMin + Math.floor(rnd() * (sizeMax - sizeMin + 1)));
    bursts.push({ start, end, uses });
  }
  return bursts.sort((a, b) => a.start - b.start);
}

/** The extra messages for planned bursts (emote_names filled, one use per message). */
export function burstMessages(bursts: InjectedBurst[], o: Pick<InjectOptions, 'channel' | 'emote'>): ChatRow[] {
  const out: ChatRow[] = [];
  bursts.forEach((b, i) => {
    b.uses.forEach((n, w) => {
      for (let k = 0; k < n; k++) {
        const ts = chTime(b.start + w * WINDOW_MS + Math.floor(((k + 0.5) * WINDOW_MS) / n));
        out.push({ id: `inject-${i}-${w}-${k}`, channel: o.channel, ts, received_at: ts, source: 'inject', login: `inject_${i}_${w}_${k}`, text: o.emote, emote_names: [o.emote] });
      }
    });
  });
  return out;
}
