// A paper claim's effect measured over seeds: the per-seed values of a claim row (paired differences, ratios or
// plain numbers), their mean with a 95% Student-t interval, the verdict against the paper's direction and the
// smallest effect a run of this size could detect. The statistics are src/math/stats.ts; this module decides
// what they are applied to.

import type { PaperFigure } from "../paper/claims.ts";
import { minimalDetectableEffect, tInterval, verdict } from "../math/stats.ts";
import type { Verdict } from "../math/stats.ts";

/**
 * `not measured`: no seed gave a finite number (e.g. no ImageNet). `no direction`: the paper's figure is an
 * absolute number, not an effect with a direction. `not tested`: the figure has no unbiased test here (its
 * `untestable` reason says why).
 */
export type ClaimVerdict = Verdict | "not measured" | "no direction" | "not tested";

export const CONFIDENCE = 0.95;
export const POWER = 0.8;

export interface ClaimEffect {
  /** The seeds that gave a finite value (for a difference or ratio: both arms did), in seed order. */
  seeds: number[];
  /** The value of each of those seeds, in the row's unit (after `multiply`). */
  perSeed: number[];
  /** Mean over seeds; for a ratio the geometric mean (the mean on the log scale, exponentiated). */
  mean: number | null;
  /** The 95% t-interval of the mean (a ratio's: exp of the log-scale interval); null below two seeds. */
  low: number | null;
  high: number | null;
  /**
   * Smallest true effect detectable with 80% power by a paired t-test at 5% with this spread and these seeds:
   * for differences in the row's unit; for ratios a factor (1.3 = a ratio 30% away from 1). Null below two.
   */
  detectable: number | null;
  verdict: ClaimVerdict;
}

/** Ratios are compared on a log scale: log(a/b) is a difference, so "no effect" is 0 and the interval symmetric. */
export function onLogScale(kind: string): boolean {
  return kind === "ratio";
}

/**
 * The effect of one claim row from each seed's value. `kind` and `direction` come from the paper's figure; a
 * difference's value per seed is already a - b of that seed (paired), a ratio's a / b.
 */
export function measureClaimEffect(
  figure: Pick<PaperFigure, "kind" | "direction" | "untestable">,
  values: ReadonlyMap<number, number>,
): ClaimEffect {
  const log = onLogScale(figure.kind);
  const usable = [...values].filter(([, value]) => Number.isFinite(value) && (!log || value > 0))
    .sort(([a], [b]) => a - b);
  const seeds = usable.map(([seed]) => seed), perSeed = usable.map(([, value]) => value);
  if (perSeed.length === 0) {
    return { seeds, perSeed, mean: null, low: null, high: null, detectable: null, verdict: "not measured" };
  }
  const interval = tInterval(log ? perSeed.map(Math.log) : perSeed, CONFIDENCE);
  const back = (x: number) => (log ? Math.exp(x) : x);
  const finiteOrNull = (x: number) => (Number.isFinite(x) ? back(x) : null);
  const mde = minimalDetectableEffect(interval, POWER);
  return {
    seeds,
    perSeed,
    mean: back(interval.mean),
    low: finiteOrNull(interval.low),
    high: finiteOrNull(interval.high),
    detectable: finiteOrNull(mde),
    verdict: figure.untestable
      ? "not tested"
      : figure.direction && figure.kind !== "absolute"
      ? verdict(interval, figure.direction)
      : "no direction",
  };
}

/** A stage's own estimate with its interval (e.g. a jackknife over an ensemble's nets), not per-seed values. */
export interface GivenEstimate {
  value: number;
  low: number;
  high: number;
  /** How many units (nets, seeds) the interval rests on. */
  n: number;
  method: string;
  /** The seeds of those units, where they are seeds (an ensemble's members). */
  seeds?: number[];
}

/** The effect of a claim row whose stage computed estimate and interval itself; its verdict reads the interval. */
export function givenClaimEffect(
  figure: Pick<PaperFigure, "kind" | "direction" | "untestable">,
  given: GivenEstimate,
  multiply = 1,
): ClaimEffect {
  const [mean, low, high] = [given.value, given.low, given.high].map((x) => x * multiply);
  const finite = [mean, low, high].every(Number.isFinite);
  const interval = {
    n: given.n,
    mean,
    sd: NaN,
    level: CONFIDENCE,
    halfWidth: (high - low) / 2,
    low,
    high,
  };
  return {
    seeds: given.seeds ?? [],
    perSeed: [],
    mean: Number.isFinite(mean) ? mean : null,
    low: finite ? low : null,
    high: finite ? high : null,
    detectable: null,
    verdict: !Number.isFinite(mean)
      ? "not measured"
      : figure.untestable
      ? "not tested"
      : figure.direction && figure.kind !== "absolute"
      ? verdict(interval, figure.direction)
      : "no direction",
  };
}

/** One line describing how the interval and the detectable effect were computed, said once per page. */
export const CI_METHOD = `${100 * CONFIDENCE}% Student-t interval over seeds, of the per-seed paired ` +
  `differences (arm a minus arm b trained with the same seed); ratios on a log scale (geometric mean, ` +
  `interval exp(mean log ± t·s/√n))`;

export const DETECTABLE_METHOD = `(t(0.975, n-1) + t(0.80, n-1))·s/√n: the true effect a paired t-test at ` +
  `the 5% level finds with ${
    100 * POWER
  }% power given the spread s seen over the n seeds (for ratios, a factor ` +
  `on the log scale)`;

export const VERDICT_RULE =
  "held: the interval excludes no-effect (0, or a ratio of 1) on the paper's side; " +
  "contradicted: it excludes it on the other side; inconclusive: it contains it; inconclusive (1 seed): one " +
  "seed gives no interval";
