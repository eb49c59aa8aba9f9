/**
 * The per-message scoring interface enrich calls. The real implementation is the sentiment engineer's
 * `enrich/analysis/index.ts` (`createAnalyzer()`); it is loaded at run time so this stage works (with
 * neutral scores, marked by its version) before that module exists or if it fails to load.
 */
import fs from 'node:fs';
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

/** Loads `enrich/analysis/index.ts` (`createAnalyzer`, `ANALYZER_VERSION`), or the neutral stand-in. */
export async function loadAnalyzer(logger: Logger): Promise<Analyzer> {
  if (!fs.existsSync(ANALYSIS_INDEX)) {
    logger.warn('enrich/analysis/index.ts not found: storing neutral sentiment/toxicity scores');
    return neutralAnalyzer();
  }
  try {
    const mod = (await import(pathToFileURL(ANALYSIS_INDEX).href)) as {
      createAnalyzer?: () => Omit<Analyzer, 'version'> | Promise<Omit<Analyzer, 'version'>>;
      ANALYZER_VERSION?: string;
    };
    if (typeof mod.createAnalyzer !== 'function') throw new Error('no createAnalyzer export');
    const a = await mod.createAnalyzer();
    const version = String(mod.ANALYZER_VERSION ?? 'analysis');
    return { version, analyze: (i) => a.analyze(i), recordBan: (c, l, t) => a.recordBan(c, l, t) };
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'enrich/analysis failed to load: storing neutral scores');
    return neutralAnalyzer();
  }
}
