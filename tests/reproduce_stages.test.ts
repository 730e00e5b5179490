// The reproduce stage kinds' pure parts: iteration counting, nearest neighbours, the colour index, the reduced
// AlexNet's shapes, and the checks pipelines get before anything runs.

import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { compareIterations } from "../src/experiments/iterations.ts";
import { firstStepAtOrBelow, smooth } from "../src/train/curve.ts";
import { plannedDataSizes } from "../src/experiments/dataset.ts";
import { schemaDefaults } from "../src/pipeline/schema.ts";
import { formatFlop } from "../src/pipeline/runner.ts";
import { macsPerImage } from "../src/nn/spec.ts";
import { cifarAlexnet } from "../src/models/cifar.ts";
import { nearest, pickQueries } from "../src/experiments/neighbours_figure.ts";
import { pixelSameClassShare, sameClassShare } from "../src/experiments/neighbour_share.ts";
import { colourIndex } from "../src/experiments/kernel_measures.ts";
import { alexnetMini } from "../src/models/alexnet_mini.ts";
import { buildModelFor, estimateTraining, trainStageKind, withInitStd } from "../src/experiments/train.ts";
import { REPRODUCE_STAGE_KINDS } from "../src/experiments/stage_kinds.ts";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { planPipeline } from "../src/pipeline/plan.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { formatIssue, PipelineValidationError } from "../src/pipeline/errors.ts";
import { resolveModel } from "../src/nn/spec.ts";
import type { ImageSet } from "../src/data/index.ts";

const curve = (errors: number[], every = 10) => errors.map((error, i) => ({ step: (i + 1) * every, error }));

Deno.test("iterations to a training error: the first level both arms reach, else a lower bound", () => {
  const relu = { name: "relu", curve: curve([0.8, 0.5, 0.3, 0.24, 0.2]), steps: 50 };
  const tanh = { name: "tanh", curve: curve([0.9, 0.8, 0.6, 0.45, 0.35]), steps: 50 };
  // tanh never reaches 25%, but both reach 35%.
  const r = compareIterations(tanh, relu, [0.25, 0.35, 0.5]);
  assertStrictEquals(r.threshold, 0.35);
  assertStrictEquals(r.primary, false);
  assertEquals(r.iterations, { tanh: 50, relu: 30 });
  assert(Math.abs(r.ratio! - 50 / 30) < 1e-12);
  assertStrictEquals(r.lowerBound, false);
  // Only the faster arm reaches the only level: the ratio is a lower bound over the slower arm's steps.
  const bound = compareIterations(tanh, relu, [0.25]);
  assertStrictEquals(bound.lowerBound, true);
  assertStrictEquals(bound.ratio, 50 / 40);
  assertStrictEquals(compareIterations(tanh, relu, [0.1]).ratio, null);
  // No thresholds: the best level both reached (the higher of the two minima).
  const auto = compareIterations(tanh, relu, []);
  assertStrictEquals(auto.threshold, 0.35);
  assertEquals(smooth(curve([1, 0, 1, 0]), 2).map((p) => p.error), [1, 0.5, 0.5, 0.5]);
  assertStrictEquals(firstStepAtOrBelow(curve([0.9, 0.2]), 0.25), 20);
});

Deno.test("nearest neighbours by Euclidean distance, and queries spread over classes", () => {
  const rows = Float32Array.from([0, 0, 3, 4, 1, 1, 10, 10]);
  const found = nearest(rows, 2, Float32Array.from([1, 0]), 2);
  assertEquals(found.map((f) => f.index), [0, 2]);
  assertStrictEquals(found[0].distance, 1);
  const set = { count: 5, labels: Int32Array.from([2, 2, 0, 1, 0]) } as unknown as ImageSet;
  assertEquals(pickQueries(set, 4), [0, 2, 3, 1]);
});

