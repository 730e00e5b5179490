import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { parseSetArgument, planPipeline } from "../src/pipeline/plan.ts";
import type { StageInstance } from "../src/pipeline/plan.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { runPipeline } from "../src/pipeline/runner.ts";
import type { PipelineRunSummary } from "../src/pipeline/runner.ts";
import { lockfilePath, readLockfile } from "../src/pipeline/lockfile.ts";
import { FETCH_INPUTS, type StageKind, type StageResult } from "../src/pipeline/types.ts";

// ---- test-only stage kinds doing real (tiny) work -------------------------------------------------------

/** Instance ids in the order they actually ran, across one test. */
const runs: string[] = [];
/** Set by a test to make `fit` throw once at this epoch for the named instance. */
const failures = new Map<string, number>();
/** Mutable "dataset" whose checksum `range` reports. */
let datasetVersion = "v1";
/** true: the dataset is not on this machine (datasetChecksums reports a missing input). */
let datasetAbsent = false;
/** How often `range` was asked to fetch its missing dataset. */
let fetched = 0;
/** What `range`'s probe measures: an exact part and a float result (a stand-in for its code's numerics). */
let probed = { code: "v1", value: 1 };
/** Where the probes ran, to check they never touch a stage's real output folder. */
const probeDirs: string[] = [];

const rangeKind: StageKind = {
  name: "range",
  description: "numbers start .. start+n-1, written to values.json",
  params: {
    n: { type: "integer", doc: "how many", required: true, min: 1 },
    start: { type: "number", doc: "first value", default: 0 },
  },
  fingerprint(ctx) {
    probeDirs.push(ctx.outDir);
    return Promise.resolve({
      exact: { code: probed.code },
      measures: { value: [probed.value, 2 * probed.value] },
    });
  },
  datasetChecksums() {
    if (datasetAbsent) {
      const error = Object.assign(new Error("toy-dataset is not here"), {
        missingInput: { name: "toy-dataset", remedy: "fetch toy-dataset" },
      });
      return Promise.reject(error);
    }
    return Promise.resolve({ "toy-dataset": `sha-${datasetVersion}` });
  },
  describeDatasetChange(name, recorded, current) {
    return Promise.resolve(`${name}: recorded on ${recorded}, here ${current}`);
  },
  fetchMissing() {
    fetched++;
    datasetAbsent = false;
    return Promise.resolve();
  },
  async run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    const values = Array.from({ length: ctx.params.n as number }, (_, i) => (ctx.params.start as number) + i);
    await Deno.writeTextFile(join(ctx.outDir, "values.json"), JSON.stringify(values));
    return { values, sum: values.reduce((a, b) => a + b, 0), files: { values: "values.json" } };
  },
};

/** Gradient descent of w towards the mean of the upstream values; checkpoints every epoch and resumes. */
const fitKind: StageKind = {
  name: "fit",
  description: "fits a scalar by gradient descent",
  params: {
    epochs: { type: "integer", doc: "steps", required: true },
    lr: { type: "number", doc: "step size", required: true },
  },
  async run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    const data = ctx.inputs.data as StageResult;
    const values = data.outputs.values as number[];
    const target = values.reduce((a, b) => a + b, 0) / values.length;
    const checkpointPath = join(ctx.outDir, "checkpoint.json");
    let state = { epoch: 0, w: 0, history: [] as { epoch: number; loss: number }[] };
    let resumedFrom = 0;
    if (ctx.resuming) {
      state = JSON.parse(await Deno.readTextFile(checkpointPath));
      resumedFrom = state.epoch;
    }
    for (let epoch = state.epoch + 1; epoch <= (ctx.params.epochs as number); epoch++) {
      if (failures.get(ctx.id) === epoch) {
        failures.delete(ctx.id);
        throw new Error(`simulated crash at epoch ${epoch}`);
      }
      state.w -= (ctx.params.lr as number) * 2 * (state.w - target);
      state.history.push({ epoch, loss: (state.w - target) ** 2 });
      state.epoch = epoch;
      await Deno.writeTextFile(checkpointPath, JSON.stringify(state));
      ctx.progress(epoch, ctx.params.epochs as number, `loss ${state.history.at(-1)!.loss.toFixed(4)}`);
    }
    return {
      w: state.w,
      loss: state.history.at(-1)!.loss,
      history: state.history,
      resumedFrom,
      lrType: typeof ctx.params.lr,
    };
  },
};

