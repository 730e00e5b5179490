// The seeds axis: `seeds: N | [list]` expands the seeded stages per seed; one seed changes nothing.

import { assert, assertEquals, assertMatch, assertNotEquals, assertThrows } from "@std/assert";
import { permutation } from "../src/data/rng.ts";
import { trainStageKind } from "../src/experiments/train.ts";
import { reportStageKind } from "../src/experiments/report_stage.ts";
import { formatIssue, PipelineValidationError } from "../src/pipeline/errors.ts";
import { readLockfile } from "../src/pipeline/lockfile.ts";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { parseSetArgument, planPipeline } from "../src/pipeline/plan.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { runPipeline } from "../src/pipeline/runner.ts";
import type { StageKind, StageResult } from "../src/pipeline/types.ts";

/** A stand-in for training: its "data order" and "initial weight" come from the seed alone, as train's do. */
const fitKind: StageKind = {
  name: "fit",
  description: "seeded stand-in for training",
  seeds: "each",
  params: { lrn: { type: "string", doc: "arm switch", default: "on" } },
  run(ctx) {
    return Promise.resolve({
      seed: ctx.seed,
      order: [...permutation(8, ctx.seed, 0)],
      score: ctx.seed + (ctx.params.lrn === "on" ? 0.5 : 0),
    });
  },
};
const dataKind: StageKind = {
  name: "data",
  description: "no randomness",
  params: {},
  run: () => Promise.resolve({ n: 8 }),
};
/** Follows its input: per seed when it reads a seeded stage. */
const scoreKind: StageKind = {
  name: "score",
  description: "reads one fit",
  params: {},
  run: (ctx) => Promise.resolve({ from: (ctx.inputs.fit as StageResult).id, seed: ctx.seed }),
};
const summaryKind: StageKind = {
  name: "summary",
  description: "aggregates over seeds",
  seeds: "all",
  params: {},
  run: (ctx) => Promise.resolve({ from: (ctx.inputs.score as StageResult[]).map((r) => r.id) }),
};
const registry = new StageKindRegistry([dataKind, fitKind, scoreKind, summaryKind]);

const pipeline = (head: string) =>
  `title: Seeds test
${head}
matrix:
  lrn: ["on", "off"]
stages:
  data: {kind: data}
  fit:
    kind: fit
    foreach: matrix
    needs: data
    params:
      lrn: \${matrix.lrn}
  score: {kind: score, foreach: matrix, needs: fit}
  summary: {kind: summary, needs: score}
`;

const parse = (head: string) => parsePipeline("pipelines/seeds.yaml", pipeline(head), registry);
const problems = (head: string): string[] => {
  try {
    parse(head);
  } catch (error) {
    if (error instanceof PipelineValidationError) return error.issues.map(formatIssue);
    throw error;
  }
  return [];
};

Deno.test("seeds: a count means 1..N, a list is taken as written, seed: N is the one seed N", () => {
  assertEquals(parse("seeds: 3").seeds, [1, 2, 3]);
  assertEquals(parse("seeds: [4, 9]").seeds, [4, 9]);
  assertEquals(parse("seed: 5").seeds, [5]);
  assertEquals(parse("").seeds, [1]);
  assertEquals(parse("seeds: [4, 9]").seed, 4, "the first seed keys the stages that run once");
});

Deno.test("a bad seeds value names the file, line and key", () => {
  assertMatch(problems("seeds: 0")[0], /^pipelines\/seeds\.yaml:2:\d+: seeds: seeds: N must be between 1/);
  assertMatch(problems("seeds: []")[0], /seeds\.yaml:2:\d+: seeds: .*empty list/);
  assertMatch(problems("seeds: [1, 1]")[0], /seed 1 is listed twice/);
  assertMatch(problems("seeds: [1, 2.5]")[0], /every seed must be an integer >= 0, got 2.5/);
  assertMatch(problems("seeds: three")[0], /a count N \(seeds 1..N\) or a list of integers, got "three"/);
  assertMatch(problems("seed: 2\nseeds: 3")[0], /seeds\.yaml:3:1: seeds: give either seed .* or seeds/);
});

Deno.test("the seed cannot be a matrix axis", () => {
  const error = assertThrows(
    () =>
      parsePipeline(
        "pipelines/axis.yaml",
        "title: t\nmatrix:\n  seed: [1, 2]\nstages:\n  data: {kind: data}\n",
        registry,
      ),
    PipelineValidationError,
  );
  assertMatch(formatIssue(error.issues[0]), /axis\.yaml:3:3: matrix\.seed: the seed is not a matrix axis/);
});

Deno.test("presets and --set override seeds like seed; bad values are named", () => {
  const definition = parse("seed: 1\npresets:\n  many: {seeds: 3}");
  assertEquals(planPipeline(definition, registry, { preset: "many" }).seeds, [1, 2, 3]);
  assertEquals(planPipeline(definition, registry, { preset: "cpu" }).seeds, [1]);
  const set = (raw: string) =>
    planPipeline(definition, registry, { preset: "many", sets: [parseSetArgument(raw)] });
  assertEquals(set("seeds=[7, 8]").seeds, [7, 8]);
  assertEquals(set("seed=7").seeds, [7], "a later seed: N means the one seed N");
  const error = assertThrows(() => set("seeds=0"), PipelineValidationError);
  assertMatch(formatIssue(error.issues[0]), /--set seeds=0: seeds: seeds: N must be between 1 and 100/);
});

