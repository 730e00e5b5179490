// One TrainConfig builder for the command line and the pipeline's train stage (trainConfig), and the CLI's
// layering: defaults < the resumed checkpoint's settings < --config < flags, every field included.
import { assertEquals, assertStrictEquals } from "@std/assert";
import { trainConfigFromArgs } from "../src/cli/train.ts";
import { knobsOf, trainConfig, type TrainKnobs } from "../src/train/config.ts";
import { train } from "../src/train/trainer.ts";
import { buildModel } from "../src/models/index.ts";
import { testGpu } from "./helpers/gpu.ts";

const KNOBS: TrainKnobs = {
  model: buildModel("cifar-alexnet", { classes: 10, channels: 3, inputSize: 24 }),
  data: { kind: "cifar10", limitTrain: 100 },
  crop: 24,
  flip: true,
  pcaNoise: 0.1,
  mean: "channel",
  scale: 1,
  tenCrop: false,
  lr: 0.02,
  momentum: 0.8,
  weightDecay: 0.001,
  batch: 16,
  schedule: { kind: "step", epochs: [3], gamma: 0.5 },
  epochs: 4,
  seed: 7,
  outDir: "/tmp/run",
  resume: false,
  logEvery: 5,
};

Deno.test("trainConfig nests the knobs in TrainConfig's field order, leaves unset ones out, and knobsOf inverts it", () => {
  const c = trainConfig({ ...KNOBS, maxSteps: undefined, stopAt: undefined });
  // The order is part of a checkpoint's bytes (its metadata records the config).
  assertEquals(Object.keys(c), [
    "model",
    "data",
    "augment",
    "optim",
    "epochs",
    "seed",
    "outDir",
    "resume",
    "logEvery",
  ]);
  assertEquals(Object.keys(c.augment), ["crop", "flip", "pcaNoise", "mean", "scale", "tenCrop"]);
  assertEquals(Object.keys(c.optim), ["lr", "momentum", "weightDecay", "batch", "schedule"]);
  assertEquals(c.augment.pcaNoise, 0.1);
  assertEquals(c.optim.schedule, KNOBS.schedule);
  const { data: _d, ...rest } = KNOBS;
  assertEquals(knobsOf(c), rest);
  const full = trainConfig({
    ...KNOBS,
    maxSteps: 9,
    checkpointEvery: 3,
    stopAt: { trainError: 0.25, smooth: 5 },
  });
  assertEquals(Object.keys(full), [
    ...["model", "data", "augment", "optim", "epochs", "maxSteps", "seed", "outDir", "resume"],
    ...["checkpointEvery", "logEvery", "stopAt"],
  ]);
});

Deno.test("train CLI: every field of a --config file and of a resumed checkpoint is kept, flags win over both", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train-config-" });
  try {
    const file = `${dir}/run.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        data: { kind: "fashion-mnist", limitTrain: 64, limitTest: 32 },
        optim: { batch: 32, lr: 0.02 },
        augment: { mean: "channel" },
        epochs: 3,
        maxSteps: 1,
        stopAt: { trainError: 0.5, smooth: 2 },
        logEvery: 1,
      }),
    );
    const fromFile = (await trainConfigFromArgs(["--config", file, "--out", dir, "--lr", "0.03"]))!.config;
    assertEquals(fromFile.stopAt, { trainError: 0.5, smooth: 2 });
    assertStrictEquals(fromFile.optim.lr, 0.03);
    assertStrictEquals(fromFile.optim.batch, 32);
    assertStrictEquals(fromFile.augment.mean, "channel");
    assertStrictEquals(fromFile.epochs, 3);
    assertStrictEquals(fromFile.maxSteps, 1);
    assertStrictEquals(fromFile.logEvery, 1);
    await train(await testGpu(), fromFile, { log: () => {} });

    // The checkpoint's settings come back on --resume; the same flag still wins.
    const resumed = (await trainConfigFromArgs([
      ...["--data", "fashion-mnist", "--out", dir, "--resume", "--lr", "0.03", "--max-steps", "2"],
    ]))!.config;
    assertEquals(resumed.stopAt, { trainError: 0.5, smooth: 2 });
    assertStrictEquals(resumed.optim.lr, 0.03);
    assertStrictEquals(resumed.optim.batch, 32);
    assertStrictEquals(resumed.augment.mean, "channel");
    assertStrictEquals(resumed.data.limitTrain, 64);
    assertStrictEquals(resumed.maxSteps, 2);
    assertStrictEquals(resumed.resume, true);
    assertEquals(resumed.model, fromFile.model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
