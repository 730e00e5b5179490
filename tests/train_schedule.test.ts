// Learning-rate schedules, config validation and the train CLI's flag parsing (no GPU needed).
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  initialScheduleState,
  scheduleAfterEpoch,
  scheduleAtStart,
  type ScheduleState,
  stepScheduleLrAtStep,
  validateSchedule,
} from "../src/train/schedule.ts";
import { canonicalJson, resumeMismatches, validateTrainConfig } from "../src/train/config.ts";
import { balancedSubset } from "../src/train/data.ts";
import { parseSchedule, trainConfigFromArgs } from "../src/cli/train.ts";
import { UsageError } from "../src/util/args.ts";
import type { Schedule, TrainConfig } from "../src/train/types.ts";
import { cifarAlexnet } from "../src/models/cifar.ts";

function run(schedule: Schedule, errors: number[], baseLr = 0.01): { lrs: number[]; state: ScheduleState } {
  let state = scheduleAtStart(schedule, baseLr);
  const lrs: number[] = [];
  errors.forEach((err, i) => {
    lrs.push(state.lr);
    state = scheduleAfterEpoch(schedule, baseLr, state, i + 1, err).state;
  });
  return { lrs, state };
}

Deno.test("schedule: fixed keeps the lr", () => {
  assertEquals(run({ kind: "fixed" }, [0.5, 0.6, 0.7]).lrs, [0.01, 0.01, 0.01]);
});

Deno.test("schedule: step multiplies by gamma after each listed epoch", () => {
  const { lrs } = run({ kind: "step", epochs: [2, 4], gamma: 0.1 }, [0, 0, 0, 0, 0, 0], 1);
  assertEquals(lrs.map((x) => +x.toPrecision(6)), [1, 1, 0.1, 0.1, 0.01, 0.01]);
  // Fractional milestones fall inside an epoch: 0.75 of 100 steps per epoch is step 75.
  const s = { epochs: [0.75, 2], gamma: 0.5 };
  assertEquals([0, 74, 75, 199, 200].map((st) => stepScheduleLrAtStep(1, s, st, 100).lr), [
    1,
    1,
    0.5,
    0.5,
    0.25,
  ]);
  // A run resumed at epoch 3 starts at the same lr as one that got there.
  assertStrictEquals(
    +scheduleAtStart({ kind: "step", epochs: [2, 4], gamma: 0.1 }, 1, 3).lr.toPrecision(6),
    0.1,
  );
});

Deno.test("schedule: plateau divides by 10 after `patience` epochs without improvement, at most maxDrops times", () => {
  const s: Schedule = { kind: "plateau", patience: 2, factor: 0.1, maxDrops: 2 };
  // Improves, improves, stalls twice (drop), stalls twice (drop), stalls forever (no more drops).
  const errors = [0.5, 0.4, 0.4, 0.45, 0.41, 0.42, 0.5, 0.5, 0.5, 0.5];
  const { lrs, state } = run(s, errors, 1);
  assertEquals(lrs.map((x) => +x.toPrecision(6)), [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]);
  assertStrictEquals(state.drops, 2);
  assertStrictEquals(state.best, 0.4);
  // An improvement resets the count.
  const r = run({ kind: "plateau", patience: 2, factor: 0.1, maxDrops: 3 }, [0.5, 0.6, 0.4, 0.6, 0.3], 1);
  assertEquals(r.lrs, [1, 1, 1, 1, 1]);
  const first = scheduleAfterEpoch(s, 1, initialScheduleState(1), 1, 0.9);
  assertStrictEquals(first.dropped, false);
  assertStrictEquals(first.state.best, 0.9);
});

Deno.test("schedule: validation names the bad field", () => {
  assertThrows(
    () => validateSchedule({ kind: "plateau", patience: 1, factor: 10, maxDrops: 3 }),
    Error,
    "optim.schedule.factor: expected a number in (0, 1) that multiplies the lr",
  );
  assertThrows(
    () => validateSchedule({ kind: "step", epochs: [0], gamma: 0.1 }),
    Error,
    "optim.schedule.epochs",
  );
  assertThrows(
    () => validateSchedule({ kind: "cosine" } as unknown as Schedule),
    Error,
    "optim.schedule.kind",
  );
});

function baseConfig(): TrainConfig {
  return {
    model: cifarAlexnet({ channels: 1, inputSize: 28 }),
    data: { kind: "fashion-mnist" },
    augment: { crop: 28, flip: false, pcaNoise: 0, mean: "image", scale: 1 / 255, tenCrop: false },
    optim: { lr: 0.01, momentum: 0.9, weightDecay: 0.0005, batch: 128, schedule: { kind: "fixed" } },
    epochs: 1,
    seed: 1,
    outDir: "x",
    resume: false,
  };
}