const summariseKind: StageKind = {
  name: "summarise",
  description: "picks the arm with the lowest final loss",
  params: {},
  run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    const arms = ctx.inputs.fit as StageResult[];
    const best = arms.reduce((a, b) => ((a.outputs.loss as number) <= (b.outputs.loss as number) ? a : b));
    return Promise.resolve({ arms: arms.map((arm) => arm.id), best: best.matrix!.lr });
  },
};

/** A page: shows the pipeline's text, so that text is part of what it is keyed by. */
const pageKind: StageKind = {
  name: "page",
  description: "writes the pipeline's design under its data",
  params: {},
  readsPipelineText: true,
  run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    return Promise.resolve({ design: ctx.run.pipeline.design ?? "" });
  },
};

const registry = new StageKindRegistry([rangeKind, fitKind, summariseKind, pageKind]);

const PIPELINE = `title: Toy pipeline
matrix:
  lr: [0.1, 0.3]
presets:
  smoke: {fit.epochs: 2}
stages:
  data:
    kind: range
    params: {n: 4}
  fit:
    kind: fit
    foreach: matrix
    needs: data
    params: {epochs: 5, lr: "\${matrix.lr}"}
  summary:
    kind: summarise
    needs: [fit]
  side:
    kind: range
    params: {n: 2, start: 10}
`;

interface Harness extends AsyncDisposable {
  root: string;
  results: string;
  lines: string[];
  run(options?: {
    sets?: string[];
    preset?: string;
    dryRun?: boolean;
    force?: boolean | ((instance: StageInstance) => boolean);
    text?: string;
    /** RunnerOptions.codeIdentity's value (default: none given, so every reuse is probed). */
    code?: string;
    resources?: Map<string, unknown>;
    /** The stage kinds (default: the toy registry). */
    kinds?: StageKindRegistry;
  }): Promise<PipelineRunSummary>;
}

async function harness(): Promise<Harness> {
  runs.length = 0;
  failures.clear();
  datasetVersion = "v1";
  datasetAbsent = false;
  fetched = 0;
  probed = { code: "v1", value: 1 };
  probeDirs.length = 0;
  const root = await Deno.makeTempDir({ prefix: "pipeline-runner-" });
  const lines: string[] = [];
  const results = join(root, "results");
  return {
    root,
    results,
    lines,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
    run: (options = {}) => {
      const kinds = options.kinds ?? registry;
      const definition = parsePipeline("pipelines/toy.yaml", options.text ?? PIPELINE, kinds);
      const plan = planPipeline(definition, kinds, {
        preset: options.preset ?? "cpu",
        sets: (options.sets ?? []).map(parseSetArgument),
      });
      return runPipeline(plan, {
        resultsDir: results,
        projectRoot: root,
        dryRun: options.dryRun,
        force: options.force,
        ...(options.code !== undefined ? { codeIdentity: () => Promise.resolve(options.code!) } : {}),
        ...(options.resources ? { resources: options.resources } : {}),
        log: (line) => lines.push(line),
        progressIntervalMs: 0,
      });
    },
  };
}

const ALL = ["toy/data", "toy/fit[lr=0.1]", "toy/fit[lr=0.3]", "toy/summary", "toy/side"];

Deno.test("first run runs everything in dependency order; matrix arms get their own directories", async () => {
  await using h = await harness();
  const summary = await h.run();
  assertEquals(runs, ALL);
  assert(summary.ok);
  const fit = JSON.parse(await Deno.readTextFile(join(h.results, "toy/fit/lr=0.3/outputs.json")));
  assertStrictEquals(fit.lrType, "number", "a whole-string ${matrix.lr} keeps the axis value's type");
  assert(fit.loss < 1e-3);
  const summaryOut = JSON.parse(await Deno.readTextFile(join(h.results, "toy/summary/outputs.json")));
  assertEquals(summaryOut.arms, ["fit[lr=0.1]", "fit[lr=0.3]"], "a non-matrix stage receives every arm");
  assertStrictEquals(summaryOut.best, "0.3");
  assert(
    h.lines.some((line) => /\[toy\] fit\[lr=0\.1\]: 100% \(5\/5\) loss/.test(line)),
    "progress lines",
  );
  assert(h.lines.some((line) => /\[toy\] fit\[lr=0\.1\]: done in \d+\.\d s/.test(line)), "timing lines");
});

