// Checkpoint/resume: a run stopped midway (AbortSignal, or the CLI killed with SIGKILL) and resumed reaches
// bit-identical weights to an uninterrupted run; resuming into another model or other settings fails clearly.
import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { openDataset } from "../src/data/index.ts";
import type { Dataset } from "../src/data/index.ts";
import { loadCheckpoint } from "../src/io/checkpoint.ts";
import type { ModelSpec } from "../src/nn/spec.ts";
import { CHECKPOINT_FILE, train } from "../src/train/trainer.ts";
import type { TrainConfig, TrainResult } from "../src/train/types.ts";
import { testGpu } from "./helpers/gpu.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

// Dropout, random crops, flips and PCA noise all in play, so every source of randomness must resume exactly.
const tiny: ModelSpec = {
  name: "resume-test-cnn",
  description: "a tiny CNN for resume tests",
  input: [1, 24, 24],
  classes: 10,
  layers: [
    { type: "conv", name: "conv1", out: 8, kernel: 5, pad: 2, init: { std: 0.1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2, ceil: true },
    { type: "conv", name: "conv2", out: 12, kernel: 3, pad: 1, groups: 2, init: { std: 0.1, bias: 0.1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2, ceil: true },
    { type: "fc", name: "fc3", out: 32, init: { std: 0.05, bias: 0.1 } },
    { type: "relu" },
    { type: "dropout", p: 0.5 },
    { type: "fc", name: "fc4", out: 10, init: { std: 0.05 } },
  ],
};

function config(outDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model: tiny,
    data: { kind: "fashion-mnist", limitTrain: 256, limitTest: 100, validation: 500 },
    augment: { crop: 24, flip: true, pcaNoise: 0.1, mean: "image", scale: 1 / 255, tenCrop: false },
    optim: {
      lr: 0.02,
      momentum: 0.9,
      weightDecay: 0.0005,
      batch: 32,
      schedule: { kind: "plateau", patience: 1, factor: 0.1, maxDrops: 2 },
    },
    epochs: 3,
    seed: 7,
    outDir,
    resume: false,
    checkpointEvery: 5,
    logEvery: 1,
    ...over,
  };
}

let dataset: Promise<Dataset> | null = null;
const fashion = () => (dataset ??= openDataset({ kind: "fashion-mnist" }));
const quiet = () => {};

let reference: Promise<{ dir: string; result: TrainResult }> | null = null;
/** The uninterrupted run every variant is compared with. */
function uninterrupted() {
  reference ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "train-ref-" });
    const result = await train(await testGpu(), config(dir), { dataset: await fashion(), log: quiet });
    return { dir, result };
  })();
  return reference;
}

async function assertSameState(dirA: string, dirB: string) {
  const a = await loadCheckpoint(`${dirA}/${CHECKPOINT_FILE}`);
  const b = await loadCheckpoint(`${dirB}/${CHECKPOINT_FILE}`);
  assertStrictEquals(b.meta.step, a.meta.step);
  assert(a.weights.size > 0);
  for (const [name, w] of a.weights) {
    const v = b.weights.get(name)!;
    // Bit-identical: compare the raw bytes, not values within a tolerance.
    assertEquals(
      new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
      new Uint8Array(w.buffer, w.byteOffset, w.byteLength),
      `${name} differs`,
    );
    const ma = a.momentum!.get(name)!, mb = b.momentum!.get(name)!;
    assertEquals(mb, ma, `momentum of ${name} differs`);
  }
}

/** Epoch metrics without the wall-clock fields. */
const numbers = (r: TrainResult) => r.epochs.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);