Deno.test("Figure 4 over every test image: the same-class share of the k nearest, as nearest() finds them", () => {
  // By hand: rows on a line at 0, 1, 2, 10 (labels a a b b); queries at 0.4 (a: 0 and 1, both a) and 1.6
  // (b: 2 and 1, one b), k = 2.
  const line = Float32Array.from([0, 1, 2, 10]);
  assertStrictEquals(
    sameClassShare(line, [0, 0, 1, 1], Float32Array.from([0.4, 1.6]), [0, 1], 1, 2),
    (1 + 0.5) / 2,
  );
  // Against nearest() on random vectors (odd dimension, so the four-way partial sums have a tail).
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const dim = 7, n = 40, m = 9, k = 3;
  const rows = Float32Array.from({ length: n * dim }, next),
    queries = Float32Array.from({ length: m * dim }, next);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const queryLabels = Int32Array.from({ length: m }, (_, i) => i % 2);
  let want = 0;
  for (let q = 0; q < m; q++) {
    const near = nearest(rows, dim, queries.subarray(q * dim, (q + 1) * dim), k);
    want += near.filter((f) => labels[f.index] === queryLabels[q]).length / k;
  }
  assert(Math.abs(sameClassShare(rows, labels, queries, queryLabels, dim, k) - want / m) < 1e-12);
  // Pixels: byte images; a test image equal to a training image finds it first.
  const image = (count: number, bytes: number[], labels: number[]) =>
    ({
      channels: 1,
      height: 1,
      width: 2,
      count,
      pixels: Uint8Array.from(bytes),
      labels: Int32Array.from(labels),
    }) as unknown as ImageSet;
  const train = image(3, [0, 0, 255, 255, 250, 0], [0, 1, 2]);
  assertStrictEquals(pixelSameClassShare(train, image(2, [255, 255, 240, 10], [1, 0]), 1), 0.5);
  assertStrictEquals(pixelSameClassShare(train, image(2, [255, 255, 240, 10], [1, 2]), 1), 1);
  assertThrows(
    () => pixelSameClassShare(train, { ...image(1, [1, 2, 3], [0]), width: 3 }, 1),
    Error,
    "training images are 1x1x2, test images 1x1x3",
  );
  assertThrows(() => sameClassShare(line, [0, 0, 1, 1], [0], [0], 1, 5), Error, "fewer than k = 5");
});

Deno.test("colour index: 0 for grey kernels, high for single-channel ones", () => {
  const k = 2, plane = k * k;
  const grey = new Float32Array(3 * plane);
  const red = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    grey[p] = grey[plane + p] = grey[2 * plane + p] = p;
    red[p] = p;
  }
  assertStrictEquals(colourIndex(grey, 0, k), 0);
  assert(colourIndex(red, 0, k) > 0.6);
});

Deno.test("alexnet-mini: AlexNet's topology; 3/2 and 2/2 pooling give the same sizes; towers and depth", () => {
  const shapes = (o = {}) => resolveModel(alexnetMini(o)).map((l) => l.outShape.join("x"));
  assertEquals(shapes(), shapes({ pooling: "non-overlap" }));
  const two = alexnetMini(), one = alexnetMini({ towers: 1 });
  const conv = (spec: typeof two, name: string) =>
    spec.layers.find((l) => "name" in l && l.name === name) as { out: number; groups?: number };
  assertStrictEquals(conv(two, "conv2").groups, 2);
  assertStrictEquals(conv(one, "conv2").out * 2, conv(two, "conv2").out);
  assertStrictEquals(conv(two, "conv1").out, 32);
  assert(!alexnetMini({ shallower: true }).layers.some((l) => "name" in l && l.name === "conv4"));
  // The train stage's switches reach the model, and a wrong crop is explained.
  const base = {
    model: "alexnet-mini",
    lrn: "off",
    pooling: "default",
    activation: "default",
    dropout: "off",
    shallower: false,
    towers: "one",
  } as const;
  const built = buildModelFor(base, { classes: 10, channels: 3, inputSize: 55 });
  assertStrictEquals(built.name, "alexnet-mini-one-tower");
  assert(!built.layers.some((l) => l.type === "lrn" || l.type === "dropout"));
  const tooSmall = assertThrows(
    () =>
      buildModelFor({ ...base, model: "fig1-four-layer", towers: "default" }, {
        classes: 10,
        channels: 3,
        inputSize: 24,
      }),
    Error,
  );
  assertMatch(tooSmall.message, /takes 3x32x32 input.*set crop to 32/);
});