Deno.test("a second run runs nothing; the lockfile records every stage", async () => {
  await using h = await harness();
  await h.run();
  runs.length = 0;
  const before = await Deno.readTextFile(lockfilePath(h.results, "toy"));
  const summary = await h.run();
  assertEquals(runs, []);
  assertEquals(summary.cached.length, 5);
  // Nothing ran, so the lockfile is byte for byte the same: a clean checkout stays clean.
  assertStrictEquals(await Deno.readTextFile(lockfilePath(h.results, "toy")), before);
  const lock = (await readLockfile(lockfilePath(h.results, "toy")))!;
  assertStrictEquals(lock.pipeline, "toy");
  assertStrictEquals(lock.preset, "cpu");
  assertEquals(Object.keys(lock.stages), ["data", "fit[lr=0.1]", "fit[lr=0.3]", "summary", "side"]);
  const fit = lock.stages["fit[lr=0.1]"];
  assertStrictEquals(fit.status, "done");
  assertMatch(fit.inputHash, /^[0-9a-f]{64}$/);
  assertMatch(fit.outputHash!, /^[0-9a-f]{64}$/);
  assertStrictEquals(typeof fit.durationMs, "number");
  assertEquals(fit.params, { epochs: 5, lr: 0.1 });
  assertEquals(fit.matrix, { lr: "0.1" });
  assertStrictEquals(fit.outDir, "fit/lr=0.1");
  assertEquals(Object.keys(fit.upstream), ["data"]);
  assertStrictEquals(fit.upstream.data, lock.stages.data.outputHash);
  assertEquals(lock.stages.data.datasets, { "toy-dataset": "sha-v1" });
});

Deno.test("changing one parameter reruns only that stage and its dependants; dry run explains first", async () => {
  await using h = await harness();
  await h.run();
  runs.length = 0;
  const lockBefore = await Deno.readTextFile(lockfilePath(h.results, "toy"));
  h.lines.length = 0;
  const dry = await h.run({ sets: ["fit.epochs=6"], dryRun: true });
  assertEquals(runs, [], "a dry run runs nothing");
  assertStrictEquals(
    await Deno.readTextFile(lockfilePath(h.results, "toy")),
    lockBefore,
    "and writes nothing",
  );
  const reasons = Object.fromEntries(dry.decisions.map((d) => [d.id, `${d.action}: ${d.reason}`]));
  assertMatch(reasons["fit[lr=0.1]"], /^run: params changed: epochs 5 -> 6$/);
  assertMatch(reasons.summary, /^run: upstream will run: fit\[lr=0\.1\], fit\[lr=0\.3\]$/);
  assertMatch(reasons.data, /^cached/);
  assert(h.lines.some((line) => line === "[toy] fit[lr=0.3]: would run (params changed: epochs 5 -> 6)"));

  const summary = await h.run({ sets: ["fit.epochs=6"] });
  assertEquals(runs, ["toy/fit[lr=0.1]", "toy/fit[lr=0.3]", "toy/summary"]);
  assertEquals(summary.cached, ["data", "side"]);
  const lock = (await readLockfile(lockfilePath(h.results, "toy")))!;
  assertEquals(lock.overrides, { "fit.epochs": 6 }, "--set overrides are recorded");

  runs.length = 0;
  await h.run({ text: PIPELINE.replace("{n: 2, start: 10}", "{n: 3, start: 10}"), sets: ["fit.epochs=6"] });
  assertEquals(runs, ["toy/side"]);
  runs.length = 0;
  await h.run({ preset: "smoke" });
  assertEquals(
    runs,
    ["toy/fit[lr=0.1]", "toy/fit[lr=0.3]", "toy/summary", "toy/side"],
    "preset changes epochs",
  );
});

