import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { measureClaimEffect } from "../src/experiments/claim_effect.ts";

const seeds = (...values: number[]) => new Map(values.map((value, i) => [i + 1, value]));

Deno.test("a difference claim: paired per-seed values, t-interval, verdict by the paper's direction", () => {
  const decrease = { kind: "difference" as const, direction: "decrease" as const };
  const lower = measureClaimEffect(decrease, seeds(-1.35, -1.25, -1.15));
  assertAlmostEquals(lower.mean!, -1.25, 1e-12);
  assertAlmostEquals(lower.high!, -1.25 + 4.302653 * 0.1 / Math.sqrt(3), 1e-5);
  assertEquals(lower.verdict, "held");
  assertEquals(measureClaimEffect(decrease, seeds(1.35, 1.25, 1.15)).verdict, "contradicted");
  const increase = { kind: "difference" as const, direction: "increase" as const };
  assertEquals(measureClaimEffect(increase, seeds(1.35, 1.25, 1.15)).verdict, "held");
  assertEquals(measureClaimEffect(increase, seeds(-4.5, -1.5, 1.5)).verdict, "inconclusive");
});

Deno.test("one seed, nothing measured, absolute and untestable figures name why there is no verdict", () => {
  const one = measureClaimEffect({ kind: "difference", direction: "decrease" }, seeds(-2));
  assertEquals([one.mean, one.low, one.high, one.detectable, one.verdict], [
    -2,
    null,
    null,
    null,
    "inconclusive (1 seed)",
  ]);
  const none = measureClaimEffect({ kind: "difference", direction: "decrease" }, seeds(NaN, NaN));
  assertEquals([none.mean, none.verdict, none.seeds], [null, "not measured", []]);
  // A NaN seed is left out, not averaged in.
  assertEquals(measureClaimEffect({ kind: "difference", direction: "decrease" }, seeds(NaN, -1, -2)).seeds, [
    2,
    3,
  ]);
  assertEquals(measureClaimEffect({ kind: "absolute" }, seeds(13, 14)).verdict, "no direction");
  assertEquals(
    measureClaimEffect({ kind: "ratio", direction: "increase", untestable: "biased" }, seeds(1.1, 1.2))
      .verdict,
    "not tested",
  );
});

Deno.test("ratios are averaged and tested on a log scale: geometric mean, no effect at 1", () => {
  const ratio = { kind: "ratio" as const, direction: "increase" as const };
  // 2 and 8: the geometric mean is 4 (the arithmetic one would be 5); 0.5 and 2 straddle 1 symmetrically.
  const doubled = measureClaimEffect(ratio, seeds(2, 8));
  assertAlmostEquals(doubled.mean!, 4, 1e-12);
  assertAlmostEquals(doubled.low! * doubled.high!, 16, 1e-9, "the interval is symmetric on the log scale");
  const around = measureClaimEffect(ratio, seeds(0.5, 2));
  assertAlmostEquals(around.mean!, 1, 1e-12);
  assertEquals(around.verdict, "inconclusive");
  assertEquals(measureClaimEffect(ratio, seeds(3, 3.3, 3.6)).verdict, "held");
  assertEquals(measureClaimEffect(ratio, seeds(0.5, 0.55, 0.6)).verdict, "contradicted");
  assert(
    measureClaimEffect(ratio, seeds(3, 3.3, 3.6)).detectable! > 1,
    "a ratio's detectable effect is a factor",
  );
  // A ratio of 0 or below has no logarithm: that seed is left out.
  assertEquals(measureClaimEffect(ratio, seeds(0, 2, 3)).seeds, [2, 3]);
});
