import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  logGamma,
  mean,
  minimalDetectableEffect,
  pairedDifferenceInterval,
  regularizedIncompleteBeta,
  sampleSd,
  studentTCdf,
  studentTQuantile,
  tInterval,
  verdict,
} from "../src/math/stats.ts";

Deno.test("mean and sample standard deviation (n - 1)", () => {
  assertEquals(mean([1, 2, 3, 4]), 2.5);
  assertAlmostEquals(sampleSd([2, 4, 4, 4, 5, 5, 7, 9]), 2.138089935299395, 1e-12);
  assert(Number.isNaN(mean([])));
  assert(Number.isNaN(sampleSd([3])), "one value has no sample spread");
  assertEquals(sampleSd([5, 5, 5]), 0);
});

Deno.test("log-gamma and the regularized incomplete beta function match known values", () => {
  assertAlmostEquals(logGamma(1), 0, 1e-13);
  assertAlmostEquals(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13);
  assertAlmostEquals(logGamma(10), Math.log(362880), 1e-11);
  // I_x(1, 1) = x; I_x(a, 1) = x^a; I_0.5(a, a) = 0.5.
  assertAlmostEquals(regularizedIncompleteBeta(0.3, 1, 1), 0.3, 1e-13);
  assertAlmostEquals(regularizedIncompleteBeta(0.7, 3, 1), 0.343, 1e-13);
  assertAlmostEquals(regularizedIncompleteBeta(0.5, 4.5, 4.5), 0.5, 1e-13);
});

Deno.test("Student-t quantiles match the printed table", () => {
  // Two-sided 95% (p = 0.975) for 1, 2, 4, 9, 30 degrees of freedom, and a few others.
  const table: [number, number, number][] = [
    [0.975, 1, 12.706],
    [0.975, 2, 4.303],
    [0.975, 4, 2.776],
    [0.975, 9, 2.262],
    [0.975, 30, 2.042],
    [0.995, 5, 4.032],
    [0.8, 2, 1.061],
    [0.8, 4, 0.941],
    [0.95, 10, 1.812],
  ];
  for (const [p, df, expected] of table) {
    assertAlmostEquals(studentTQuantile(p, df), expected, 5e-4, `t(${p}, ${df})`);
  }
  // Cauchy (df = 1) has a closed form: tan(pi (p - 1/2)).
  assertAlmostEquals(studentTQuantile(0.975, 1), Math.tan(Math.PI * 0.475), 1e-9);
  assertAlmostEquals(studentTQuantile(0.025, 4), -studentTQuantile(0.975, 4), 1e-12);
  assertEquals(studentTQuantile(0.5, 3), 0);
  // Large df tends to the normal quantile 1.959964.
  assertAlmostEquals(studentTQuantile(0.975, 1e6), 1.959964, 1e-5);
  assertAlmostEquals(studentTCdf(studentTQuantile(0.9, 7), 7), 0.9, 1e-12);
  assert(Number.isNaN(studentTQuantile(0.975, 0)));
  assert(Number.isNaN(studentTQuantile(1, 3)));
});

Deno.test("the t-interval of a mean: width from the t quantile, degenerate cases named", () => {
  const interval = tInterval([1, 2, 3]);
  assertEquals(interval.n, 3);
  assertEquals(interval.mean, 2);
  assertAlmostEquals(interval.halfWidth, 4.302653 * 1 / Math.sqrt(3), 1e-5);
  assertAlmostEquals(interval.low, 2 - interval.halfWidth, 1e-12);

  const single = tInterval([0.7]);
  assertEquals(single.mean, 0.7);
  assert(Number.isNaN(single.halfWidth) && Number.isNaN(single.low), "one seed has no interval");

  const constant = tInterval([0.4, 0.4, 0.4]);
  assertEquals([constant.halfWidth, constant.low, constant.high], [0, 0.4, 0.4]);
});

Deno.test("paired differences cancel what the arms share", () => {
  // Each seed shifts both arms alike; the paired effect is exactly -1 every time.
  const withChoice = [10, 14, 9], without = [11, 15, 10];
  const paired = pairedDifferenceInterval(withChoice, without);
  assertEquals([paired.mean, paired.halfWidth], [-1, 0]);
  assertThrows(() => pairedDifferenceInterval([1, 2], [1]), Error, "equal lengths");
});

Deno.test("verdicts: held on the paper's side, contradicted on the other, inconclusive across 0", () => {
  const below = tInterval([-2, -1.5, -1]); // entirely below 0
  const above = tInterval([1, 1.5, 2]);
  const across = tInterval([-1, 0.5, 1]);
  assertEquals(verdict(below, "decrease"), "held");
  assertEquals(verdict(below, "increase"), "contradicted");
  assertEquals(verdict(above, "increase"), "held");
  assertEquals(verdict(above, "decrease"), "contradicted");
  assertEquals(verdict(across, "decrease"), "inconclusive");
  assertEquals(verdict(across, "increase"), "inconclusive");
  assertEquals(verdict(tInterval([-3]), "decrease"), "inconclusive (1 seed)");
  // Zero spread: the interval is the point itself; a point at 0 is no effect.
  assertEquals(verdict(tInterval([-0.5, -0.5]), "decrease"), "held");
  assertEquals(verdict(tInterval([0, 0, 0]), "decrease"), "inconclusive");
  assertEquals(verdict(tInterval([Number.NaN, 1]), "increase"), "inconclusive");
});

Deno.test("the minimal detectable effect (80% power) grows with the spread and shrinks with seeds", () => {
  const three = tInterval([1, 2, 3]);
  // (t_0.975,2 + t_0.8,2) * sd / sqrt(n) = (4.3027 + 1.0607) * 1 / sqrt(3)
  assertAlmostEquals(minimalDetectableEffect(three), (4.302653 + 1.060660) / Math.sqrt(3), 1e-5);
  const ten = tInterval([1, 2, 3, 1, 2, 3, 1, 2, 3, 2]);
  assert(minimalDetectableEffect(ten) < minimalDetectableEffect(three));
  assert(minimalDetectableEffect(three) > three.halfWidth);
  assert(Number.isNaN(minimalDetectableEffect(tInterval([4]))));
  assertEquals(minimalDetectableEffect(tInterval([2, 2, 2])), 0);
});
