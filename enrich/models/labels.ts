/**
 * Turns a classifier's logits into Twichist scores using the model's own `config.json` `id2label`,
 * so swapping in another sentiment/toxicity model needs no code change when its labels are named.
 */

export interface SentimentScores {
  negative: number;
  neutral: number;
  positive: number;
}

export interface ModelConfig {
  model_type?: string;
  id2label?: Record<string, string>;
  problem_type?: string;
  hidden_size?: number;
  dim?: number;
  vocab_size?: number;
}

function labelsOf(config: ModelConfig): string[] {
  const id2label = config.id2label ?? {};
  const n = Object.keys(id2label).length;
  return Array.from({ length: n }, (_, i) => String(id2label[String(i)] ?? `LABEL_${i}`).toLowerCase());
}

function softmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const exps = Array.from(row, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/**
 * Maps logits rows to negative/neutral/positive. Named labels (negative/neutral/positive, neg/pos,
 * SST-2's NEGATIVE/POSITIVE) are matched by name; anonymous LABEL_0..2 are read in the
 * cardiffnlp order (negative, neutral, positive), LABEL_0..1 as negative, positive.
 * A 2-label model has no neutral class: neutral is reported as 0.
 * @throws when the labels cannot be read as sentiment, so a wrong model fails at load, not silently.
 */
export function sentimentMapper(config: ModelConfig): (row: ArrayLike<number>) => SentimentScores {
  const labels = labelsOf(config);
  const index = { negative: -1, neutral: -1, positive: -1 };
  labels.forEach((l, i) => {
    if (/^(neg|negative)$/.test(l)) index.negative = i;
    else if (/^(neu|neutral)$/.test(l)) index.neutral = i;
    else if (/^(pos|positive)$/.test(l)) index.positive = i;
  });
  if (index.negative < 0 && index.positive < 0 && labels.every((l, i) => l === `label_${i}`)) {
    if (labels.length === 3) Object.assign(index, { negative: 0, neutral: 1, positive: 2 });
    else if (labels.length === 2) Object.assign(index, { negative: 0, positive: 1 });
  }
  if (index.negative < 0 || index.positive < 0 || (labels.length === 3 && index.neutral < 0) || labels.length > 3) {
    throw new Error(`cannot read labels ${JSON.stringify(labels)} as sentiment: expected negative/positive (and optionally neutral)`);
  }
  return (row) => {
    const p = softmax(row);
    return { negative: p[index.negative], neutral: index.neutral < 0 ? 0 : p[index.neutral], positive: p[index.positive] };
  };
}

/**
 * Maps logits rows to one toxicity probability in [0, 1]. Multi-label models (toxic-bert's six
 * Jigsaw labels) use sigmoid per label and report the maximum, so a threat that scores low on
 * the generic "toxic" label still counts; single-label models use the softmax probability of
 * the label named toxic (or LABEL_1 of an anonymous binary model).
 */
export function toxicityMapper(config: ModelConfig): (row: ArrayLike<number>) => number {
  const labels = labelsOf(config);
  const multi = config.problem_type === 'multi_label_classification' || (labels.length > 2 && labels.includes('toxic'));
  if (multi) {
    const clean = labels.map((l, i) => (/^(non[-_ ]?toxic|neutral|normal|not[-_ ]?toxic)$/.test(l) ? -1 : i)).filter((i) => i >= 0);
    return (row) => Math.max(...clean.map((i) => sigmoid(row[i])));
  }
  let toxic = labels.findIndex((l) => /^(toxic|toxicity|hate|offensive|label_1)$/.test(l));
  if (toxic < 0 && labels.length === 2) toxic = 1;
  if (toxic < 0) throw new Error(`cannot find a toxic label in ${JSON.stringify(labels)}`);
  return (row) => softmax(row)[toxic];
}
