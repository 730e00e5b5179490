/**
 * The noncentral t distribution's CDF: the law of a t statistic when the true mean is not the tested one, so
 * the power of a t-test (power.ts) is one minus its mass inside the critical values.
 */

import { logGamma, regularizedIncompleteBeta } from "./stats.ts";
import { normalCdf } from "./normal.ts";

/** AS 243 stops when its error bound drops below this, or after this many terms. */
const MAX_ERROR = 1e-12;
const MAX_TERMS = 1000;

/**
 * Above this |delta|, exp(-delta^2 / 2) underflows and the series has nothing to start from (R's pnt uses
 * the same limit, 2 ln 2 * 1021 = delta^2).
 */
const SERIES_DELTA_LIMIT = Math.sqrt(2 * Math.LN2 * 1021);

/**
 * P(T <= t) for T noncentral t with `df` degrees of freedom and noncentrality `delta` (T = (Z + delta) /
 * sqrt(V / df), Z standard normal, V chi-square with df degrees of freedom).
 *
 * Lenth's AS 243 (Applied Statistics 38, 1989): Guenther's twin series of incomplete beta functions weighted
 * by Poisson probabilities, summed until the bound on what is left is below 1e-12; negative t by the symmetry
 * F(t; df, delta) = 1 - F(-t; df, -delta). Where exp(-delta^2 / 2) underflows (|delta| > 37.6) the series
 * cannot start, and the normal approximation of Abramowitz and Stegun 26.7.10 is used, as R does; there the
 * CDF is 0 or 1 to double precision unless t is near delta.
 */
export function noncentralTCdf(t: number, df: number, delta: number): number {
  if (!(df > 0) || Number.isNaN(t) || Number.isNaN(delta)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const negative = t < 0;
  const tt = negative ? -t : t, del = negative ? -delta : delta;
  const lower = Math.abs(del) > SERIES_DELTA_LIMIT
    ? farNoncentrality(tt, df, del)
    : guentherSeries(tt, df, del) + normalCdf(-del);
  const clamped = Math.min(1, Math.max(0, lower));
  return negative ? 1 - clamped : clamped;
}

/** AS 243's sum for t >= 0, without its Phi(-delta) term. */
function guentherSeries(t: number, df: number, delta: number): number {
  const x = t * t / (t * t + df);
  if (x <= 0) return 0;
  const lambda = delta * delta;
  // p: Poisson weights (halved), for the odd terms I_x(j + 1/2, df/2); q: the even terms' I_x(j + 1, df/2).
  let p = 0.5 * Math.exp(-0.5 * lambda);
  let q = Math.sqrt(2 / Math.PI) * p * delta;
  let s = 0.5 - p;
  let a = 0.5;
  const b = 0.5 * df;
  const rxb = Math.pow(1 - x, b);
  const logBeta = logGamma(a) + logGamma(b) - logGamma(a + b);
  let xOdd = regularizedIncompleteBeta(x, a, b);
  // Each g is the step from I_x(a, b) to I_x(a + 1, b): x^a (1 - x)^b / (a B(a, b)).
  let gOdd = 2 * rxb * Math.exp(a * Math.log(x) - logBeta);
  let xEven = 1 - rxb;
  let gEven = b * x * rxb;
  let sum = p * xOdd + q * xEven;
  for (let j = 1; j <= MAX_TERMS; j++) {
    a += 1;
    xOdd -= gOdd;
    xEven -= gEven;
    gOdd *= x * (a + b - 1) / a;
    gEven *= x * (a + b - 0.5) / (a + 0.5);
    p *= lambda / (2 * j);
    q *= lambda / (2 * j + 1);
    s -= p;
    sum += p * xOdd + q * xEven;
    // What is left is at most 2 s (xOdd - gOdd): the Poisson mass not yet used times the largest I_x left.
    if (2 * s * (xOdd - gOdd) <= MAX_ERROR) break;
  }
  return sum;
}

/** Abramowitz and Stegun 26.7.10: T is about normal with mean delta and variance 1 + t^2 / (2 df). */
function farNoncentrality(t: number, df: number, delta: number): number {
  const s = 1 / (4 * df);
  return normalCdf((t * (1 - s) - delta) / Math.sqrt(1 + t * t * 2 * s));
}
