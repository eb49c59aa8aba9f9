/**
 * Public API of the model-free chat analysis used by the enrich stage: sentiment (emote + English
 * lexicons + a small learned model), toxicity (lexicon) and moderation risk (stateful spam/user model).
 * See docs/sentiment.md.
 */
import { buildEmoteMap, EMOTE_LEXICON_VERSION } from './lexicon.ts';
import { LEARNED_MODEL_VERSION, lexical, combine, toLabel, newLexicalParts } from './sentiment.ts';
import { toxicity } from './toxicity.ts';
import { ModerationState, type ModerationOptions, type Badges } from './moderation-risk.ts';
import moderationModel from './moderation-model.json' with { type: 'json' };

export { scoreSentiment, blendSentiment, MODEL_BLEND_WEIGHT, POSITIVE_THRESHOLD, NEGATIVE_THRESHOLD } from './sentiment.ts';
export { toxicity } from './toxicity.ts';
export { ModerationState } from './moderation-risk.ts';
export type { ModerationOptions } from './moderation-risk.ts';

export interface AnalysisInput {
  channel: string;
  userId: string | null;
  login: string;
  text: string;
  /** Message time, ms since the epoch. Moderation state windows use it, not the wall clock. */
  ts: number;
  /** Emotes already recognised in the text, native and third-party (may be empty). */
  emoteNames: string[];
  /**
   * The author's badges (IRC `badges` tag; `null` when unknown). Moderation risk reads their standing:
   * moderators and the broadcaster cannot be timed out by moderators, subscribers are less often.
   */
  badges?: Badges | null;
  /** A /me message (IRC ACTION): channels time out coloured text far more often (a moderation feature). */
  action?: boolean;
  /** Also return {@link AnalysisResult.modRiskWith} (for a caller that will know a model's toxicity later). */
  keepModInputs?: boolean;
}

export interface AnalysisResult {
  /** -1..1 */
  sentiment: number;
  sentimentLabel: -1 | 0 | 1;
  /** 0..1 */
  toxicity: number;
  /** 0..1 */
  modRisk: number;
  /** With `keepModInputs`: the moderation risk for another toxicity value, all else as scored. */
  modRiskWith?: (toxicity: number) => number;
}

/** Options for {@link createAnalyzer}. */
export interface AnalyzerOptions {
  /**
   * Emote name -> sentiment score in -1..1 (clamped), e.g. a channel's own emotes. Overrides the
   * built-in lexicon for those names. Building the map costs one copy of the lexicon (~1k entries).
   */
  extraEmoteScores?: Record<string, number>;
  /** Bounds of the moderation state; defaults: 100,000 users, 50,000 texts, 200,000 words, 5 min window (about 130 MB at most: docs/sentiment.md, "State"). */
  moderation?: ModerationOptions;
}

/**
 * Version of the whole analysis (lexicon + learned model + moderation model): store it next to the
 * scores so a re-score after a lexicon change is detectable.
 */
export const ANALYZER_VERSION: string = `lex-${EMOTE_LEXICON_VERSION}+sent-${LEARNED_MODEL_VERSION}+mod-${(moderationModel as { version: string }).version}`;

/**
 * Creates an analyzer. It holds moderation state (per channel, bounded), so use one per process and
 * feed it messages in time order. Not safe to share across worker threads.
 */
export function createAnalyzer(opts: AnalyzerOptions = {}): {
  analyze(input: AnalysisInput): AnalysisResult;
  /**
   * Optional: a ban or timeout of `login` in `channel` at `ts` (Twitch CLEARCHAT with a login). Call it in
   * time order with the messages; later moderation risk then sees the channel's ban rate, repeat
   * offenders and texts just sent by banned users (docs/sentiment.md). Without it those features read
   * "no recent bans" and the model scores as measured with `eval:moderation --no-bans`.
   */
  recordBan(channel: string, login: string, ts: number): void;
} {
  const emotes = opts.extraEmoteScores ? buildEmoteMap(opts.extraEmoteScores) : undefined;
  const mod = new ModerationState(opts.moderation);
  const parts = newLexicalParts();
  const lexOpts: { emotes?: ReadonlyMap<string, number>; emoteNames?: readonly string[] } = { emotes };
  return {
    analyze(input: AnalysisInput): AnalysisResult {
      lexOpts.emoteNames = input.emoteNames;
      const score = combine(lexical(input.text, lexOpts, parts));
      // computed once: it is also a moderation feature
      const tox = toxicity(input.text);
      const result: AnalysisResult = { sentiment: score, sentimentLabel: toLabel(score), toxicity: tox, modRisk: 0 };
      // keyed by login, as in training: the login's own toxicity is a feature (a numeric id has none)
      const login = input.login.toLowerCase(), badges = input.badges ?? null;
      if (input.keepModInputs) {
        const r = mod.scoreRescorable(input.channel, login, input.text, input.ts, { emoteNames: input.emoteNames, toxicity: tox, badges, action: input.action });
        result.modRisk = r.risk;
        result.modRiskWith = r.withToxicity;
      } else {
        result.modRisk = mod.score(input.channel, login, input.text, input.ts, { emoteNames: input.emoteNames, toxicity: tox, badges, action: input.action });
      }
      return result;
    },
    recordBan(channel: string, login: string, ts: number): void {
      mod.ban(channel, login.toLowerCase(), ts);
    },
  };
}
