// `deno task train` and an output folder that already holds a run: without --resume or --force it refuses,
// exits non-zero and leaves the checkpoint byte for byte as it was. And CIFAR-10 data that matches no known
// build: train and evaluate use it only with --allow-unknown-data, and the checkpoint's provenance says so.
import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { checkOutputFolder, trainConfigFromArgs } from "../src/cli/train.ts";
import { UsageError } from "../src/util/args.ts";
import { CHECKPOINT_FILE, train } from "../src/train/trainer.ts";
import { loadCheckpoint } from "../src/io/checkpoint.ts";
import { testGpu } from "./helpers/gpu.ts";
import { tinyCifar10Archive } from "./helpers/cifar10.ts";
import { runDeno, type RunResult } from "./helpers/run.ts";

const TRAIN = new URL("../src/cli/train.ts", import.meta.url).pathname;
const EVALUATE = new URL("../src/cli/evaluate.ts", import.meta.url).pathname;
const TINY = ["--data", "fashion-mnist", "--limit-train", "64", "--limit-test", "32", "--batch", "32"];

function runTrain(args: string[]): Promise<RunResult> {
  return runDeno(["run", "-A", TRAIN, ...args]);
}

Deno.test("train CLI: an output folder with a checkpoint is refused without --resume or --force", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train-cli-" });
  try {
    const ckpt = `${dir}/${CHECKPOINT_FILE}`;
    const before = new Uint8Array(4096).map((_, i) => (i * 7) & 255);
    await Deno.writeFile(ckpt, before);
    const mtime = (await Deno.stat(ckpt)).mtime;
    const r = await runTrain([...TINY, "--max-steps", "1", "--out", dir]);
    assertStrictEquals(r.code, 1, r.text);
    assertMatch(r.text, /holds a checkpoint.*--resume.*--force/s);
    assert(r.text.includes(ckpt), r.text);
    assertEquals(await Deno.readFile(ckpt), before);
    assertEquals((await Deno.stat(ckpt)).mtime, mtime);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [CHECKPOINT_FILE]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: --force lets a fresh run overwrite, --resume and --force together are a usage error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train-cli-" });
  try {
    const fresh = (await trainConfigFromArgs([...TINY, "--out", dir]))!;
    // Nothing there yet: no objection.
    await checkOutputFolder(fresh);
    await Deno.writeTextFile(`${dir}/${CHECKPOINT_FILE}`, "an earlier run");
    assertMatch((await assertRejects(() => checkOutputFolder(fresh), Error)).message, /holds a checkpoint/);
    await checkOutputFolder((await trainConfigFromArgs([...TINY, "--out", dir, "--force"]))!);
    // --resume reads the checkpoint (this one is not a real one, so it is rejected for that, not refused).
    assertMatch(
      (await assertRejects(() => trainConfigFromArgs([...TINY, "--out", dir, "--resume"]), Error)).message,
      /checkpoint\.safetensors: header length \d+ does not fit/,
    );
    assertMatch(
      (await assertRejects(
        () => trainConfigFromArgs([...TINY, "--out", dir, "--resume", "--force"]),
        UsageError,
      ))
        .message,
      /--resume and --force/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train and evaluate: unknown CIFAR-10 data needs --allow-unknown-data, recorded in the checkpoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train-unknown-" });
  try {
    const archive = await tinyCifar10Archive(dir);
    const args = ["--data", "cifar10", "--data-path", archive, "--batch", "8", "--max-steps", "1"];
    const refused = (await trainConfigFromArgs([...args, "--out", `${dir}/refused`]))!;
    assertStrictEquals(refused.config.data.allowUnknownData, undefined);
    assertMatch(
      (await assertRejects(async () => train(await testGpu(), refused.config, { log: () => {} }), Error))
        .message,
      /is not a known CIFAR-10 build.*--allow-unknown-data/s,
    );
    const allowed = (await trainConfigFromArgs([...args, "--allow-unknown-data", "--out", `${dir}/run`]))!;
    assertStrictEquals(allowed.config.data.allowUnknownData, true);
    const r = await train(await testGpu(), allowed.config, { log: () => {} });
    const ckpt = await loadCheckpoint(r.checkpoint);
    assertEquals(ckpt.meta.provenance?.dataVerification, { variant: "unknown", allowUnknownData: true });

    // evaluate: the same data is refused again unless the flag is given there too.
    const evaluate = (extra: string[]) =>
      runDeno(["run", "-A", EVALUATE, "--checkpoint", r.checkpoint, "--json", ...extra]);
    const no = await evaluate([]);
    assertStrictEquals(no.code, 1);
    assertMatch(no.stderr, /not a known CIFAR-10 build.*--allow-unknown-data/s);
    const yes = await evaluate(["--allow-unknown-data"]);
    assertStrictEquals(yes.code, 0, yes.stderr);
    assertStrictEquals(JSON.parse(yes.stdout).images, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
