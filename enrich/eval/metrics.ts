/** Classification and ranking metrics for the eval CLIs. */

export type Label3 = -1 | 0 | 1;
const CLASSES: readonly Label3[] = [-1, 0, 1];

export interface ClassMetrics {
  accuracy: number;
  macroF1: number;
  /** Per class (keys "-1", "0", "1"): precision, recall, F1, support. */
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  /** confusion[gold][predicted], keys "-1", "0", "1". */
  confusion: Record<string, Record<string, number>>;
  n: number;
}

export function classMetrics(gold: readonly Label3[], pred: readonly Label3[]): ClassMetrics {
  const confusion: Record<string, Record<string, number>> = {};
  for (const g of CLASSES) { confusion[g] = {}; for (const p of CLASSES) confusion[g][p] = 0; }
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    confusion[gold[i]][pred[i]]++;
    if (gold[i] === pred[i]) correct++;
  }
  const perClass: ClassMetrics['perClass'] = {};
  let f1sum = 0;
  for (const c of CLASSES) {
    const tp = confusion[c][c];
    let predN = 0, goldN = 0;
    for (const o of CLASSES) { predN += confusion[o][c]; goldN += confusion[c][o]; }
    const precision = predN ? tp / predN : 0;
    const recall = goldN ? tp / goldN : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[c] = { precision: round(precision), recall: round(recall), f1: round(f1), support: goldN };
    f1sum += f1;
  }
  return { accuracy: round(gold.length ? correct / gold.length : 0), macroF1: round(f1sum / 3), perClass, confusion, n: gold.length };
}

/** ROC AUC by the rank-sum (Mann-Whitney) formula with average ranks for ties. O(n log n). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0, nPos = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]]) { rankSumPos += avgRank; nPos++; }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function round(x: number, d = 4): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
