/**
 * The per-message scoring interface enrich calls. The real implementation is the sentiment engineer's
 * `enrich/analysis/index.ts` (`createAnalyzer()`); it is loaded at run time so this stage works (with
 * neutral scores, marked by its version) before that module exists or if it fails to load.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../core/logger.ts';

export interface AnalyzeInput {
  channel: string;
  userId: string | null;
  login: string;
  text: string;
  /** Epoch ms. */
  ts: number;
  /** Emote names found in the message (see `enrich/emotes.ts`). */
  emoteNames: readonly string[];
  /** The author's IRC badges (`{}` when none or unknown): moderation risk reads their standing. */
  badges: Readonly<Record<string, string>>;
  /** A /me message: a moderation feature. */
  action?: boolean;
  /** Ask for {@link AnalyzeResult.modRiskWith}: enrich does when a toxicity model will refine the batch. */
  keepModInputs?: boolean;
}

export interface AnalyzeResult {
  /** -1 .. 1. */
  sentiment: number;
  /** -1, 0 or 1. */
  sentimentLabel: number;
  /** 0 .. 1. */
  toxicity: number;
  /** 0 .. 1. */
  modRisk: number;
  /** With `keepModInputs`: moderation risk recomputed for another toxicity (the model blend), all else as scored. */
  modRiskWith?: (toxicity: number) => number;
}

export interface Analyzer {
  analyze(input: AnalyzeInput): AnalyzeResult;
  /**
   * A ban or timeout seen in the channel. Moderation risk uses recent bans (a live system sees
   * CLEARCHAT as it happens); call it in stream order, before the messages that follow it.
   */
  recordBan(channel: string, login: string, ts: number): void;
  /** Stored in `messages.enrich_version`, so rows scored by different versions can be told apart. */
  readonly version: string;
}

/** Neutral scores; used until `enrich/analysis/index.ts` is available. */
export function neutralAnalyzer(): Analyzer {
  const neutral: AnalyzeResult = { sentiment: 0, sentimentLabel: 0, toxicity: 0, modRisk: 0 };
  return { version: 'neutral-1', analyze: () => neutral, recordBan: () => {} };
}

const ANALYSIS_INDEX = path.join(path.dirname(fileURLToPath(import.meta.url)), 'analysis', 'index.ts');

const emoteScoresSchema = z.record(z.string().min(1).max(100), z.number().min(-1).max(1));

/**
 * The emote score file (`TWICHIST_EMOTE_SCORES`): name -> score in -1..1. Throws with the variable,
 * the file and the first problem, so a typo stops start-up instead of scoring silently without it.
 */
export function readEmoteScores(file: string): { scores: Record<string, number>; hash: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`TWICHIST_EMOTE_SCORES=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`TWICHIST_EMOTE_SCORES=${file}: not JSON (${(err as Error).message})`);
  }
  const r = emoteScoresSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`TWICHIST_EMOTE_SCORES=${file}: expected { "emote": score from -1 to 1, ... }; ${i.path.length ? `"${i.path.join('.')}": ` : ''}${i.message}`);
  }
  return { scores: r.data, hash: createHash('sha256').update(JSON.stringify(Object.entries(r.data).sort())).digest('hex').slice(0, 8) };
}

/**
 * Loads `enrich/analysis/index.ts` (`createAnalyzer`, `ANALYZER_VERSION`), or the neutral stand-in.
 * With `emoteScoresFile`, its scores override the lexicon's for those emotes and the version gains
 * `+emotes-<hash>` (stored rows show which scores they were made with); a bad file throws.
 */
export async function loadAnalyzer(logger: Logger, opts: { emoteScoresFile?: string | null } = {}): Promise<Analyzer> {
  const custom = opts.emoteScoresFile ? readEmoteScores(opts.emoteScoresFile) : null;
  if (!fs.existsSync(ANALYSIS_INDEX)) {
    logger.warn('enrich/analysis/index.ts not found: storing neutral sentiment/toxicity scores');
    return neutralAnalyzer();
  }
  try {
    const mod = (await import(pathToFileURL(ANALYSIS_INDEX).href)) as {
      createAnalyzer?: (o?: { extraEmoteScores?: Record<string, number> }) => Omit<Analyzer, 'version'> | Promise<Omit<Analyzer, 'version'>>;
      ANALYZER_VERSION?: string;
    };
    if (typeof mod.createAnalyzer !== 'function') throw new Error('no createAnalyzer export');
    const a = await mod.createAnalyzer(custom ? { extraEmoteScores: custom.scores } : {});
    const version = String(mod.ANALYZER_VERSION ?? 'analysis') + (custom ? `+emotes-${custom.hash}` : '');
    if (custom) logger.info({ file: opts.emoteScoresFile, emotes: Object.keys(custom.scores).length }, 'emote scores loaded');
    return { version, analyze: (i) => a.analyze(i), recordBan: (c, l, t) => a.recordBan(c, l, t) };
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'enrich/analysis failed to load: storing neutral scores');
    return neutralAnalyzer();
  }
}
