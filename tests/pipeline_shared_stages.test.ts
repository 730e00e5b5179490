// Identical stages train once: two pipelines whose stages compute the same (equal resolved configurations,
// seeds, upstream outputs and datasets) although their display-only labels, matrix values and spelled-out
// defaults differ, run it once; the other reuses that run, keeps its own label, and its page says where the
// run came from. The recorded compute counts it once.

import { assert, assertEquals, assertMatch, assertNotEquals, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { runReproduceCli } from "../src/pipeline/cli.ts";
import { type Lockfile, lockfilePath, readLockfile, recordedComputeMs } from "../src/pipeline/lockfile.ts";
import type { StageKind, StageResult } from "../src/pipeline/types.ts";
import { reportStageKind } from "../src/experiments/report_stage.ts";
import { snapshotTree } from "./helpers/tree.ts";

const runs: string[] = [];

const dataKind: StageKind = {
  name: "numbers",
  description: "numbers 1..n",
  params: { n: { type: "integer", doc: "how many", default: 4 } },
  resolvedConfig: ({ params }) => params,
  run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    return Promise.resolve({ values: Array.from({ length: ctx.params.n as number }, (_, i) => i + 1) });
  },
};

const WIDTHS: Record<string, number> = { narrow: 1, mid: 2, wide: 3 };

/**
 * A "training": its net is `width` wide, `default` meaning mid; `label` only names the run. So `width: default`
 * and `width: mid` are one computation, whatever the label or the matrix value that chose them.
 */
const trainKind: StageKind = {
  name: "train",
  description: "a stand-in for training",
  seeds: "each",
  params: {
    width: {
      type: "enum",
      values: ["default", "narrow", "mid", "wide"],
      default: "default",
      doc: "net width",
    },
    label: { type: "string", default: "", doc: "name of the run on pages" },
  },
  resolvedConfig: ({ params }) => ({ width: params.width === "default" ? "mid" : params.width }),
  adoptOutputs: (outputs, params) => ({ ...outputs, label: params.label }),
  keptFiles: () => ["weights.bin"],
  fingerprint: () => Promise.resolve({ exact: { code: "train-v1" }, measures: { loss: [0.25] } }),
  async run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    const width = WIDTHS[ctx.params.width === "default" ? "mid" : ctx.params.width as string];
    const values = (ctx.inputs.data as StageResult).outputs.values as number[];
    // Some recorded time, so the page's compute line has something to count.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await Deno.writeFile(join(ctx.outDir, "weights.bin"), new Uint8Array(1024).fill(width + ctx.seed));
    return {
      label: ctx.params.label,
      error: 1 / (width * values.length + ctx.seed),
      scale: `width ${width}`,
    };
  },
};

/** Opens its training's weights, as an evaluation opens a checkpoint. */
const inspectKind: StageKind = {
  name: "inspect",
  description: "reads the trained weights",
  params: {},
  readsUpstreamFiles: true,
  async run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    const train = ctx.inputs.train as StageResult;
    return { bytes: (await Deno.readFile(join(train.outDir, "weights.bin"))).length };
  },
};

const pipeline = (title: string, axis: string, values: string[], baseline: string) =>
  `title: ${title}
claims: [overlap]
seeds: 2
matrix:
  ${axis}: [${values.join(", ")}]
stages:
  data: { kind: numbers }
  train:
    kind: train
    foreach: matrix
    needs: data
    params: { width: "\${matrix.${axis}}", label: "${title} \${matrix.${axis}}" }
  report:
    kind: report
    needs: [train]
    params:
      sections:
        - claims:
            - claim: overlap
              metric: top-1
              difference: ["train[${axis}=${values[0]}].error", "train[${axis}=${baseline}].error"]
`;

// `one`'s baseline arm spells the default out; `two` compares against the default itself.
const ONE = pipeline("One", "size", ["wide", "mid"], "mid");
const TWO = pipeline("Two", "width", ["narrow", "default"], "default");

