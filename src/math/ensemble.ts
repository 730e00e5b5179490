/**
 * Table 2's ensemble effect from the class probabilities of K independently trained nets: the error of their
 * averaged softmax minus the mean error of the members, with a jackknife interval over the nets (each net left
 * out in turn), since the K members are the random draws and the ensemble is built from all of them.
 */
import { studentTQuantile } from "./stats.ts";

/** Top-k error of probability rows (n rows of `classes`) against integer labels. */
export function topKError(probs: Float32Array, classes: number, labels: Int32Array, k: number): number {
  const n = labels.length;
  if (probs.length !== n * classes) throw new Error(`topKError: ${probs.length} values for ${n}x${classes}`);
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    const truth = row[labels[i]];
    // Ties count against the true class, so a constant output is never "right".
    let above = 0;
    for (let c = 0; c < classes; c++) if (c !== labels[i] && row[c] >= truth) above++;
    if (above >= k) wrong++;
  }
  return wrong / n;
}

/** The elementwise mean of equally shaped probability arrays. */
export function averageProbs(members: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(members[0].length);
  for (const m of members) for (let i = 0; i < out.length; i++) out[i] += m[i];
  for (let i = 0; i < out.length; i++) out[i] /= members.length;
  return out;
}

/** A jackknife interval of a statistic θ from its leave-one-out values θ_(i). */
export interface JackknifeInterval {
  estimate: number;
  /** sqrt((K-1)/K · Σ (θ_(i) − mean θ_(·))²). */
  se: number;
  low: number;
  high: number;
  n: number;
  level: number;
}

export function jackknifeInterval(
  estimate: number,
  leaveOneOut: readonly number[],
  level = 0.95,
): JackknifeInterval {
  const n = leaveOneOut.length;
  if (n < 2) return { estimate, se: NaN, low: NaN, high: NaN, n, level };
  const mean = leaveOneOut.reduce((a, b) => a + b, 0) / n;
  const se = Math.sqrt(((n - 1) / n) * leaveOneOut.reduce((a, x) => a + (x - mean) ** 2, 0));
  const half = studentTQuantile((1 + level) / 2, n - 1) * se;
  return { estimate, se, low: estimate - half, high: estimate + half, n, level };
}

export interface EnsembleEffect {
  /** Each member's error, in member order. */
  members: number[];
  /** The error of the averaged softmax of all members. */
  ensemble: number;
  /** ensemble − mean(members): negative when the ensemble is better. */
  effect: number;
  /** The same effect with each member left out in turn (ensembles of K − 1). */
  leaveOneOut: number[];
  interval: JackknifeInterval;
}

/** The ensemble effect on top-k error, with its jackknife interval over the members. */
export function ensembleEffect(
  members: readonly Float32Array[],
  classes: number,
  labels: Int32Array,
  k: number,
  level = 0.95,
): EnsembleEffect {
  if (members.length < 2) throw new Error(`an ensemble needs at least 2 members, got ${members.length}`);
  const errors = members.map((m) => topKError(m, classes, labels, k));
  const effectOf = (keep: number[]) =>
    topKError(averageProbs(keep.map((i) => members[i])), classes, labels, k) -
    keep.reduce((a, i) => a + errors[i], 0) / keep.length;
  const all = members.map((_, i) => i);
  const ensemble = topKError(averageProbs(members), classes, labels, k);
  const effect = ensemble - errors.reduce((a, b) => a + b, 0) / errors.length;
  const leaveOneOut = members.length > 2 ? all.map((out) => effectOf(all.filter((i) => i !== out))) : [];
  return {
    members: errors,
    ensemble,
    effect,
    leaveOneOut,
    interval: jackknifeInterval(effect, leaveOneOut, level),
  };
}

/** How the interval is computed, said on the page. */
export const ENSEMBLE_INTERVAL_METHOD = "jackknife over the K nets: each net left out in turn, " +
  "SE = sqrt((K-1)/K · Σ(θ_(i) − θ̄)²), interval θ ± t(0.975, K-1)·SE, where θ is the ensemble's error minus " +
  "the mean error of its members";
