// Early stop at a training error (Figure 1's "iterations to 25%") and the learning-rate sweep's choice.
import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { openDataset } from "../src/data/index.ts";
import type { ModelSpec } from "../src/nn/spec.ts";
import { train } from "../src/train/trainer.ts";
import { validateTrainConfig } from "../src/train/config.ts";
import { finalError, firstStepAtOrBelow, smooth } from "../src/train/curve.ts";
import type { TrainConfig } from "../src/train/types.ts";
import { chooseLearningRate } from "../src/experiments/lr_sweep.ts";
import { testGpu } from "./helpers/gpu.ts";

const tiny: ModelSpec = {
  name: "stop-test-cnn",
  description: "a tiny CNN for early-stop tests",
  input: [1, 28, 28],
  classes: 10,
  layers: [
    { type: "conv", name: "conv1", out: 6, kernel: 5, pad: 2, init: { std: 0.1 } },
    { type: "relu" },
    { type: "maxpool", size: 2, stride: 2 },
    { type: "fc", name: "fc2", out: 10, init: { std: 0.05 } },
  ],
};

function config(outDir: string, stopAt?: TrainConfig["stopAt"]): TrainConfig {
  return {
    model: tiny,
    data: { kind: "fashion-mnist", limitTrain: 320, limitTest: 100 },
    augment: { crop: 28, flip: false, pcaNoise: 0, mean: "image", scale: 1 / 255, tenCrop: false },
    optim: { lr: 0.02, momentum: 0.9, weightDecay: 0, batch: 32, schedule: { kind: "fixed" } },
    epochs: 3,
    seed: 3,
    outDir,
    resume: false,
    logEvery: 2,
    ...(stopAt ? { stopAt } : {}),
  };
}

Deno.test("curves: moving average, first step at a level, and the final error", () => {
  const curve = [0.9, 0.7, 0.5, 0.3, 0.1].map((error, i) => ({ step: 10 * (i + 1), error }));
  assertEquals(smooth(curve, 2).map((p) => +p.error.toFixed(6)), [0.9, 0.8, 0.6, 0.4, 0.2]);
  assertStrictEquals(firstStepAtOrBelow(smooth(curve, 2), 0.61), 30);
  assertStrictEquals(firstStepAtOrBelow(curve, 0.05), null);
  assertStrictEquals(+finalError(curve, 2).toFixed(6), 0.2);
  assert(Number.isNaN(finalError([], 3)));
});

Deno.test("training stops after the epoch in which the smoothed error reached the target, deterministically", async () => {
  const gpu = await testGpu();
  const dataset = await openDataset({ kind: "fashion-mnist" });
  const run = async (stopAt?: TrainConfig["stopAt"]) => {
    const dir = await Deno.makeTempDir({ prefix: "train-stop-" });
    try {
      return await train(gpu, config(dir, stopAt), { dataset, log: () => {} });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
  // Ten classes from scratch: the first records are near 90% error, so 95% is reached in epoch 1.
  const early = await run({ trainError: 0.95, smooth: 2 });
  assertStrictEquals(early.epochs.length, 1, "stopped after the first epoch of three");
  assertStrictEquals(early.reachedTargetAt, firstStepAtOrBelow(smooth(early.steps, 2), 0.95));
  assert(early.reachedTargetAt! <= early.final.step);
  const again = await run({ trainError: 0.95, smooth: 2 });
  assertEquals(again.steps, early.steps, "the same records, so the same stop");
  const never = await run({ trainError: 0.0001, smooth: 2 });
  assertStrictEquals(never.epochs.length, 3, "an unreached target runs every epoch");
  assertStrictEquals(never.reachedTargetAt, null);
});

Deno.test("an early stop without logged records, or with a target outside (0, 1], is refused", () => {
  const c = config("/tmp/x", { trainError: 0.25, smooth: 5 });
  assertThrows(() => validateTrainConfig({ ...c, logEvery: undefined }), Error, "stopAt");
  assertThrows(
    () => validateTrainConfig({ ...c, stopAt: { trainError: 1.5, smooth: 5 } }),
    Error,
    "trainError",
  );
  assertThrows(() => validateTrainConfig({ ...c, stopAt: { trainError: 0.25, smooth: 0 } }), Error, "smooth");
});

Deno.test("the sweep picks the lowest final error, ties to the earlier candidate, never a diverged one", () => {
  const o = (lr: number, e: number | null) => ({ lr, final_train_error: e, diverged: e === null, steps: 10 });
  assertStrictEquals(chooseLearningRate([o(0.01, 0.5), o(0.02, 0.4), o(0.04, null)]), 0.02);
  assertStrictEquals(chooseLearningRate([o(0.01, 0.4), o(0.02, 0.4)]), 0.01);
  assertStrictEquals(chooseLearningRate([o(0.01, null)]), null);
});
