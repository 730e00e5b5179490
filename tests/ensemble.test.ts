// Table 2's ensemble effect: top-k errors of probability rows, the averaged softmax of several nets, and the
// jackknife interval over the nets; a claim row built from a stage's own estimate and interval.
import { assertAlmostEquals, assertEquals, assertStrictEquals } from "@std/assert";
import { averageProbs, ensembleEffect, jackknifeInterval, topKError } from "../src/math/ensemble.ts";
import { studentTQuantile } from "../src/math/stats.ts";
import { givenClaimEffect } from "../src/experiments/claim_effect.ts";

const rows = (...r: number[][]) => Float32Array.from(r.flat());

Deno.test("topKError: ties count against the true class; k widens what is right", () => {
  const labels = Int32Array.from([0, 1, 2]);
  const p = rows([0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [1 / 3, 1 / 3, 1 / 3]);
  assertAlmostEquals(topKError(p, 3, labels, 1), 2 / 3, 1e-12); // image 2 is a tie: wrong
  assertAlmostEquals(topKError(p, 3, labels, 2), 1 / 3, 1e-12); // a tie of three is still wrong at k = 2
  assertStrictEquals(topKError(p, 3, labels, 3), 0);
});

Deno.test("jackknife of a mean is the usual standard error s/sqrt(n)", () => {
  const x = [3, 7, 4, 9, 2, 6];
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const loo = x.map((_, i) => (mean * n - x[i]) / (n - 1));
  const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const j = jackknifeInterval(mean, loo);
  assertAlmostEquals(j.se, sd / Math.sqrt(n), 1e-12);
  assertAlmostEquals(j.high - j.estimate, studentTQuantile(0.975, n - 1) * sd / Math.sqrt(n), 1e-12);
});

Deno.test("ensembleEffect: averaged softmax against the members' mean error, leave-one-out by hand", () => {
  // Three nets on four images (two classes, label 0 everywhere): each net is wrong on a different image,
  // so the average of any two or three is right wherever the others outvote it.
  const labels = Int32Array.from([0, 0, 0, 0]);
  const a = rows([0.4, 0.6], [0.9, 0.1], [0.9, 0.1], [0.45, 0.55]);
  const b = rows([0.9, 0.1], [0.4, 0.6], [0.9, 0.1], [0.45, 0.55]);
  const c = rows([0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.45, 0.55]);
  const e = ensembleEffect([a, b, c], 2, labels, 1);
  assertEquals(e.members, [0.5, 0.5, 0.5]);
  assertStrictEquals(e.ensemble, 0.25); // only image 3, wrong in every net, stays wrong
  assertStrictEquals(e.effect, -0.25);
  // Leave one out: e.g. b and c average to (0.65, 0.35) on image 0 (right), 0.65 on 1 and 2 (right).
  assertEquals(e.leaveOneOut, [-0.25, -0.25, -0.25]);
  assertStrictEquals(e.interval.se, 0);
  assertEquals(Array.from(averageProbs([a, b]).subarray(0, 2)).map((v) => +v.toFixed(6)), [0.65, 0.35]);
});

Deno.test("a claim row from a given estimate: the verdict reads the interval, in the row's unit", () => {
  const figure = { kind: "difference" as const, direction: "decrease" as const };
  const given = { value: -0.03, low: -0.05, high: -0.01, n: 5, method: "jackknife", seeds: [1, 2, 3, 4, 5] };
  const held = givenClaimEffect(figure, given, 100);
  assertEquals([held.mean, held.low, held.high].map((v) => +v!.toFixed(9)), [-3, -5, -1]);
  assertStrictEquals(held.verdict, "held");
  assertEquals(held.seeds, [1, 2, 3, 4, 5]);
  assertStrictEquals(givenClaimEffect(figure, { ...given, high: 0.01 }).verdict, "inconclusive");
  assertStrictEquals(
    givenClaimEffect(figure, { ...given, value: 0.03, low: 0.01, high: 0.05 }).verdict,
    "contradicted",
  );
  assertStrictEquals(givenClaimEffect(figure, { ...given, value: NaN }).verdict, "not measured");
});