Deno.test("a page's stage reruns when the pipeline's design text changes; nothing else does", async () => {
  await using h = await harness();
  const text = (design: string) =>
    `title: Page\ndesign: ${design}\nstages:\n  data:\n    kind: range\n    params: {n: 2}\n` +
    "  page:\n    kind: page\n    needs: data\n";
  await h.run({ text: text("fixed before the run") });
  assertEquals(runs, ["toy/data", "toy/page"]);
  runs.length = 0;
  await h.run({ text: text("fixed before the run") });
  assertEquals(runs, [], "same text: nothing reruns");
  h.lines.length = 0;
  const summary = await h.run({ text: text("fixed before the run; seeds raised by a rule") });
  assertEquals(runs, ["toy/page"]);
  assertEquals(summary.cached, ["data"]);
  assert(
    h.lines.includes("[toy] page: running (the pipeline's title, description, budget or design changed)"),
    h.lines.join("\n"),
  );
  const page = (await readLockfile(lockfilePath(h.results, "toy")))!.stages.page;
  assertStrictEquals(
    JSON.parse(await Deno.readTextFile(join(h.results, "toy", page.outDir ?? "page", "outputs.json"))).design,
    "fixed before the run; seeds raised by a rule",
  );
});

Deno.test("a parameter added later keeps the records at its default; another value reruns", async () => {
  await using h = await harness();
  await h.run();
  const withStep = (addedLater: boolean) =>
    new StageKindRegistry([
      {
        ...rangeKind,
        params: { ...rangeKind.params, step: { type: "integer", doc: "stride", default: 1, addedLater } },
      },
      fitKind,
      summariseKind,
      pageKind,
    ]);
  runs.length = 0;
  await h.run({ kinds: withStep(true) });
  assertEquals(runs, [], "at its default the new parameter changes no identity");
  h.lines.length = 0;
  await h.run({ kinds: withStep(true), sets: ["side.step=2"] });
  assertEquals(runs, ["toy/side"]);
  assert(h.lines.includes("[toy] side: running (params changed: step unset -> 2)"), h.lines.join("\n"));
  // Without the flag the same default is a change: every record of the kind reruns (data's outputs come out
  // the same, so what needs it does not).
  runs.length = 0;
  await h.run({ kinds: withStep(false) });
  assertEquals(runs, ["toy/data", "toy/side"]);
});

Deno.test("--force reruns named stages; identical outputs do not rerun dependants", async () => {
  await using h = await harness();
  await h.run();
  runs.length = 0;
  const summary = await h.run({ force: (instance) => instance.stage === "data" });
  // data reran and produced byte-identical outputs, so nothing downstream of it needed to run.
  assertEquals(runs, ["toy/data"]);
  assertStrictEquals(summary.decisions.find((d) => d.id === "data")!.reason, "forced");
  runs.length = 0;
  await h.run({ force: true });
  assertEquals(runs, ALL);
});

Deno.test("a stage that throws midway is not marked done and resumes in its outDir next time", async () => {
  await using h = await harness();
  failures.set("fit[lr=0.3]", 3);
  const first = await h.run();
  assertStrictEquals(first.ok, false);
  assertEquals(first.failed.map((f) => f.id), ["fit[lr=0.3]"]);
  assertEquals(first.blocked, ["summary"], "dependants of a failed stage are skipped");
  assertEquals(runs, ["toy/data", "toy/fit[lr=0.1]", "toy/fit[lr=0.3]", "toy/side"]);
  let lock = (await readLockfile(lockfilePath(h.results, "toy")))!;
  assertStrictEquals(lock.stages["fit[lr=0.3]"].status, "failed");
  assertMatch(lock.stages["fit[lr=0.3]"].error!, /simulated crash at epoch 3/);
  assertStrictEquals(lock.stages.summary, undefined);

  runs.length = 0;
  const second = await h.run();
  assert(second.ok);
  assertEquals(runs, ["toy/fit[lr=0.3]", "toy/summary"]);
  const fit = JSON.parse(await Deno.readTextFile(join(h.results, "toy/fit/lr=0.3/outputs.json")));
  assertStrictEquals(fit.resumedFrom, 2, "the stage found its checkpoint from the failed attempt");
  assertEquals(fit.history.map((entry: { epoch: number }) => entry.epoch), [1, 2, 3, 4, 5]);
  assert(
    h.lines.some((line) => /fit\[lr=0\.3\]: running \(previous attempt failed .*\), resuming/.test(line)),
  );

  // A killed process leaves status "running": also rerun, also resumed.
  lock = (await readLockfile(lockfilePath(h.results, "toy")))!;
  lock.stages.side.status = "running";
  await Deno.writeTextFile(lockfilePath(h.results, "toy"), JSON.stringify(lock));
  runs.length = 0;
  const third = await h.run({ dryRun: true });
  assertStrictEquals(
    third.decisions.find((d) => d.id === "side")!.reason,
    "previous attempt was interrupted",
  );
});

