// End to end on real data: a small CNN trained on a fixed 2,000-image Fashion-MNIST subset for two epochs
// classifies the test images far better than chance (10%).
import { assert, assertStrictEquals } from "@std/assert";
import type { ModelSpec } from "../src/nn/spec.ts";
import { train } from "../src/train/trainer.ts";
import { testGpu } from "./helpers/gpu.ts";

const small: ModelSpec = {
  name: "fashion-small-cnn",
  description: "conv 16 5x5, pool, conv 32 5x5, pool, fc 64, fc 10",
  input: [1, 28, 28],
  classes: 10,
  layers: [
    { type: "conv", name: "conv1", out: 16, kernel: 5, pad: 2, init: { std: 0.1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2, ceil: true },
    { type: "conv", name: "conv2", out: 32, kernel: 5, pad: 2, init: { std: 0.05, bias: 0.1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2, ceil: true },
    { type: "fc", name: "fc3", out: 64, init: { std: 0.05, bias: 0.1 } },
    { type: "relu" },
    { type: "fc", name: "fc4", out: 10, init: { std: 0.05 } },
  ],
};

Deno.test("train: 2,000 Fashion-MNIST images, 2 epochs -> test accuracy well above chance", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train-fmnist-" });
  const r = await train(await testGpu(), {
    model: small,
    data: { kind: "fashion-mnist", limitTrain: 2000, limitTest: 1000 },
    augment: { crop: 28, flip: false, pcaNoise: 0, mean: "image", scale: 1 / 255, tenCrop: false },
    optim: { lr: 0.02, momentum: 0.9, weightDecay: 0.0005, batch: 32, schedule: { kind: "fixed" } },
    epochs: 2,
    seed: 1,
    outDir: dir,
    resume: false,
    logEvery: 10,
  }, { log: () => {} });
  const accuracy = 1 - r.final.testTop1Error;
  assert(accuracy > 0.6, `test accuracy ${accuracy}`);
  assert(r.final.testTop5Error < 0.1, `top-5 error ${r.final.testTop5Error}`);
  assert(r.epochs[1].trainLoss < r.epochs[0].trainLoss, "training loss falls");
  assertStrictEquals(r.steps.length, 12);
  assert(r.steps[r.steps.length - 1].loss < r.steps[0].loss);
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
  assertStrictEquals(saved.final.testTop1Error, r.final.testTop1Error);
  await Deno.remove(dir, { recursive: true });
});