Deno.test("config: validation errors name the field and the file", () => {
  validateTrainConfig(baseConfig());
  const bad = (mut: (c: TrainConfig) => void) => {
    const c = baseConfig();
    mut(c);
    return c;
  };
  assertMatch(
    String(assertThrows(() => validateTrainConfig(bad((c) => (c.optim.momentum = 1)), "run.json"))),
    /^Error: run\.json: optim\.momentum/,
  );
  assertThrows(
    () => validateTrainConfig(bad((c) => (c.augment.mean = "pixel" as "image"))),
    Error,
    "augment.mean",
  );
  assertThrows(() => validateTrainConfig(bad((c) => (c.data.limitTrain = -3))), Error, "data.limitTrain");
  assertThrows(
    () => validateTrainConfig(bad((c) => (c.epochs = 0))),
    Error,
    "epochs: expected a positive whole number",
  );
  assertThrows(() => validateTrainConfig(bad((c) => (c.seed = 1.5))), Error, "seed");
});

Deno.test("config: resume compares what changes the numbers, whatever the key order", () => {
  const a = baseConfig(), b = baseConfig();
  b.optim.schedule = { maxDrops: 3, factor: 0.1, kind: "plateau", patience: 1 } as Schedule;
  a.optim.schedule = { kind: "plateau", patience: 1, factor: 0.1, maxDrops: 3 };
  b.epochs = 9;
  b.outDir = "elsewhere";
  b.augment.tenCrop = true;
  assertEquals(resumeMismatches(a, b), []);
  b.augment.crop = 24;
  assertEquals(resumeMismatches(a, b), ["augment.crop: checkpoint 28, now 24"]);
  assertStrictEquals(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
});

Deno.test("data: balancedSubset takes classes in turn and keeps stored order", () => {
  const labels = Int32Array.from([0, 0, 0, 0, 1, 2, 2, 1, 0, 2]);
  const set = {
    classes: ["a", "b", "c"],
    channels: 1,
    height: 1,
    width: 1,
    count: labels.length,
    pixels: Uint8Array.from(labels.keys()),
    labels,
  };
  const sub = balancedSubset(set, 5);
  // Round 1: the first image of classes a, b, c (0, 4, 5); round 2: a and b again (1, 7).
  assertEquals([...sub.pixels], [0, 1, 4, 5, 7]);
  assertEquals([...balancedSubset(set, 8).labels].sort(), [0, 0, 0, 1, 1, 2, 2, 2]);
});

Deno.test("train CLI: flags become a TrainConfig; unknown flags and bad values fail naming the flag", async () => {
  const setup = await trainConfigFromArgs([
    ...["--model", "cifar-alexnet", "--data", "fashion-mnist", "--epochs", "3", "--batch", "64"],
    ...["--lr", "0.05", "--crop", "24", "--pca-noise", "0.1", "--schedule", "step:2:0.5", "--out", "/tmp/x"],
    ...["--lrn", "on", "--dropout", "on", "--ten-crop", "--seed", "9", "--limit-train", "1000"],
  ]);
  const c = setup!.config;
  assertEquals(c.model.input, [1, 24, 24]);
  assert(c.model.layers.some((l) => l.type === "lrn") && c.model.layers.some((l) => l.type === "dropout"));
  assertEquals(c.augment, {
    crop: 24,
    flip: true,
    pcaNoise: 0.1,
    mean: "image",
    scale: 1 / 255,
    tenCrop: true,
  });
  assertEquals(c.optim, {
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 0.0005,
    batch: 64,
    schedule: { kind: "step", epochs: [2], gamma: 0.5 },
  });
  assertStrictEquals(c.seed, 9);
  assertStrictEquals(c.data.limitTrain, 1000);
  await assertRejects(
    () => trainConfigFromArgs(["--lerning-rate", "1"]),
    UsageError,
    "unknown option --lerning-rate",
  );
  await assertRejects(() => trainConfigFromArgs(["--epoch", "1"]), Error, "did you mean --epochs?");
  await assertRejects(
    () => trainConfigFromArgs(["--batch", "ten"]),
    Error,
    `--batch: expected a whole number >= 1, got "ten"`,
  );
  await assertRejects(
    () => trainConfigFromArgs(["--data", "mnist"]),
    Error,
    "--data: expected cifar10 | fashion-mnist",
  );
  assertMatch(
    (await assertRejects(() => trainConfigFromArgs(["--data", "cifar10", "--crop", "40"]), Error)).message,
    /--crop: .*<= 32/,
  );
  assertEquals(parseSchedule("plateau"), { kind: "plateau", patience: 1, factor: 0.1, maxDrops: 3 });
  assertThrows(() => parseSchedule("step"), Error, "--schedule");
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify({ epochs: 2, optim: { lr: 0.5 }, colour: true }));
  await assertRejects(
    () => trainConfigFromArgs(["--config", `${dir}/c.json`]),
    Error,
    `c.json: unknown field "colour"`,
  );
  await Deno.writeTextFile(
    `${dir}/c.json`,
    JSON.stringify({ epochs: 2, optim: { lr: 0.5 }, data: { kind: "fashion-mnist" } }),
  );
  const fromFile = (await trainConfigFromArgs(["--config", `${dir}/c.json`, "--epochs", "4"]))!.config;
  assertStrictEquals(fromFile.optim.lr, 0.5);
  assertStrictEquals(fromFile.epochs, 4);
  assertEquals(fromFile.model.input, [1, 28, 28]);
  await Deno.remove(dir, { recursive: true });
});