Deno.test("a rerun that fails keeps the finished record's files: restored when it wrote nothing, else set aside", async () => {
  await using h = await harness();
  await h.run();
  const folder = join(h.results, "toy/fit/lr=0.3");
  const before = {
    outputs: await Deno.readTextFile(join(folder, "outputs.json")),
    checkpoint: await Deno.readTextFile(join(folder, "checkpoint.json")),
    entry: (await readLockfile(lockfilePath(h.results, "toy")))!.stages["fit[lr=0.3]"],
  };
  const forceFit = { force: (instance: StageInstance) => instance.id === "fit[lr=0.3]" };

  // Fails before its first checkpoint: the record and every file of the finished run stand as they were.
  failures.set("fit[lr=0.3]", 1);
  const early = await h.run(forceFit);
  assertStrictEquals(early.ok, false);
  assertEquals((await readLockfile(lockfilePath(h.results, "toy")))!.stages["fit[lr=0.3]"], before.entry);
  assertStrictEquals(await Deno.readTextFile(join(folder, "outputs.json")), before.outputs);
  assertStrictEquals(await Deno.readTextFile(join(folder, "checkpoint.json")), before.checkpoint);
  assert(
    h.lines.some((line) =>
      /FAILED .*simulated crash at epoch 1; the previous record and its files are kept/.test(line)
    ),
  );
  runs.length = 0;
  await h.run();
  assertEquals(runs, [], "the restored record is reused");

  // Fails after writing checkpoints: they stay for a resume, the finished run's files wait beside them.
  failures.set("fit[lr=0.3]", 3);
  await h.run(forceFit);
  const aside = join(h.results, "toy/.previous/fit/lr=0.3");
  assertStrictEquals(
    (await readLockfile(lockfilePath(h.results, "toy")))!.stages["fit[lr=0.3]"].status,
    "failed",
  );
  assertStrictEquals(await Deno.readTextFile(join(aside, "outputs.json")), before.outputs);
  assertStrictEquals(await Deno.readTextFile(join(aside, "checkpoint.json")), before.checkpoint);
  assert(h.lines.some((line) => line.includes(`the previous record's files are in ${aside}`)));
  // The resumed run finishes; the set-aside folder is superseded and goes.
  await h.run();
  const fit = JSON.parse(await Deno.readTextFile(join(folder, "outputs.json")));
  assertStrictEquals(fit.resumedFrom, 2);
  await Deno.stat(aside).then(() => assert(false, `${aside} is still there`), () => {});
});