Deno.test("pipelines using these kinds are checked before anything runs", () => {
  const registry = new StageKindRegistry(REPRODUCE_STAGE_KINDS);
  const text = `title: t
matrix:
  activation: [relu, tanh]
stages:
  data:
    kind: dataset
    params: { kind: cifar10 }
  train:
    kind: train
    foreach: matrix
    params: { model: alexnet-mnii, lr_for: { sigmoid: 0.1 } }
  fig1:
    kind: relu-vs-tanh
    needs: train
    params: { axis: activaton }
`;
  let error: unknown;
  try {
    planPipeline(parsePipeline("pipelines/t.yaml", text, registry), registry, { preset: "smoke" });
  } catch (e) {
    error = e;
  }
  assert(error instanceof PipelineValidationError);
  const messages = error.issues.map(formatIssue).join("\n");
  assertMatch(messages, /a train stage needs a dataset stage/);
  assertMatch(messages, /unknown model "alexnet-mnii" \(did you mean "alexnet-mini"\?\)/);
  assertMatch(messages, /lr_for\.sigmoid: "sigmoid" is not a value of any matrix axis/);
  assertMatch(messages, /no matrix axis "activaton"/);
  assert(trainStageKind.params.model.required);
});

Deno.test("init_std replaces named layers' initial std, keeps their biases, and rejects unknown layers", () => {
  const base = {
    model: "alexnet-mini",
    lrn: "default",
    pooling: "default",
    activation: "default",
    dropout: "default",
    shallower: false,
    towers: "default",
  } as const;
  const size = { classes: 10, channels: 3, inputSize: 55 };
  const he = buildModelFor(base, size);
  const paper = buildModelFor({ ...base, init_std: { conv1: 0.01 } }, size);
  const params = (spec: typeof he, name: string) =>
    resolveModel(spec).flatMap((l) => l.params).find((p) => p.name === name)!;
  assertEquals(params(paper, "conv1.weight").init, { std: 0.01 });
  assertEquals(params(paper, "conv1.bias").init, params(he, "conv1.bias").init);
  assertEquals(params(paper, "conv2.weight").init, params(he, "conv2.weight").init);
  assert(Math.abs((params(he, "conv1.weight").init as { std: number }).std - Math.sqrt(2 / 363)) < 1e-12);
  assertMatch(paper.description, /conv1 init N\(0, 0\.01\)$/);
  assertThrows(
    () => withInitStd(he, { conv9: 0.01 }),
    Error,
    "conv9 is no layer with weights in alexnet-mini",
  );

  const registry = new StageKindRegistry(REPRODUCE_STAGE_KINDS);
  const text = `title: t
stages:
  data:
    kind: dataset
    params: { kind: imagenette, size: 64 }
  train:
    kind: train
    needs: data
    params: { model: alexnet-mini, shallower: true, crop: 55, init_std: { conv4: 0.01, conv1: 0 } }
`;
  const error = assertThrows(
    () => planPipeline(parsePipeline("pipelines/t.yaml", text, registry), registry, { preset: "smoke" }),
    PipelineValidationError,
  );
  const messages = error.issues.map(formatIssue).join("\n");
  assertMatch(
    messages,
    /init_std\.conv4: "conv4" is no layer with weights in alexnet-mini \(did you mean "conv1"\?\); its layers: conv1, conv2, conv3, conv5, fc6, fc7, fc8/,
  );
  assertMatch(messages, /init_std\.conv1: expected a positive std, got 0/);
});

Deno.test("dry-run estimates: a training's FLOPs from its model, data sizes, epochs and evaluations", () => {
  const data = {
    kind: "dataset",
    params: { kind: "cifar10", path: "", size: 0, limit_train: 0, limit_test: 0, validation: 0 },
  };
  assertEquals(plannedDataSizes(data.params as never), {
    train: 50000,
    test: 10000,
    image: [3, 32, 32],
    classes: 10,
  });
  const params = {
    ...schemaDefaults(trainStageKind.params),
    model: "cifar-alexnet",
    crop: 24,
    batch: 128,
    epochs: 2,
  } as never;
  const got = estimateTraining(params, { data: [data] })!;
  const macs = macsPerImage(cifarAlexnet({ inputSize: 24 }));
  // 390 full batches per epoch, two epochs; the test set evaluated after each.
  assertStrictEquals(got.flop, 6 * macs * 2 * 390 * 128 + 2 * macs * 2 * 10000);
  assertStrictEquals(
    estimateTraining(params, {
      data: [{ ...data, params: { ...data.params, kind: "image-folder", path: "/x" } }],
    }),
    undefined,
  );
  assertStrictEquals(formatFlop(3.2e15), "3.20 PFLOP");
  assertStrictEquals(formatFlop(5e11), "500 GFLOP");
  assertStrictEquals(formatFlop(0), "0 FLOP");
});
