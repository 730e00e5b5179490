// How many seeds would decide a claim row, and what they would cost: the paired t-test's sample size for 80%
// power against the paper's effect (src/math/power.ts), with the spread of the seeds run as the true one, times
// the recorded compute of one seed. Said beside each row's interval, so an "inconclusive" comes with what it
// would take to decide it.

import { pairedTTestSampleSize } from "../math/power.ts";
import { sampleSd } from "../math/stats.ts";
import type { ClaimRow, SeedPlan } from "../report/model.ts";
import { CONFIDENCE, onLogScale, POWER } from "./claim_effect.ts";

/** Counts are searched up to this; beyond it the row says "over 1000" (no pipeline here is run that far). */
export const SEED_CAP = 1000;

/**
 * Added compute beyond which a count is out of reach at this scale: a day of the machine the records come
 * from. Past it, the page names the `full` preset instead, where the effect may stand out of the seed noise.
 */
export const REACH_MS = 24 * 3_600_000;

/** A stage instance's record, as the run (StageResult) or the lockfile (an entry and its id) gives it. */
export interface StageRecord {
  /** Stage name in the pipeline file (an instance id without its `[...]`). */
  stage: string;
  seed?: number;
  durationMs?: number;
}

/** The stage name of an instance id: `train[lrn=on,seed=2]` -> `train`. */
export function stageOfInstance(id: string): string {
  const bracket = id.indexOf("[");
  return bracket < 0 ? id : id.slice(0, bracket);
}

/**
 * The recorded compute of one seed: the summed time of the stages that run once per seed (those whose
 * instances carry several seeds) divided by the seeds. Stages that run once (a dataset, a learning-rate
 * sweep) are left out, since more seeds reuse them; a report aggregates every seed in one instance, so it is
 * left out too. Null when no stage ran for several seeds (one seed: nothing tells which stages repeat).
 */
export function perSeedComputeMs(records: Iterable<StageRecord>): number | null {
  const byStage = new Map<string, StageRecord[]>();
  for (const record of records) byStage.set(record.stage, [...(byStage.get(record.stage) ?? []), record]);
  const seeds = new Set<number>();
  let totalMs = 0;
  for (const instances of byStage.values()) {
    const own = new Set(instances.map((record) => record.seed));
    if (own.size < 2) continue;
    for (const seed of own) if (seed !== undefined) seeds.add(seed);
    for (const record of instances) totalMs += record.durationMs ?? 0;
  }
  return seeds.size < 2 || totalMs <= 0 ? null : totalMs / seeds.size;
}

/**
 * The seed plan of a claim row: from its per-seed values (a difference's paired differences, a ratio's
 * ratios, compared on the log scale as its interval is) and the paper's number, the seeds a paired t-test
 * needs for 80% power, and that count times `perSeedMs`.
 */
export function planSeeds(
  row: Pick<ClaimRow, "kind" | "paper" | "perSeed">,
  perSeedMs: number | null,
): SeedPlan {
  const log = onLogScale(row.kind);
  const values = log ? row.perSeed.filter((x) => x > 0).map(Math.log) : row.perSeed;
  const seedsRun = values.length;
  const base = {
    seeds: null,
    cap: SEED_CAP,
    standardizedEffect: null,
    seedsRun,
    perSeedMs,
    totalMs: null,
    addedMs: null,
    outOfReach: false,
  };
  if (row.paper === null) return { ...base, noCount: "qualitative" };
  if (row.kind !== "difference" && row.kind !== "ratio") return { ...base, noCount: "absolute" };
  if (seedsRun === 0) return { ...base, noCount: "not measured" };
  if (seedsRun === 1) return { ...base, noCount: "one seed" };
  const effect = log ? (row.paper > 0 ? Math.log(row.paper) : NaN) : row.paper;
  const sd = sampleSd(values);
  if (sd === 0) return { ...base, noCount: "no spread" };
  if (effect === 0 || Number.isNaN(effect)) return { ...base, noCount: "no effect" };
  const standardizedEffect = Math.abs(effect) / sd;
  const seeds = pairedTTestSampleSize(standardizedEffect, SEED_CAP, { alpha: 1 - CONFIDENCE, power: POWER });
  if (seeds === null) return { ...base, standardizedEffect, noCount: "over cap", outOfReach: true };
  const totalMs = perSeedMs === null ? null : seeds * perSeedMs;
  const addedMs = perSeedMs === null ? null : Math.max(0, seeds - seedsRun) * perSeedMs;
  return {
    ...base,
    seeds,
    standardizedEffect,
    totalMs,
    addedMs,
    outOfReach: addedMs !== null && addedMs > REACH_MS,
  };
}

/** How the seed count and its cost are computed, said once per page next to the interval's method. */
export const SEED_POWER_METHOD = `the smallest n ≥ 2 for which a two-sided paired t-test at the ` +
  `${Math.round(100 * (1 - CONFIDENCE))}% level detects the paper's effect δ with ${100 * POWER}% power, ` +
  `taking the standard deviation s of the per-seed values run (the paired differences; for ratios the log ` +
  `ratios, with δ the log of the paper's ratio) as the true one: power = P(|T| > t(0.975, n-1)), T noncentral ` +
  `t with n-1 degrees of freedom and noncentrality δ·√n/s (Lenth's AS 243), searched up to ${SEED_CAP}. ` +
  `Its cost: n times the recorded compute of one seed (the summed time of the stages that run once per ` +
  `seed, over the seeds run) at this scale, in hours of wall time on the machine that ran them (CPU-h ` +
  `below the \`full\` preset), and the part beyond the seeds already run; past ` +
  `${REACH_MS / 3_600_000} h more the count is out of reach here and the \`full\` preset is the alternative`;