Deno.test("numerics, dataset and on-disk output changes rerun the affected stages", async () => {
  await using h = await harness();
  await h.run();
  assert(
    probeDirs.length >= 2 && probeDirs.every((dir) => !dir.startsWith(h.results)),
    "probes use scratch",
  );
  runs.length = 0;
  // Rounding-sized differences (another adapter, another summation order) keep the stage cached.
  probed = { code: "v1", value: 1 + 1e-6 };
  let summary = await h.run();
  assertMatch(summary.decisions.find((d) => d.id === "side")!.reason, /numerics equal within rounding/);
  assertEquals(runs, []);
  probed = { code: "v1", value: 1.01 };
  summary = await h.run();
  assertStrictEquals(summary.decisions.find((d) => d.id === "side")!.reason, "numerics changed: value");
  assertEquals(runs, ["toy/data", "toy/side"], "same outputs, so fit stays cached");
  runs.length = 0;
  probed = { code: "v2", value: 1.01 };
  summary = await h.run();
  assertStrictEquals(summary.decisions.find((d) => d.id === "side")!.reason, "numerics changed: code");
  assertEquals(runs, ["toy/data", "toy/side"]);
  runs.length = 0;
  summary = await h.run();
  assertMatch(summary.decisions.find((d) => d.id === "side")!.reason, /numerics bit-identical/);
  assertEquals(runs, []);

  runs.length = 0;
  datasetVersion = "v2";
  summary = await h.run();
  assertStrictEquals(summary.decisions.find((d) => d.id === "data")!.reason, "datasets changed: toy-dataset");
  assertEquals(runs, ["toy/data", "toy/side"]);

  runs.length = 0;
  await Deno.writeTextFile(join(h.results, "toy/side/values.json"), "[0]");
  summary = await h.run();
  assertStrictEquals(
    summary.decisions.find((d) => d.id === "side")!.reason,
    "outputs missing or changed on disk",
  );
  assertEquals(runs, ["toy/side"]);
});

Deno.test("the same code identity reuses without probing; another one probes and is recorded once confirmed", async () => {
  await using h = await harness();
  const lockText = () => Deno.readTextFile(lockfilePath(h.results, "toy"));
  const sideReason = (s: PipelineRunSummary) => s.decisions.find((d) => d.id === "side")!.reason;
  await h.run({ code: "tree-A" });
  const lock = (await readLockfile(lockfilePath(h.results, "toy")))!;
  assertStrictEquals(lock.stages.side.verifiedCode, "tree-A", "a stage that ran records the code it ran on");
  assertStrictEquals(lock.stages.data.verifiedCode, "tree-A");
  assertStrictEquals(lock.stages.summary.verifiedCode, undefined, "a kind without a probe records none");

  // Same identity: no probe at all, even though the probe would now disagree, and the lockfile is untouched.
  const before = await lockText();
  probeDirs.length = 0;
  runs.length = 0;
  probed = { code: "v2", value: 1 };
  let summary = await h.run({ code: "tree-A", dryRun: true });
  assertMatch(sideReason(summary), /not probed: same code and adapter/);
  summary = await h.run({ code: "tree-A" });
  assertEquals(runs, []);
  assertEquals(probeDirs, []);
  assertStrictEquals(await lockText(), before);

  // Another identity (a comment changed somewhere): probed; equal numerics keep the outputs and record it.
  probed = { code: "v1", value: 1 };
  summary = await h.run({ code: "tree-B", dryRun: true });
  assertMatch(sideReason(summary), /numerics bit-identical/);
  assertStrictEquals(await lockText(), before, "a dry run writes nothing");
  summary = await h.run({ code: "tree-B" });
  assertEquals(runs, []);
  assert(probeDirs.length >= 2);
  const after = (await readLockfile(lockfilePath(h.results, "toy")))!;
  assertStrictEquals(after.stages.side.verifiedCode, "tree-B");
  assertStrictEquals(after.stages.side.fingerprint!.exact.code, "v1");
  assertStrictEquals(
    after.stages.side.finishedAt,
    lock.stages.side.finishedAt,
    "the record of the run is kept",
  );
  probeDirs.length = 0;
  const confirmed = await lockText();
  await h.run({ code: "tree-B" });
  assertEquals(probeDirs, []);
  assertStrictEquals(await lockText(), confirmed);

  // Another identity whose numerics differ: rerun, as without an identity.
  probed = { code: "v3", value: 1 };
  summary = await h.run({ code: "tree-C" });
  assertStrictEquals(sideReason(summary), "numerics changed: code");
  assertEquals(runs, ["toy/data", "toy/side"]);
  assertStrictEquals(
    (await readLockfile(lockfilePath(h.results, "toy")))!.stages.side.verifiedCode,
    "tree-C",
  );
});

