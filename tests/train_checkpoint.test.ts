// What a training checkpoint holds (weights, momentum, mean, loader and schedule state), its round trip
// through the file format and the GPU, and evaluate() reproducing the trainer's own test numbers from it.
import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { openDataset } from "../src/data/index.ts";
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint } from "../src/io/checkpoint.ts";
import { Network } from "../src/nn/network.ts";
import type { ModelSpec } from "../src/nn/spec.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { CHECKPOINT_FILE, train, type TrainState } from "../src/train/trainer.ts";
import { testGpu } from "./helpers/gpu.ts";
import { leftOut } from "./helpers/needs.ts";

const spec: ModelSpec = {
  name: "checkpoint-test-cnn",
  description: "a tiny CNN for checkpoint tests",
  input: [1, 24, 24],
  classes: 10,
  layers: [
    { type: "conv", name: "conv1", out: 8, kernel: 5, pad: 2, init: { std: 0.1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2, ceil: true },
    { type: "lrn", size: 3, alpha: 1e-3, beta: 0.75, k: 2 },
    { type: "fc", name: "fc2", out: 10, init: { std: 0.05 } },
  ],
};

Deno.test({
  name: "train: maxSteps mid-epoch writes a partial record and a complete checkpoint that round-trips",
  ignore: leftOut("data"),
}, async () => {
  const gpu = await testGpu();
  const dataset = await openDataset({ kind: "fashion-mnist" });
  const dir = await Deno.makeTempDir({ prefix: "train-ckpt-" });
  const result = await train(gpu, {
    model: spec,
    data: { kind: "fashion-mnist", limitTrain: 256, limitTest: 200 },
    augment: { crop: 24, flip: true, pcaNoise: 0, mean: "channel", scale: 1 / 255, tenCrop: false },
    optim: { lr: 0.05, momentum: 0.9, weightDecay: 0.0005, batch: 32, schedule: { kind: "fixed" } },
    epochs: 2,
    maxSteps: 6,
    seed: 3,
    outDir: dir,
    resume: false,
  }, { dataset, log: () => {} });
  assertStrictEquals(result.epochs.length, 0);
  assertStrictEquals(result.final.step, 6);
  assertStrictEquals((result.final as { partial?: boolean }).partial, true);
  const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assertStrictEquals(lines.length, 1);
  assertStrictEquals(lines[0].partial, true);
  assert(lines[0].trainLoss > 0 && lines[0].imagesPerSecond > 0);
  assertStrictEquals(result.checkpoint, await Deno.realPath(`${dir}/${CHECKPOINT_FILE}`));

  const ckpt = await loadCheckpoint(result.checkpoint);
  assertStrictEquals(ckpt.meta.step, 6);
  assertStrictEquals(ckpt.meta.epoch, 0);
  assertStrictEquals(ckpt.meta.seed, 3);
  assertEquals(ckpt.meta.preprocess, {
    resize: 28,
    crop: 24,
    scale: 1 / 255,
    mean: "channel",
    channels: 1,
  });
  assertStrictEquals(ckpt.meta.classes.length, 10);
  // Per-channel mean of the 256-image subset, in 0-255 units (Fashion-MNIST's is about 73).
  assertStrictEquals(ckpt.mean!.length, 1);
  assert(ckpt.mean![0] > 40 && ckpt.mean![0] < 110, `mean ${ckpt.mean![0]}`);
  const state = ckpt.meta.trainState as unknown as TrainState;
  assertEquals(state.loader, { epoch: 0, index: 192 });
  assertStrictEquals(state.schedule.lr, 0.05);
  assert([...ckpt.momentum!.get("conv1.weight")!].some((v) => v !== 0), "momentum was saved");

  // File format round trip.
  const again = decodeCheckpoint(encodeCheckpoint(ckpt), "round trip");
  assertEquals(again.meta, ckpt.meta);
  assertEquals(again.weights, ckpt.weights);
  assertEquals(again.momentum, ckpt.momentum);
  assertEquals(again.mean, ckpt.mean);
  // GPU round trip.
  const net = new Network(gpu, ckpt.meta.model, 99);
  net.loadWeights(ckpt.weights);
  assertEquals(await net.exportWeights(), ckpt.weights);
  net.destroy();

  // evaluate() preprocesses as training did: the same numbers as the trainer's own evaluation.
  const data = { kind: "fashion-mnist" as const, limitTest: 200 };
  const r = await evaluate(gpu, result.checkpoint, data);
  assertStrictEquals(r.top1Error, result.final.testTop1Error);
  assertStrictEquals(r.top5Error, result.final.testTop5Error);
  assertStrictEquals(r.images, 200);
  const ten = await evaluate(gpu, result.checkpoint, data, { tenCrop: true, batchSize: 50 });
  assert(ten.top1Error < 0.8 && ten.top5Error <= ten.top1Error, JSON.stringify(ten));
  await assertRejects(
    () => evaluate(gpu, result.checkpoint, data, { split: "val" }),
    Error,
    "no validation split",
  );
  await assertRejects(
    () => evaluate(gpu, result.checkpoint, { kind: "cifar10", limitTest: 10 }),
    Error,
    "trained on 1x28x28 images",
  );
  await Deno.remove(dir, { recursive: true });
});
