/**
 * Spherical k-means (cosine) with k-means++ seeding from a fixed-seed PRNG: the same vectors give
 * the same clusters on every run, which tests and re-computations rely on.
 */

import { mulberry32 } from '../../core/rng.ts';

export { mulberry32 };

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

function normalise(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v)) || 1;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/**
 * Clusters unit vectors into k groups; returns each vector's cluster index.
 * Cost: O(iterations * n * k * dims); for a 5-minute window of 2,000 messages, k = 8, 384 dims,
 * ~6 M multiply-adds per iteration (a few ms).
 */
export function sphericalKMeans(vectors: Float32Array[], k: number, opts: { seed?: number; maxIterations?: number } = {}): number[] {
  const n = vectors.length;
  if (n === 0) return [];
  k = Math.max(1, Math.min(k, n));
  const rand = mulberry32(opts.seed ?? 1);
  // k-means++: next centre drawn with probability proportional to its cosine distance to the nearest.
  const centres: Float32Array[] = [Float32Array.from(vectors[Math.floor(rand() * n)])];
  const nearest = new Float64Array(n).fill(Infinity);
  while (centres.length < k) {
    const last = centres[centres.length - 1];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i], Math.max(0, 1 - dot(vectors[i], last)));
      sum += nearest[i];
    }
    if (sum === 0) break; // fewer distinct vectors than k
    let r = rand() * sum;
    let pick = n - 1;
    for (let i = 0; i < n; i++) if ((r -= nearest[i]) <= 0) ((pick = i), (i = n));
    centres.push(Float32Array.from(vectors[pick]));
  }
  const assign = new Array<number>(n).fill(-1);
  for (let iter = 0; iter < (opts.maxIterations ?? 50); iter++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestSim = -Infinity;
      centres.forEach((c, j) => {
        const s = dot(vectors[i], c);
        if (s > bestSim) ((bestSim = s), (best = j));
      });
      if (assign[i] !== best) ((assign[i] = best), (changed = true));
    }
    if (!changed) break;
    const sums = centres.map((c) => new Float32Array(c.length));
    for (let i = 0; i < n; i++) {
      const s = sums[assign[i]];
      for (let d = 0; d < s.length; d++) s[d] += vectors[i][d];
    }
    // An emptied cluster keeps its old centre rather than becoming NaN.
    sums.forEach((s, j) => {
      if (s.some((x) => x !== 0)) centres[j] = normalise(s);
    });
  }
  return assign;
}
