/**
 * Small-sample statistics for effects measured over a few seeds: mean, sample standard deviation, Student-t
 * quantiles, the 95% t-interval of a mean (used on paired differences), the verdict of a directional claim
 * and the smallest effect a run of this size could detect.
 *
 * Pure functions on plain numbers, so they are checked against printed tables (tests/stats.test.ts).
 */

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  // Summed as offsets from the first value, so equal values give exactly that value (and a spread of 0).
  let sum = 0;
  for (const x of xs) sum += x - xs[0];
  return xs[0] + sum / xs.length;
}

/** Sample standard deviation (n - 1 in the denominator); NaN below two values, where it is not defined. */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let squares = 0;
  for (const x of xs) squares += (x - m) ** 2;
  return Math.sqrt(squares / (xs.length - 1));
}

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz), valid for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x),
  );
  // The fraction converges fast on one side of the mean; use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a).
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) return NaN;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom: the t with P(T <= t) = p. Found by bisection on
 * the CDF (monotone), so it is as exact as the incomplete beta function (about 12 digits).
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0) || !(p > 0 && p < 1)) return NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0, hi = 1;
  while (studentTCdf(hi, df) < p) {
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A mean with its two-sided t confidence interval; the interval fields are NaN below two values. */
export interface MeanInterval {
  n: number;
  mean: number;
  sd: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** t_{(1+level)/2, n-1} * sd / sqrt(n). 0 when every value is equal (the interval is a point). */
  halfWidth: number;
  low: number;
  high: number;
}

/** The Student-t interval of the mean of `xs` (two-sided, `level` 0.95 by default). */
export function tInterval(xs: readonly number[], level = 0.95): MeanInterval {
  const n = xs.length, m = mean(xs), sd = sampleSd(xs);
  const halfWidth = n < 2 ? NaN : studentTQuantile((1 + level) / 2, n - 1) * sd / Math.sqrt(n);
  return { n, mean: m, sd, level, halfWidth, low: m - halfWidth, high: m + halfWidth };
}

/**
 * Per-pair differences a_i - b_i. Pairs share everything random (a seed): the arms' common noise cancels, so
 * the interval of these differences is narrower than one built from the two arms separately.
 */
export function pairedDifferences(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) {
    throw new Error(`paired values need equal lengths, got ${a.length} and ${b.length}`);
  }
  return a.map((x, i) => x - b[i]);
}

/** The t-interval of the paired differences a_i - b_i. */
export function pairedDifferenceInterval(
  a: readonly number[],
  b: readonly number[],
  level = 0.95,
): MeanInterval {
  return tInterval(pairedDifferences(a, b), level);
}

export type Direction = "increase" | "decrease";

export type Verdict = "held" | "contradicted" | "inconclusive" | "inconclusive (1 seed)";

/**
 * A directional claim's verdict from the interval of its effect (an effect of 0 meaning "no effect"):
 * held when the interval excludes 0 on the claim's side, contradicted when it excludes 0 on the other side,
 * inconclusive when it contains 0. One value has no interval: "inconclusive (1 seed)".
 */
export function verdict(interval: MeanInterval, direction: Direction): Verdict {
  if (interval.n < 2 || !Number.isFinite(interval.halfWidth)) {
    return interval.n < 2 ? "inconclusive (1 seed)" : "inconclusive";
  }
  const sign = direction === "increase" ? 1 : -1;
  if (sign * interval.low > 0 && sign * interval.high > 0) return "held";
  if (sign * interval.low < 0 && sign * interval.high < 0) return "contradicted";
  return "inconclusive";
}

/**
 * The smallest true effect a paired t-test over these n values detects with the given power (two-sided,
 * level `level`): (t_{(1+level)/2, n-1} + t_{power, n-1}) * sd / sqrt(n), the usual normal-theory
 * approximation with t quantiles for the small n. NaN below two values (no spread is known). With the
 * defaults (95%, 80% power) it is about 1.4 times the interval's half-width for 3 seeds.
 */
export function minimalDetectableEffect(interval: MeanInterval, power = 0.8): number {
  const { n, sd, level } = interval;
  if (n < 2) return NaN;
  const df = n - 1;
  return (studentTQuantile((1 + level) / 2, df) + studentTQuantile(power, df)) * sd / Math.sqrt(n);
}
