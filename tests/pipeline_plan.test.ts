import { assertEquals, assertStrictEquals } from "@std/assert";
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
