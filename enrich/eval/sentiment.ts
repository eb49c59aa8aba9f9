/**
 * Sentiment eval: `npm run eval:sentiment -- <csv> [--split all|tune|heldout] [--table]`
 *
 * Prints JSON with accuracy, macro-F1, per-class figures and the confusion matrix (gold rows x
 * predicted columns) for the Twichist analyzer and two baselines on the same rows: the English lexicon
 * alone (AFINN through natural) and the hand emote lexicon alone. `--split` selects the dev set's fixed
 * 70% tuning / 30% held-out parts (row index % 10 >= 7 is held out); default all rows.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../cli/command.ts';
import { runEvalCli } from './cli.ts';
import { readLabelledCsv, isHeldOut, type LabelledRow } from './csv.ts';
import { isPointerCsv, resolvePointerCsv } from './chat-sources.ts';
import { classMetrics, type Label3 } from './metrics.ts';
import { emoteOnlyLabel, englishOnlyLabel, scoreSentiment } from '../analysis/sentiment.ts';

export interface SentimentEvalResult {
  file: string;
  split: string;
  n: number;
  skipped: number;
  twichist: ReturnType<typeof classMetrics>;
  baselines: { englishLexicon: ReturnType<typeof classMetrics>; emoteLexicon: ReturnType<typeof classMetrics>; alwaysPositive: { accuracy: number }; alwaysNeutral: { accuracy: number } };
}

/** The shared chat folder next to the repository, where pointer CSVs resolve their texts. */
export const SHARED_DATA = resolve(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'data');

/** Labelled rows of a `sentiment,message` CSV, or of a `sentiment,source,index,sha1` pointer CSV resolved against `data`. */
export function loadLabelledRows(content: string, data = SHARED_DATA): { rows: LabelledRow[]; skipped: number } {
  return isPointerCsv(content) ? { rows: resolvePointerCsv(content, data), skipped: 0 } : readLabelledCsv(content);
}

/** Scores every row of a `sentiment,message` CSV text (or a pointer CSV, see {@link loadLabelledRows}). */
export function evalSentimentCsv(content: string, split: 'all' | 'tune' | 'heldout' = 'all', file = '<memory>'): SentimentEvalResult {
  const { rows: all, skipped } = loadLabelledRows(content);
  const rows = all.filter((_, i) => split === 'all' || (split === 'heldout') === isHeldOut(i));
  const gold = rows.map((r) => r.sentiment);
  const ours: Label3[] = rows.map((r) => scoreSentiment(r.message).label);
  const eng: Label3[] = rows.map((r) => englishOnlyLabel(r.message));
  const emo: Label3[] = rows.map((r) => emoteOnlyLabel(r.message));
  const share = (v: number) => Math.round((gold.filter((g) => g === v).length / Math.max(1, gold.length)) * 10000) / 10000;
  return {
    file, split, n: rows.length, skipped,
    twichist: classMetrics(gold, ours),
    baselines: {
      englishLexicon: classMetrics(gold, eng),
      emoteLexicon: classMetrics(gold, emo),
      alwaysPositive: { accuracy: share(1) },
      alwaysNeutral: { accuracy: share(0) },
    },
  };
}

function table(r: SentimentEvalResult): string {
  const c = r.twichist.confusion;
  const line = (g: string) => `gold ${g.padStart(2)} | ${['-1', '0', '1'].map((p) => String(c[g][p]).padStart(5)).join(' ')}`;
  return [
    `${r.file} (${r.split}, n=${r.n})`,
    `twichist        accuracy ${r.twichist.accuracy.toFixed(4)}  macro-F1 ${r.twichist.macroF1.toFixed(4)}`,
    `english lexicon accuracy ${r.baselines.englishLexicon.accuracy.toFixed(4)}  macro-F1 ${r.baselines.englishLexicon.macroF1.toFixed(4)}`,
    `emote lexicon   accuracy ${r.baselines.emoteLexicon.accuracy.toFixed(4)}  macro-F1 ${r.baselines.emoteLexicon.macroF1.toFixed(4)}`,
    `always positive accuracy ${r.baselines.alwaysPositive.accuracy.toFixed(4)}; always neutral ${r.baselines.alwaysNeutral.accuracy.toFixed(4)}`,
    `confusion (twichist)  pred:  -1     0     1`,
    line('-1'), line('0'), line('1'),
  ].join('\n');
}

if (import.meta.main) {
  const usage = 'usage: npm run eval:sentiment -- <csv with sentiment,message> [--split all|tune|heldout] [--table]';
  await runEvalCli(usage, { split: { type: 'string', default: 'all' }, table: { type: 'boolean', default: false } }, ({ values, positionals }) => {
    const file = positionals[0];
    const split = values.split as 'all' | 'tune' | 'heldout';
    if (!file) throw new UsageError('no CSV file given');
    if (!['all', 'tune', 'heldout'].includes(split)) throw new UsageError(`--split must be all, tune or heldout, not ${split}`);
    const r = evalSentimentCsv(readFileSync(file, 'utf8'), split, file);
    console.log(values.table ? table(r) : JSON.stringify(r, null, 2));
  });
}
