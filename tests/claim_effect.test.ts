import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { measureClaimEffect } from "../src/experiments/claim_effect.ts";
import {
  perSeedComputeMs,
  planSeeds,
  REACH_MS,
  SEED_CAP,
  stageOfInstance,
} from "../src/experiments/seed_plan.ts";
import { pairedTTestSampleSize } from "../src/math/power.ts";

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

Deno.test("seeds for 80% power: from the spread of the paired differences and the paper's effect", () => {
  // Differences with s = 1 and the paper's effect -1: d = 1, so 10 seeds; 7 beyond the 3 run.
  const plan = planSeeds({ kind: "difference", paper: -1, perSeed: [-1, 0, 1] }, 1_800_000);
  assertEquals([plan.seeds, plan.seedsRun, plan.standardizedEffect], [10, 3, 1]);
  assertEquals([plan.totalMs, plan.addedMs, plan.outOfReach], [18_000_000, 12_600_000, false]);
  // s = 2 halves d: 34 seeds (d = 0.5).
  assertEquals(planSeeds({ kind: "difference", paper: 1, perSeed: [-2, 0, 2] }, null).seeds, 34);
  // Enough seeds already (d = 5 needs 3: at 2, t(0.975, 1) = 12.7 is too high a bar): nothing more to run.
  const enough = planSeeds({ kind: "difference", paper: 5, perSeed: [4, 5, 6] }, 1000);
  assertEquals([enough.seeds, enough.totalMs, enough.addedMs], [3, 3000, 0]);
});

Deno.test("seeds for 80% power of a ratio are on the log scale, as its interval is", () => {
  // Log ratios log(2) * (0.5, 1, 1.5): s = log(2) / 2, the paper's log(4) = 2 log(2) is 4 s: d = 4.
  const perSeed = [0.5, 1, 1.5].map((k) => 2 ** k);
  const plan = planSeeds({ kind: "ratio", paper: 4, perSeed }, 3_600_000);
  assertAlmostEquals(plan.standardizedEffect!, 4, 1e-12);
  assertEquals(plan.seeds, pairedTTestSampleSize(4, SEED_CAP));
  // The same spread against a paper ratio of 1.1: d = 2 log(1.1) / log(2) = 0.275, 106 seeds, which at
  // an hour a seed is past a day of compute: out of reach at this scale.
  const far = planSeeds({ kind: "ratio", paper: 1.1, perSeed }, 3_600_000);
  assertEquals([far.seeds, far.outOfReach], [
    pairedTTestSampleSize(2 * Math.log(1.1) / Math.log(2), 1000),
    true,
  ]);
  assert(far.addedMs! > REACH_MS);
});

Deno.test("a row without a seed count says why: qualitative, absolute, one seed, no spread, over the cap", () => {
  const why = (row: Parameters<typeof planSeeds>[0]) => planSeeds(row, 1000).noCount;
  assertEquals(why({ kind: "ratio", paper: null, perSeed: [1.3, 1.4, 1.35] }), "qualitative");
  assertEquals(why({ kind: "absolute", paper: 13, perSeed: [49, 55, 50] }), "absolute");
  assertEquals(why({ kind: "difference", paper: -2, perSeed: [] }), "not measured");
  assertEquals(why({ kind: "difference", paper: -2, perSeed: [-1] }), "one seed");
  assertEquals(why({ kind: "difference", paper: -2, perSeed: [-1, -1, -1] }), "no spread");
  assertEquals(why({ kind: "ratio", paper: 1, perSeed: [1.1, 0.9] }), "no effect");
  const tiny = planSeeds({ kind: "difference", paper: 0.01, perSeed: [-1, 0, 1] }, 1000);
  assertEquals([tiny.seeds, tiny.noCount, tiny.outOfReach], [null, "over cap", true]);
});

Deno.test("the compute of one seed: the stages that run once per seed, over the seeds run", () => {
  const records = [
    { stage: "data", seed: 1, durationMs: 500 },
    { stage: "sweep", seed: 1, durationMs: 7_000 },
    ...[1, 2, 3].flatMap((seed) => [
      { stage: "train", seed, durationMs: 1_000 * seed },
      { stage: "train", seed, durationMs: 2_000 },
      { stage: "evaluate", seed, durationMs: 100 },
    ]),
    { stage: "report", seed: 1, durationMs: 5 },
  ];
  // (1 + 2 + 3 + 3 * 2 + 3 * 0.1) s over 3 seeds; the data, the sweep and the report run once.
  assertAlmostEquals(perSeedComputeMs(records)!, 12_300 / 3, 1e-9);
  assertEquals(perSeedComputeMs([{ stage: "train", seed: 1, durationMs: 9 }]), null, "one seed: unknown");
  assertEquals(stageOfInstance("train[lrn=on,seed=2]"), "train");
  assertEquals(stageOfInstance("report"), "report");
});