Deno.test("a file a stage publishes outside its folder is part of its outputs: a changed byte reruns it", async () => {
  await using h = await harness();
  const publishKind: StageKind = {
    name: "publish",
    description: "writes a file into the project",
    params: {},
    async run(ctx) {
      runs.push(`${ctx.pipeline}/${ctx.id}`);
      await Deno.mkdir(join(ctx.projectRoot, "models"), { recursive: true });
      await Deno.writeTextFile(join(ctx.projectRoot, "models/m.bin"), "weights");
      return { published: { model: "models/m.bin" } };
    },
  };
  const text = `title: Publish\nstages:\n  publish:\n    kind: publish\n`;
  const local = new StageKindRegistry([publishKind]);
  const run = () =>
    runPipeline(planPipeline(parsePipeline("pipelines/p.yaml", text, local), local, { preset: "cpu" }), {
      resultsDir: h.results,
      projectRoot: h.root,
      log: () => {},
    });
  await run();
  runs.length = 0;
  assertEquals((await run()).cached, ["publish"]);
  await Deno.writeTextFile(join(h.root, "models/m.bin"), "weightz");
  const summary = await run();
  assertStrictEquals(summary.decisions[0].reason, "outputs missing or changed on disk");
  assertEquals(runs, ["p/publish"]);
});

Deno.test("absent data: a record checked under the same code stands in for it; other code needs the data", async () => {
  await using h = await harness();
  await h.run({ code: "c1" });
  const lock = await Deno.readTextFile(lockfilePath(h.results, "toy"));
  datasetAbsent = true;
  runs.length = 0;
  probeDirs.length = 0;
  const reused = await h.run({ code: "c1" });
  assertEquals(runs, []);
  assertEquals(probeDirs, [], "nothing probed");
  assert(reused.ok);
  assertEquals(reused.cached, ALL.map((id) => id.slice(4)));
  assertEquals(reused.absentInputs, [{ name: "toy-dataset", remedy: "fetch toy-dataset" }]);
  assertStrictEquals(
    await Deno.readTextFile(lockfilePath(h.results, "toy")),
    lock,
    "the record is untouched",
  );
  // Other code: the stages reading the data must be probed, so the pipeline needs the data (not a failure).
  for (const dryRun of [true, false]) {
    const needs = await h.run({ code: "c2", dryRun });
    assertEquals(runs, []);
    assertStrictEquals(needs.ok, false);
    assertEquals(needs.failed, []);
    assertEquals(needs.needsData.map((n) => n.id), ["data", "side"]);
    assertEquals(needs.blocked, ["fit[lr=0.1]", "fit[lr=0.3]", "summary"]);
    assertMatch(h.lines.join("\n"), /\[toy\] data: .*needs data .*fetch toy-dataset/);
  }
  assertStrictEquals(await Deno.readTextFile(lockfilePath(h.results, "toy")), lock, "still untouched");
});

Deno.test("another build of a dataset than the record's is said once, with what would rerun", async () => {
  await using h = await harness();
  await h.run();
  datasetVersion = "v2";
  h.lines.length = 0;
  await h.run({ dryRun: true });
  const said = h.lines.filter((line) => line.includes("recorded on"));
  assertEquals(said.length, 1, h.lines.join("\n"));
  assertMatch(
    said[0],
    /^\[toy\] toy-dataset: recorded on sha-v1, here sha-v2: 4 stages would rerun, about 0\.0 CPU-hours/,
  );
});

Deno.test("absent data with FETCH_INPUTS: fetched only where the record cannot stand in", async () => {
  await using h = await harness();
  await h.run({ code: "c1" });
  datasetAbsent = true;
  const fetch = new Map<string, unknown>([[FETCH_INPUTS, true]]);
  const reused = await h.run({ code: "c1", resources: fetch });
  assert(reused.ok);
  assertStrictEquals(fetched, 0, "the records stood in: nothing fetched");
  runs.length = 0;
  const probedCode = await h.run({ code: "c2", resources: fetch });
  assertStrictEquals(fetched, 1, "fetched once, then the other stage found it");
  assert(probedCode.ok);
  assertEquals(runs, [], "probed and confirmed, nothing ran");
  assertEquals(probedCode.needsData, []);
});
