// The noncentral t CDF, the paired t-test's power and its sample size, checked against published values and
// against an independent numerical integration over the chi distribution (no shared code with AS 243).

import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { noncentralTCdf } from "../src/math/noncentral_t.ts";
import { normalCdf, normalQuantile } from "../src/math/normal.ts";
import { normalApproximationSampleSize, pairedTTestPower, pairedTTestSampleSize } from "../src/math/power.ts";
import { logGamma, studentTCdf } from "../src/math/stats.ts";

/**
 * F(t; df, delta) = integral over v > 0 of Phi(t sqrt(v / df) - delta) times the chi-square(df) density of v,
 * by Simpson's rule on u = sqrt(v) (the chi variable, whose density is smooth at 0 for df >= 1 after the
 * change of variable), from 0 to 60 in 20,000 steps: the density beyond is below 1e-300.
 */
function integratedNoncentralTCdf(t: number, df: number, delta: number): number {
  const logNorm = (1 - df / 2) * Math.LN2 - logGamma(df / 2);
  // Density of the chi variable u = sqrt(v): 2^(1 - df/2) u^(df-1) exp(-u^2/2) / Gamma(df/2).
  const f = (u: number) =>
    u === 0
      ? (df === 1 ? Math.exp(logNorm) * normalCdf(-delta) : 0)
      : Math.exp(logNorm + (df - 1) * Math.log(u) - u * u / 2) * normalCdf(t * u / Math.sqrt(df) - delta);
  const steps = 20_000, top = 60, h = top / steps;
  let sum = f(0) + f(top);
  for (let i = 1; i < steps; i++) sum += (i % 2 ? 4 : 2) * f(i * h);
  return sum * h / 3;
}

Deno.test("the normal CDF and quantile match printed values", () => {
  assertAlmostEquals(normalCdf(1.96), 0.9750021048517795, 1e-15);
  assertAlmostEquals(normalCdf(-1), 0.15865525393145705, 1e-15);
  assertAlmostEquals(normalCdf(3), 0.9986501019683699, 1e-15);
  // A tail keeps its relative precision: Phi(-10) = 7.6198530241605e-24.
  assertAlmostEquals(normalCdf(-10) / 7.6198530241605e-24, 1, 1e-8);
  assertAlmostEquals(normalQuantile(0.975), 1.959963984540054, 1e-12);
  assertAlmostEquals(normalQuantile(0.8), 0.8416212335729143, 1e-12);
  assertEquals(normalQuantile(0.5), 0);
  assertAlmostEquals(normalQuantile(0.025), -1.959963984540054, 1e-12);
});

Deno.test("the noncentral t CDF reduces to Student's t at delta = 0 and to Phi(-delta) at t = 0", () => {
  for (const [t, df] of [[1.5, 3], [-2, 7], [0.3, 1], [2.5, 30]]) {
    assertAlmostEquals(noncentralTCdf(t, df, 0), studentTCdf(t, df), 1e-12, `t ${t}, df ${df}`);
  }
  // Cauchy (df = 1): 1/2 + atan(t) / pi.
  assertAlmostEquals(noncentralTCdf(2, 1, 0), 0.5 + Math.atan(2) / Math.PI, 1e-12);
  assertAlmostEquals(noncentralTCdf(0, 5, 1.3), normalCdf(-1.3), 1e-14);
  assertEquals(noncentralTCdf(Infinity, 4, 2), 1);
  assert(Number.isNaN(noncentralTCdf(1, 0, 1)));
});

Deno.test("the noncentral t CDF matches values integrated independently", () => {
  // Reference values integrated at 30 digits (mpmath's quad of the same integral, computed once offline);
  // the Simpson integration above gives them again here, so the test does not rest on a stored number alone.
  const table: [number, number, number, number][] = [
    [1, 5, 1, 0.480926141242105],
    [2, 10, 1.5, 0.659154072442191],
    [-1, 4, 0.5, 0.0861495690365627],
    [3.5, 3, 2, 0.758498887720888],
    [0.5, 20, -1, 0.931785308228487],
    [2.5, 8, 4, 0.0904283763546113],
    [1.96, 30, 3, 0.152862177035357],
  ];
  for (const [t, df, delta, expected] of table) {
    const where = `F(${t}; ${df}, ${delta})`;
    assertAlmostEquals(noncentralTCdf(t, df, delta), expected, 1e-11, where);
    assertAlmostEquals(integratedNoncentralTCdf(t, df, delta), expected, 1e-9, `${where} integrated`);
  }
  // Monotone in delta: a larger true mean puts less mass below t.
  assert(noncentralTCdf(2, 6, 1) > noncentralTCdf(2, 6, 2));
  // Just inside the series' range the series is exact; past it (|delta| > 37.6) the normal approximation
  // takes over, within 1e-3 (as R's pnt): there the power it feeds is 1 but for the last digits.
  assertAlmostEquals(noncentralTCdf(45, 50, 37.5), 0.945978400604801, 1e-11);
  assertAlmostEquals(noncentralTCdf(45, 50, 40), 0.850595973233159, 1e-3);
  assertAlmostEquals(noncentralTCdf(10, 50, 40), 0, 1e-12);
});

