/**
 * The power of a two-sided paired (one-sample) t-test and the number of pairs it needs to reach a power: how
 * many seeds would decide a claim, given the spread its seeds showed.
 */

import { noncentralTCdf } from "./noncentral_t.ts";
import { normalQuantile } from "./normal.ts";
import { studentTQuantile } from "./stats.ts";

export interface PowerOptions {
  /** Two-sided significance level; default 0.05. */
  alpha?: number;
  /** Power to reach; default 0.8. */
  power?: number;
}

/**
 * The power of a two-sided one-sample t-test on n values (the paired differences) at level `alpha` when the
 * true mean is `standardizedEffect` standard deviations from 0: P(|T| > t_{1-alpha/2, n-1}) with T noncentral
 * t, n - 1 degrees of freedom, noncentrality standardizedEffect * sqrt(n). NaN below two values.
 */
export function pairedTTestPower(n: number, standardizedEffect: number, alpha = 0.05): number {
  if (!(n >= 2) || Number.isNaN(standardizedEffect)) return NaN;
  const df = n - 1;
  const critical = studentTQuantile(1 - alpha / 2, df);
  const noncentrality = standardizedEffect * Math.sqrt(n);
  return 1 - noncentralTCdf(critical, df, noncentrality) + noncentralTCdf(-critical, df, noncentrality);
}

/**
 * The smallest n >= 2 whose paired t-test reaches the power (default 80% at alpha 0.05) for an effect of
 * `standardizedEffect` standard deviations; null when even `cap` pairs do not (an effect of 0 never does).
 * Power grows with n, so the n is found by bisection between 2 and `cap`.
 */
export function pairedTTestSampleSize(
  standardizedEffect: number,
  cap: number,
  options: PowerOptions = {},
): number | null {
  const { alpha = 0.05, power = 0.8 } = options;
  const reaches = (n: number) => pairedTTestPower(n, Math.abs(standardizedEffect), alpha) >= power;
  if (!Number.isFinite(standardizedEffect) || cap < 2 || !reaches(cap)) return null;
  let lo = 1, hi = cap; // lo fails (or is below 2), hi reaches
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid >= 2 && reaches(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The normal approximation of that n, ((z_{1-alpha/2} + z_{power}) / standardizedEffect)^2, unrounded: the
 * textbook formula, which ignores that s is estimated and so comes out a little below the t-test's n.
 */
export function normalApproximationSampleSize(
  standardizedEffect: number,
  options: PowerOptions = {},
): number {
  const { alpha = 0.05, power = 0.8 } = options;
  return ((normalQuantile(1 - alpha / 2) + normalQuantile(power)) / standardizedEffect) ** 2;
}