async function project() {
  const root = await Deno.makeTempDir({ prefix: "pipeline-shared-" });
  await Deno.mkdir(join(root, "pipelines"));
  await Deno.writeTextFile(join(root, "pipelines", "one.yaml"), ONE);
  await Deno.writeTextFile(join(root, "pipelines", "two.yaml"), TWO);
  const lines: string[] = [];
  const cli = async (results: string, ...args: string[]) => {
    lines.length = 0;
    runs.length = 0;
    const code = await runReproduceCli(["--preset", "cpu", "--results", results, ...args], {
      stageKinds: [dataKind, trainKind, inspectKind, reportStageKind],
      chooseDefaultPreset: () => "cpu",
      codeIdentity: () => Promise.resolve("code-1"),
      projectRoot: root,
      log: (line) => lines.push(line),
    });
    assertStrictEquals(code, 0, lines.join("\n"));
    return [...runs];
  };
  const lock = async (results: string, name: string) =>
    (await readLockfile(lockfilePath(join(root, results), name)))!;
  return {
    root,
    cli,
    lock,
    output: () => lines.join("\n"),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

Deno.test("two pipelines sharing an identical stage: it runs once, the other reuses it and says so", async () => {
  await using p = await project();
  const ran = await p.cli("results");
  assertEquals(ran, [
    "one/data",
    "one/train[size=wide,seed=1]",
    "one/train[size=wide,seed=2]",
    "one/train[size=mid,seed=1]",
    "one/train[size=mid,seed=2]",
    // two's data and its default-width arm are one's: reused, not run.
    "two/train[width=narrow,seed=1]",
    "two/train[width=narrow,seed=2]",
  ]);
  assertMatch(
    p.output(),
    /\[two\] train\[width=default,seed=1\]: reused one\/train\[size=mid,seed=1\]'s run/,
  );
  const two = await p.lock("results", "two");
  const one = await p.lock("results", "one");
  const reused = two.stages["train[width=default,seed=2]"];
  assertEquals(reused.reusedFrom, {
    pipeline: "one",
    id: "train[size=mid,seed=2]",
    outDir: "one/train/size=mid,seed=2",
  });
  assertStrictEquals(reused.runKey, one.stages["train[size=mid,seed=2]"].runKey);
  assertStrictEquals(reused.durationMs, one.stages["train[size=mid,seed=2]"].durationMs);

  // Its own label, the other run's numbers and files (linked).
  const outputs = (pipeline: string, dir: string) =>
    Deno.readTextFile(join(p.root, "results", pipeline, "train", dir, "outputs.json")).then(JSON.parse);
  const mine = await outputs("two", "width=default,seed=2");
  const theirs = await outputs("one", "size=mid,seed=2");
  assertStrictEquals(mine.label, "Two default");
  assertStrictEquals(theirs.label, "One mid");
  assertStrictEquals(mine.error, theirs.error);
  const weights = (pipeline: string, dir: string) =>
    Deno.stat(join(p.root, "results", pipeline, "train", dir, "weights.bin"));
  assertStrictEquals(
    (await weights("two", "width=default,seed=2")).ino,
    (await weights("one", "size=mid,seed=2")).ino,
  );
  assertNotEquals(reused.outputHash, one.stages["train[size=mid,seed=2]"].outputHash, "the label is its own");

  // The page says where the run came from; the recorded compute counts it once.
  const page = await Deno.readTextFile(join(p.root, "results/two/report/index.html"));
  assertMatch(
    page,
    /train\[width=default,seed=1\]<\/code> \(the run of <code>one\/train\[size=mid,seed=1\]<\/code>\)/,
  );
  assertMatch(page, /3 of them are the runs of identical stages elsewhere, reused here/);
  const all = (locks: Lockfile[]) => locks.flatMap((l) => Object.values(l.stages));
  const sum = (locks: Lockfile[]) => all(locks).reduce((total, entry) => total + (entry.durationMs ?? 0), 0);
  const shared = ["data", "train[width=default,seed=1]", "train[width=default,seed=2]"]
    .reduce((total, id) => total + (two.stages[id].durationMs ?? 0), 0);
  assertStrictEquals(recordedComputeMs([one, two]), sum([one, two]) - shared);

  // Stable: the next run changes nothing.
  const before = await snapshotTree(join(p.root, "results"));
  assertEquals(await p.cli("results"), []);
  assertEquals(await snapshotTree(join(p.root, "results")), before);
  // The dry run of a pipeline alone says the same.
  await Deno.remove(join(p.root, "results/two"), { recursive: true });
  await p.cli("results", "two", "--dry-run");
  assertMatch(
    p.output(),
    /\[two\] train\[width=default,seed=1\]: cached \(same computation as one\/train\[size=mid,seed=1\], finished \S+, not probed: checked under the same code and adapter\)/,
  );
  assertMatch(p.output(), /\[two\] train\[width=narrow,seed=1\]: would run \(new\)/);
});

Deno.test("records made before run keys: the first pipeline keeps its run, the later one reuses it", async () => {
  await using p = await project();
  // Each pipeline ran on its own (as the committed ablations did), then the records meet in one folder.
  await p.cli("a", "one");
  await p.cli("b", "two");
  await Deno.rename(join(p.root, "b/two"), join(p.root, "a/two"));
  for (const name of ["one", "two"]) {
    const path = lockfilePath(join(p.root, "a"), name);
    const lock = JSON.parse(await Deno.readTextFile(path)) as Lockfile;
    for (const entry of Object.values(lock.stages)) delete entry.runKey;
    await Deno.writeTextFile(path, JSON.stringify(lock, null, 2));
  }
  assertEquals(await p.cli("a"), [], "nothing runs");
  const two = await p.lock("a", "two");
  assertStrictEquals(two.stages["train[width=default,seed=1]"].reusedFrom?.pipeline, "one");
  assertStrictEquals(two.stages.data.reusedFrom?.pipeline, "one");
  assertStrictEquals(two.stages["train[width=narrow,seed=1]"].reusedFrom, undefined);
  const one = await p.lock("a", "one");
  assert(Object.values(one.stages).every((entry) => !entry.reusedFrom), "one keeps its own runs");
  // Converged: a second run changes nothing.
  const before = await snapshotTree(join(p.root, "a"));
  assertEquals(await p.cli("a"), []);
  assertEquals(await snapshotTree(join(p.root, "a")), before);
});

Deno.test("a run whose kept files are not here is reused only where nothing that opens them runs on it", async () => {
  await using p = await project();
  await p.cli("results", "one");
  // one's first seed of the mid net lost its weights (records from git have none).
  await Deno.remove(join(p.root, "results/one/train/size=mid,seed=1/weights.bin"));
  const three = `title: Three
seeds: 2
stages:
  data: { kind: numbers }
  train: { kind: train, needs: data, params: { width: mid } }
  inspect: { kind: inspect, needs: train }
`;
  await Deno.writeTextFile(join(p.root, "pipelines", "three.yaml"), three);
  // three opens the weights: seed 1 trains again, seed 2 reuses one's run (its weights are here).
  assertEquals(await p.cli("results", "three"), [
    "three/train[seed=1]",
    "three/inspect[seed=1]",
    "three/inspect[seed=2]",
  ]);
  assertMatch(p.output(), /\[three\] train\[seed=2\]: reused one\/train\[size=mid,seed=2\]'s run/);
  // two opens nothing: it reuses the run without weights (preferring three's, which has them, for seed 1).
  assertEquals(await p.cli("results", "two"), [
    "two/train[width=narrow,seed=1]",
    "two/train[width=narrow,seed=2]",
  ]);
  const two = await p.lock("results", "two");
  assertStrictEquals(two.stages["train[width=default,seed=1]"].reusedFrom?.pipeline, "three");
  // A record that has its weights is not traded for one that has none; one without takes one with.
  assertEquals(await p.cli("results", "three"), []);
  assertStrictEquals((await p.lock("results", "three")).stages["train[seed=1]"].reusedFrom, undefined);
  assertEquals(await p.cli("results", "one"), []);
  const one = await p.lock("results", "one");
  assertStrictEquals(one.stages["train[size=mid,seed=1]"].reusedFrom?.pipeline, "three");
  await Deno.stat(join(p.root, "results/one/train/size=mid,seed=1/weights.bin"));
});