Deno.test("train: a run aborted midway and resumed ends with bit-identical weights and the same metrics", async () => {
  const gpu = await testGpu();
  const ref = await uninterrupted();
  assertStrictEquals(ref.result.final.step, 24);
  assertStrictEquals(ref.result.epochs.length, 3);
  assertStrictEquals(ref.result.steps.length, 24);

  const dir = await Deno.makeTempDir({ prefix: "train-abort-" });
  const abort = new AbortController();
  const aborted = train(gpu, config(dir), {
    dataset: await fashion(),
    log: quiet,
    signal: abort.signal,
    onStep: (m) => {
      if (m.step >= 11) abort.abort(new DOMException("test stop", "AbortError"));
    },
  });
  assertStrictEquals((await assertRejects(() => aborted, DOMException)).name, "AbortError");
  const stopped = await loadCheckpoint(`${dir}/${CHECKPOINT_FILE}`);
  assert(stopped.meta.step >= 11 && stopped.meta.step < 24, `stopped at step ${stopped.meta.step}`);

  const resumed = await train(gpu, config(dir, { resume: true }), { dataset: await fashion(), log: quiet });
  await assertSameState(ref.dir, dir);
  assertEquals(numbers(resumed), numbers(ref.result));
  assertEquals(resumed.steps, ref.result.steps);
  const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
  assertStrictEquals(lines.length, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train: the CLI killed with SIGKILL and resumed ends with bit-identical weights", async () => {
  const ref = await uninterrupted();
  const dir = await Deno.makeTempDir({ prefix: "train-kill-" });
  const modelFile = `${dir}/model.json`;
  await Deno.writeTextFile(modelFile, JSON.stringify(tiny));
  const out = `${dir}/run`;
  // The same run as config(), spelled as flags.
  const args = [
    "run",
    "-A",
    "src/cli/train.ts",
    ...["--model", modelFile, "--data", "fashion-mnist", "--limit-train", "256", "--limit-test", "100"],
    ...[
      "--validation",
      "500",
      "--crop",
      "24",
      "--flip",
      "on",
      "--pca-noise",
      "0.1",
      "--batch",
      "32",
      "--lr",
      "0.02",
    ],
    ...["--schedule", "plateau:1:2", "--epochs", "3", "--seed", "7", "--checkpoint-every", "2", "--out", out],
  ];
  const child = new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "null", stderr: "piped" })
    .spawn();
  const stderr = new Response(child.stderr).text();
  const ckpt = `${out}/${CHECKPOINT_FILE}`;
  let exited = false;
  child.status.then(() => (exited = true));
  for (;;) {
    try {
      await Deno.stat(ckpt);
      break;
    } catch {
      if (exited) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  if (!exited) child.kill("SIGKILL");
  const status = await child.status;
  const log = await stderr;
  assert(!status.success, `the run finished before it could be killed:\n${log}`);
  assertStrictEquals(status.signal, "SIGKILL", log);
  await assertRejects(() => Deno.stat(`${out}/result.json`));
  const killedAt = (await loadCheckpoint(ckpt)).meta.step;
  assert(killedAt < 24, `checkpoint at step ${killedAt}`);

  await train(await testGpu(), config(out, { resume: true }), { dataset: await fashion(), log: quiet });
  await assertSameState(ref.dir, out);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train: resuming into another architecture or with other settings fails, naming the difference", async () => {
  const gpu = await testGpu();
  const ref = await uninterrupted();
  const wider: ModelSpec = {
    ...tiny,
    name: "wider",
    layers: tiny.layers.map((l) => (l.type === "fc" && l.name === "fc3" ? { ...l, out: 48 } : l)),
  };
  const intoWider = train(gpu, config(ref.dir, { model: wider, resume: true }), {
    dataset: await fashion(),
    log: quiet,
  });
  await assertRejects(
    () => intoWider,
    Error,
    `checkpoint holds model "resume-test-cnn", which differs from "wider" at layer 7: fc:32`,
  );
  const otherSettings = train(
    gpu,
    config(ref.dir, { seed: 8, resume: true, optim: { ...config("").optim, lr: 0.05 } }),
    { dataset: await fashion(), log: quiet },
  );
  const mismatch = await assertRejects(() => otherSettings, Error);
  assertMatch(mismatch.message, /cannot resume/);
  assertMatch(mismatch.message, /seed: checkpoint 7, now 8/);
  assertMatch(mismatch.message, /optim\.lr/);
  // More epochs on a finished run continue it.
  const more = await train(gpu, config(ref.dir, { resume: true, epochs: 4 }), {
    dataset: await fashion(),
    log: quiet,
  });
  assertStrictEquals(more.epochs.length, 4);
  assertEquals(numbers(more).slice(0, 3), numbers(ref.result));
  reference = null;
  await Deno.remove(ref.dir, { recursive: true });
});
