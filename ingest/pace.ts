/**
 * Replays recorded chat at a multiple of its original pace: each event waits until its recorded
 * offset from the first event, divided by the speed, has passed since that first event was seen.
 */

/**
 * Returns a function to await before publishing each event (in recording order).
 * @param speed 2 = twice as fast as recorded.
 * @param signal aborting it ends any wait at once (a stopping replay must not sleep on).
 */
export function createPacer(speed: number, signal?: AbortSignal): (ts: number) => Promise<void> {
  let firstTs: number | null = null;
  let startedAt = 0;
  return async (ts) => {
    if (firstTs === null) {
      firstTs = ts;
      startedAt = performance.now();
      return;
    }
    const wait = startedAt + (ts - firstTs) / speed - performance.now();
    // Sleeping under a few ms costs more in timer overhead than it keeps the pace.
    if (wait > 4) await sleep(wait, signal);
  };
}

/** setTimeout's limit: a longer delay fires after 1 ms (with a warning), which would skip the wait. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Resolves after `ms` (in steps of at most {@link MAX_TIMEOUT_MS}), or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    let t: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const arm = (left: number) => {
      const step = Math.min(left, MAX_TIMEOUT_MS);
      t = setTimeout(() => (left > step ? arm(left - step) : done()), step);
    };
    arm(ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
