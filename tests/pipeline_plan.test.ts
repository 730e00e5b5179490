import { assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { armDirName, crossMatrix, substituteMatrix } from "../src/pipeline/matrix.ts";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { parseSetArgument, planPipeline } from "../src/pipeline/plan.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import type { StageKind } from "../src/pipeline/types.ts";

const kind = (name: string, params: StageKind["params"]): StageKind => ({
  name,
  description: name,
  params,
  run: () => Promise.resolve({}),
});
const registry = new StageKindRegistry([
  kind("prepare", { size: { type: "integer", doc: "image size", default: 32 } }),
  kind("train", {
    epochs: { type: "integer", doc: "epochs", default: 10 },
    lr: { type: "number", doc: "learning rate", default: 0.01 },
    lrn: { type: "enum", values: ["on", "off"], doc: "LRN", default: "on" },
    pool: { type: "string", doc: "pooling", default: "overlap" },
    tag: { type: "string", doc: "run tag", default: "" },
    widths: { type: "number[]", doc: "layer widths", default: [64, 64] },
  }),
  kind("compare", {}),
]);

const PIPELINE = `title: Plan test
seed: 4
matrix:
  lrn: [on, off]
  pool: [overlap, non-overlap]
presets:
  smoke: {train.epochs: 1, train.lr: 0.1, seed: 9}
stages:
  prepare: {kind: prepare}
  train:
    kind: train
    foreach: matrix
    needs: prepare
    params:
      epochs: 5
      lrn: \${matrix.lrn}
      pool: \${matrix.pool}
      tag: "lrn-\${matrix.lrn}/pool-\${matrix.pool}"
  eval:
    kind: train
    foreach: matrix
    needs: train
  compare: {kind: compare, needs: [eval, prepare]}
`;

const definition = parsePipeline("pipelines/plan.yaml", PIPELINE, registry);

Deno.test("the matrix is crossed, first axis slowest, with readable ids and directories", () => {
  const arms = crossMatrix(definition.matrix);
  assertEquals(arms, [
    { lrn: "on", pool: "overlap" },
    { lrn: "on", pool: "non-overlap" },
    { lrn: "off", pool: "overlap" },
    { lrn: "off", pool: "non-overlap" },
  ]);
  assertStrictEquals(armDirName({ lrn: "on", note: "a b/c" }), "lrn=on,note=a_b_c");
  assertEquals(substituteMatrix({ a: "${matrix.n}", b: ["x${matrix.n}"] }, { n: 3 }), {
    a: 3,
    b: ["x3"],
  });

  const plan = planPipeline(definition, registry, { preset: "cpu" });
  assertEquals(plan.instances.map((i) => i.id), [
    "prepare",
    "train[lrn=on,pool=overlap]",
    "train[lrn=on,pool=non-overlap]",
    "train[lrn=off,pool=overlap]",
    "train[lrn=off,pool=non-overlap]",
    "eval[lrn=on,pool=overlap]",
    "eval[lrn=on,pool=non-overlap]",
    "eval[lrn=off,pool=overlap]",
    "eval[lrn=off,pool=non-overlap]",
    "compare",
  ]);
  const train = plan.instances[2];
  assertStrictEquals(train.outDirRel, "train/lrn=on,pool=non-overlap");
  assertEquals(train.matrix, { lrn: "on", pool: "non-overlap" });
  assertStrictEquals(train.params.tag, "lrn-on/pool-non-overlap");
  assertEquals(train.needs, [{ stage: "prepare", ids: ["prepare"], asArray: false }]);
  assertEquals(plan.instances[6].needs, [
    { stage: "train", ids: ["train[lrn=on,pool=non-overlap]"], asArray: false },
  ], "matrix needing matrix: the same arm");
  const compare = plan.instances[9];
  assertEquals(compare.needs[0].ids.length, 4, "non-matrix needing matrix: every arm");
  assertStrictEquals(compare.needs[0].asArray, true);
  assertStrictEquals(compare.needs[1].asArray, false);
});

Deno.test("parameter precedence: schema default < file < preset < --set; seed likewise", () => {
  const cpu = planPipeline(definition, registry, { preset: "cpu" });
  const cpuTrain = cpu.instances[1].params;
  assertEquals(
    [cpuTrain.epochs, cpuTrain.lr, cpuTrain.widths, cpu.seed],
    [5, 0.01, [64, 64], 4],
    "file over defaults; cpu declares no overrides",
  );
  const smoke = planPipeline(definition, registry, { preset: "smoke" });
  assertEquals([smoke.instances[1].params.epochs, smoke.instances[1].params.lr, smoke.seed], [1, 0.1, 9]);
  assertStrictEquals(smoke.instances[4].params.epochs, 1, "a preset key applies to every arm");
  assertStrictEquals(smoke.instances[5].params.epochs, 10, "but not to another stage");
  assertStrictEquals(smoke.instances[5].params.lrn, "on", "stages without the reference keep their default");

  const sets = ["train.epochs=3", "train.widths=[32, 16]", "seed=11", "train.tag=on"].map(parseSetArgument);
  const overridden = planPipeline(definition, registry, { preset: "smoke", sets });
  const train = overridden.instances[1].params;
  assertEquals([train.epochs, train.widths, train.tag, overridden.seed], [3, [32, 16], "on", 11]);
  assertEquals(overridden.overrides, {
    "train.epochs": 3,
    "train.widths": [32, 16],
    "seed": 11,
    "train.tag": "on",
  });
  assertStrictEquals(overridden.instances[5].params.epochs, 10, "--set train.* does not touch eval");
});

Deno.test("--set values are read as YAML scalars", () => {
  assertEquals(parseSetArgument("a.b=3").value, 3);
  assertEquals(parseSetArgument("a.b=0.5").value, 0.5);
  assertEquals(parseSetArgument("a.b=true").value, true);
  assertEquals(parseSetArgument("a.b=off").value, "off");
  assertEquals(parseSetArgument("a.b=x=y").value, "x=y");
  assertEquals(parseSetArgument("a.b=").value, "");
});

Deno.test("a stage pattern in a preset or --set sets a parameter on every stage it matches; a named stage wins", () => {
  const text = `title: Patterns
presets:
  cpu: {"*.lr": 0.5, train_a.lr: 0.2, train*.epochs: 2}
stages:
  train_a: {kind: train}
  train_b: {kind: train}
  other: {kind: train}
`;
  const d = parsePipeline("pipelines/patterns.yaml", text, registry);
  const plan = planPipeline(d, registry, { preset: "cpu", sets: [parseSetArgument("train_b*.epochs=7")] });
  const params = Object.fromEntries(plan.instances.map((i) => [i.id, [i.params.lr, i.params.epochs]]));
  assertEquals(params, { train_a: [0.2, 2], train_b: [0.5, 7], other: [0.5, 10] });
  const bad = (line: string) => {
    try {
      parsePipeline("pipelines/patterns.yaml", text.replace("train*.epochs: 2", line), registry);
    } catch (error) {
      return String((error as Error).message);
    }
    return "";
  };
  assertMatch(bad(`nope*.epochs: 2`), /no stage matches "nope\*"/);
  assertMatch(bad(`"*.size": 2`), /stage "train_a" \(kind "train"\) has no parameter "size"/);
  assertMatch(bad(`train*.epochs: "x"`), /stage "train_a": expected integer/);
});