Deno.test("with several seeds the seeded stages expand per seed; aggregating stages get every seed", () => {
  const plan = planPipeline(parse("seeds: 2"), registry, { preset: "cpu" });
  const byId = new Map(plan.instances.map((instance) => [instance.id, instance]));
  assertEquals(plan.instances.map((instance) => instance.id), [
    "data",
    "fit[lrn=on,seed=1]",
    "fit[lrn=on,seed=2]",
    "fit[lrn=off,seed=1]",
    "fit[lrn=off,seed=2]",
    "score[lrn=on,seed=1]",
    "score[lrn=on,seed=2]",
    "score[lrn=off,seed=1]",
    "score[lrn=off,seed=2]",
    "summary",
  ]);
  const fit = byId.get("fit[lrn=off,seed=2]")!;
  assertEquals([fit.seed, fit.perSeed, fit.matrix, fit.outDirRel], [
    2,
    true,
    { lrn: "off" },
    "fit/lrn=off,seed=2",
  ]);
  assertEquals(fit.needs, [{ stage: "data", ids: ["data"], asArray: false }]);
  assertEquals(byId.get("score[lrn=on,seed=2]")!.needs, [
    { stage: "fit", ids: ["fit[lrn=on,seed=2]"], asArray: false },
  ]);
  assertEquals(byId.get("summary")!.needs, [{
    stage: "score",
    ids: ["score[lrn=on,seed=1]", "score[lrn=on,seed=2]", "score[lrn=off,seed=1]", "score[lrn=off,seed=2]"],
    asArray: true,
  }]);
  assertEquals([byId.get("data")!.perSeed, byId.get("data")!.seed], [false, 1]);
  // The real kinds declare what they are: training runs per seed, a report aggregates.
  assertEquals([trainStageKind.seeds, reportStageKind.seeds], ["each", "all"]);
});

Deno.test("one seed keeps every id, directory and cache key as they were without seeds", async () => {
  const plans = ["", "seed: 1", "seeds: 1", "seeds: [1]"].map((head) =>
    planPipeline(parse(head), registry, { preset: "cpu" })
  );
  const shape = (plan: (typeof plans)[number]) =>
    plan.instances.map(({ id, outDirRel, seed, perSeed, needs, matrix }) => ({
      id,
      outDirRel,
      seed,
      perSeed,
      needs,
      matrix,
    }));
  for (const plan of plans.slice(1)) assertEquals(shape(plan), shape(plans[0]));
  assertEquals(plans[0].instances.map((instance) => instance.id), [
    "data",
    "fit[lrn=on]",
    "fit[lrn=off]",
    "score[lrn=on]",
    "score[lrn=off]",
    "summary",
  ]);

  const hashes = async (head: string) => {
    const resultsDir = await Deno.makeTempDir({ prefix: "seeds-" });
    try {
      const plan = planPipeline(parse(head), registry, { preset: "cpu" });
      await runPipeline(plan, { resultsDir, log: () => {} });
      const lock = (await readLockfile(`${resultsDir}/seeds/pipeline.lock.json`))!;
      return {
        lock,
        hashes: Object.fromEntries(Object.entries(lock.stages).map(([id, e]) => [id, e.inputHash])),
      };
    } finally {
      await Deno.remove(resultsDir, { recursive: true });
    }
  };
  const none = await hashes(""), one = await hashes("seeds: 1"), two = await hashes("seeds: 2");
  assertEquals(one.hashes, none.hashes);
  assertEquals("seeds" in one.lock, false, "a one-seed lockfile has no seeds key");
  assertEquals(two.lock.seeds, [1, 2]);
  // The seed is the instance's seed in the key, not an extra key: seed 1 of two is keyed as the single run.
  assertEquals(two.hashes["fit[lrn=on,seed=1]"], none.hashes["fit[lrn=on]"]);
  assertNotEquals(two.hashes["fit[lrn=on,seed=2]"], none.hashes["fit[lrn=on]"]);
  assertEquals(two.hashes["data"], none.hashes["data"]);
});

Deno.test("for one seed, both arms get the same seed and so the same data order; seeds differ", async () => {
  const resultsDir = await Deno.makeTempDir({ prefix: "seeds-" });
  try {
    const plan = planPipeline(parse("seeds: [1, 2]"), registry, { preset: "cpu" });
    const summary = await runPipeline(plan, { resultsDir, log: () => {} });
    assert(summary.ok);
    const outputs = (id: string) => summary.results.get(id)!.outputs;
    assertEquals(outputs("fit[lrn=on,seed=2]").seed, 2);
    assertEquals(outputs("fit[lrn=on,seed=2]").order, outputs("fit[lrn=off,seed=2]").order);
    assertNotEquals(outputs("fit[lrn=on,seed=1]").order, outputs("fit[lrn=on,seed=2]").order);
    assertEquals(summary.results.get("fit[lrn=off,seed=2]")!.seed, 2);
    assertEquals(outputs("score[lrn=off,seed=1]"), { from: "fit[lrn=off,seed=1]", seed: 1 });
    assertEquals((outputs("summary").from as string[]).length, 4);
  } finally {
    await Deno.remove(resultsDir, { recursive: true });
  }
});
