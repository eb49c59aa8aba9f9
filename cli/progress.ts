/**
 * Progress reporting for long CLI commands. On a TTY: one line redrawn in place (at most 10 times a
 * second) with a bar, rate and ETA when the total is known. Otherwise (pipes, CI logs): a plain line
 * every `plainEveryMs`, so logs stay readable and greppable.
 *
 *   const p = createProgress({ out: ctx.stderr, isTTY: ctx.isTTY, label: 'import', unit: 'events' });
 *   p.update({ done: bytes, total: size, count: events });  ...  p.finish('done');
 */

export interface ProgressOptions {
  /** Where to draw (stderr keeps stdout clean for command output). */
  out: NodeJS.WritableStream;
  /** Redraw in place (TTY) or print plain lines. */
  isTTY: boolean;
  /** Shown before the bar, e.g. the file name. */
  label: string;
  /** What `count` counts, e.g. 'events'; the rate is shown in these per second. */
  unit?: string;
  /** Interval between plain (non-TTY) lines. Default 5 s. */
  plainEveryMs?: number;
  /** Bar width in characters on a TTY. Default 24. */
  width?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface ProgressState {
  /** Progress towards `total` (e.g. bytes read); drives the bar and the ETA. */
  done?: number;
  /** Known total for `done`, or null when unknown (no bar, no ETA). */
  total?: number | null;
  /** Items processed (e.g. events); drives the rate. */
  count?: number;
}

export interface Progress {
  update(s: ProgressState): void;
  /** Changes the label (e.g. the next file). */
  setLabel(label: string): void;
  /** Clears the TTY line and prints `message` (if any) as a final line. */
  finish(message?: string): void;
  /** The line that would be drawn now (for tests). */
  render(): string;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? (() => Date.now());
  const started = now();
  const unit = opts.unit ?? 'items';
  const width = opts.width ?? 24;
  const plainEvery = opts.plainEveryMs ?? 5000;
  let label = opts.label;
  let state: Required<ProgressState> = { done: 0, total: null, count: 0 };
  let lastDraw = 0;
  let drawn = false;

  const render = (): string => {
    const elapsed = Math.max(1, now() - started);
    const rate = (state.count * 1000) / elapsed;
    const parts = [label];
    if (state.total !== null && state.total > 0) {
      const frac = Math.min(1, state.done / state.total);
      if (opts.isTTY) {
        const full = Math.round(frac * width);
        parts.push(`[${'#'.repeat(full)}${'-'.repeat(width - full)}]`);
      }
      parts.push(`${(frac * 100).toFixed(1)}%`);
      const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : NaN;
      parts.push(`${formatCount(state.count)} ${unit}`, `${formatCount(rate)} ${unit}/s`, `ETA ${formatDuration(eta)}`);
    } else {
      parts.push(`${formatCount(state.count)} ${unit}`, `${formatCount(rate)} ${unit}/s`, `elapsed ${formatDuration(elapsed)}`);
    }
    return parts.join('  ');
  };

  const draw = (force: boolean) => {
    const t = now();
    if (opts.isTTY) {
      if (!force && t - lastDraw < 100) return;
      lastDraw = t;
      opts.out.write(`\r\u001b[2K${render()}`);
      drawn = true;
    } else {
      if (!force && t - lastDraw < plainEvery) return;
      lastDraw = t;
      opts.out.write(`${render()}\n`);
    }
  };

  return {
    update(s) {
      state = { done: s.done ?? state.done, total: s.total === undefined ? state.total : s.total, count: s.count ?? state.count };
      draw(false);
    },
    setLabel(l) {
      label = l;
    },
    finish(message) {
      if (opts.isTTY && drawn) opts.out.write('\r\u001b[2K');
      if (message) opts.out.write(`${message}\n`);
    },
    render,
  };
}