Deno.test("the paired t-test's power and sample size match known values (two-sided 5%, 80%)", () => {
  // Powers integrated at 30 digits offline (mpmath). Cohen's d = 1: n = 10 (power 0.803, as R's power.t.test
  // gives); n = 9 falls short (0.748; a Monte Carlo run of 2e6 samples gave 0.7485).
  assertAlmostEquals(pairedTTestPower(10, 1), 0.8030968566, 1e-8);
  assertAlmostEquals(pairedTTestPower(9, 1), 0.7480170922, 1e-8);
  assertEquals(pairedTTestSampleSize(1, 1000), 10);
  // d = 0.5: 34 (0.808; 33 gives 0.795); d = 0.8: 15 (0.821; 14 gives 0.790).
  assertAlmostEquals(pairedTTestPower(34, 0.5), 0.8077775013, 1e-8);
  assertAlmostEquals(pairedTTestPower(33, 0.5), 0.7953658415, 1e-8);
  assertEquals(pairedTTestSampleSize(0.5, 1000), 34);
  assertAlmostEquals(pairedTTestPower(15, 0.8), 0.8213105387, 1e-8);
  assertAlmostEquals(pairedTTestPower(14, 0.8), 0.7900877507, 1e-8);
  assertEquals(pairedTTestSampleSize(0.8, 1000), 15);
  // The sign of the effect does not matter to a two-sided test.
  assertEquals(pairedTTestSampleSize(-0.8, 1000), 15);
});

Deno.test("the power, integrated independently, crosses 80% where the sample size says", () => {
  const integratedPower = (n: number, d: number) => {
    const df = n - 1;
    // The critical value by bisection on Student's t CDF (stats.ts), not through studentTQuantile.
    let lo = 0, hi = 20;
    for (let i = 0; i < 100; i++) {
      const mid = (lo + hi) / 2;
      if (studentTCdf(mid, df) < 0.975) lo = mid;
      else hi = mid;
    }
    const c = (lo + hi) / 2, delta = d * Math.sqrt(n);
    return 1 - integratedNoncentralTCdf(c, df, delta) + integratedNoncentralTCdf(-c, df, delta);
  };
  for (const d of [0.5, 0.8, 1]) {
    const n = pairedTTestSampleSize(d, 1000)!;
    assert(integratedPower(n, d) >= 0.8, `d ${d}: n ${n} reaches 80%`);
    assert(integratedPower(n - 1, d) < 0.8, `d ${d}: n ${n - 1} does not`);
  }
});

Deno.test("the normal approximation gives the textbook counts, a little below the t-test's", () => {
  // ((1.959964 + 0.841621) / d)^2: d = 0.5 -> 31.4 (so 32), d = 1 -> 7.85 (so 8).
  assertAlmostEquals(normalApproximationSampleSize(0.5), 31.3955189, 1e-6);
  assertAlmostEquals(normalApproximationSampleSize(1), 7.8488797, 1e-6);
  assertEquals(Math.ceil(normalApproximationSampleSize(0.5)), 32);
  assertEquals(Math.ceil(normalApproximationSampleSize(1)), 8);
  for (const d of [0.3, 0.5, 0.8, 1, 2]) {
    const t = pairedTTestSampleSize(d, 1000)!, z = Math.ceil(normalApproximationSampleSize(d));
    assert(t >= z && t <= z + 3, `d ${d}: t-test ${t}, normal ${z}`);
  }
});

Deno.test("the sample size: at least 2, null past the cap or for no effect", () => {
  assertEquals(pairedTTestSampleSize(20, 1000), 2, "a huge effect still needs two pairs for a spread");
  assertEquals(pairedTTestSampleSize(0.05, 1000), null, "d = 0.05 needs about 3,100 pairs");
  // With thousands of pairs the t-test is the z-test: the count is the normal approximation's, rounded up.
  const many = pairedTTestSampleSize(0.05, 4000)!;
  assert(many - normalApproximationSampleSize(0.05) > 0 && many - normalApproximationSampleSize(0.05) < 3);
  assertEquals(pairedTTestSampleSize(0, 1000), null);
  assertEquals(pairedTTestSampleSize(NaN, 1000), null);
});
