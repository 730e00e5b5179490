// Figure 4's measure over a whole test set: for every test image, the share of its k nearest training images
// (Euclidean distance) that have its class, averaged, once in a net's feature space and once in raw pixels.
// The figure's few queries are a picture; this is the number a seed-to-seed interval can be put on.

import type { ImageSet } from "../data/types.ts";

/** The k smallest of `distances` (ties: the lower index first), as indices. */
function smallest(distances: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < distances.length; i++) {
    const d = distances[i];
    if (best.length === k && d >= distances[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && distances[best[at - 1]] > d) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Squared norms of `count` rows of `dim` values. */
function norms(rows: ArrayLike<number>, count: number, dim: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) s += rows[j] * rows[j];
    out[i] = s;
  }
  return out;
}

/**
 * Mean over queries of the share of each query's k nearest rows whose label is the query's. Rows and queries
 * are `dim` values each; distances are |q|^2 + |r|^2 - 2 q.r in float64 (exact for byte pixels, whose sums
 * stay below 2^53).
 */
export function sameClassShare(
  rows: ArrayLike<number>,
  rowLabels: ArrayLike<number>,
  queries: ArrayLike<number>,
  queryLabels: ArrayLike<number>,
  dim: number,
  k: number,
): number {
  const n = rowLabels.length, m = queryLabels.length;
  if (n < k) throw new Error(`nearest-neighbour share: ${n} rows, fewer than k = ${k}`);
  if (m === 0) throw new Error("nearest-neighbour share: no queries");
  const rowNorms = norms(rows, n, dim), queryNorms = norms(queries, m, dim);
  // Four queries per pass over the rows: each row value is loaded once for four products.
  const distances = Array.from({ length: QUERY_BLOCK }, () => new Float64Array(n));
  let total = 0;
  for (let q0 = 0; q0 < m; q0 += QUERY_BLOCK) {
    // A short last block repeats its last query; the repeats are not counted.
    const at = (b: number) => Math.min(q0 + b, m - 1);
    const [a0, a1, a2, a3] = [at(0) * dim, at(1) * dim, at(2) * dim, at(3) * dim];
    const [n0, n1, n2, n3] = [queryNorms[at(0)], queryNorms[at(1)], queryNorms[at(2)], queryNorms[at(3)]];
    const [d0, d1, d2, d3] = distances;
    for (let i = 0; i < n; i++) {
      const rb = i * dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < dim; j++) {
        const r = rows[rb + j];
        s0 += queries[a0 + j] * r;
        s1 += queries[a1 + j] * r;
        s2 += queries[a2 + j] * r;
        s3 += queries[a3 + j] * r;
      }
      const rowNorm = rowNorms[i];
      d0[i] = n0 + rowNorm - 2 * s0;
      d1[i] = n1 + rowNorm - 2 * s1;
      d2[i] = n2 + rowNorm - 2 * s2;
      d3[i] = n3 + rowNorm - 2 * s3;
    }
    for (let b = 0; b < QUERY_BLOCK && q0 + b < m; b++) {
      const label = queryLabels[q0 + b];
      total += smallest(distances[b], k).filter((i) => rowLabels[i] === label).length / k;
    }
  }
  return total / m;
}

const QUERY_BLOCK = 4;

/** sameClassShare of every test image among the training images, by raw pixels (as stored). */
export function pixelSameClassShare(train: ImageSet, test: ImageSet, k: number): number {
  const dim = train.channels * train.height * train.width;
  if (dim !== test.channels * test.height * test.width) {
    throw new Error(
      `pixel neighbours: training images are ${train.channels}x${train.height}x${train.width}, test images ` +
        `${test.channels}x${test.height}x${test.width}`,
    );
  }
  return sameClassShare(train.pixels, train.labels, test.pixels, test.labels, dim, k);
}
