// Checkpoint writes that fail (full disk, file size limit) leave no partial checkpoint.safetensors.tmp-<pid>
// behind, and the checkpoint that was there stays as it was.
import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  decodeCheckpoint,
  saveCheckpoint,
} from "../src/io/checkpoint.ts";
import { encodeSafetensors } from "../src/io/safetensors.ts";
import { USAGE as CLASSIFY_USAGE } from "../src/cli/classify.ts";
import { EVALUATE_USAGE } from "../src/cli/evaluate.ts";
import { TRAIN_USAGE } from "../src/cli/train.ts";
import { IMPORT_USAGE } from "../src/cli/model.ts";
import type { ModelSpec } from "../src/nn/spec.ts";
import { run } from "./helpers/run.ts";

const spec: ModelSpec = {
  name: "io-checkpoint-test",
  description: "one fc layer, 4 MB of weights",
  input: [1, 32, 32],
  classes: 1000,
  layers: [{ type: "fc", name: "fc", out: 1000 }],
};

function bigCheckpoint(): Checkpoint {
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      model: spec,
      classes: Array.from({ length: 1000 }, (_, i) => `c${i}`),
      step: 0,
      epoch: 0,
      seed: 1,
      preprocess: { resize: 32, crop: 32, scale: 1, mean: "none", channels: 1 },
    },
    weights: new Map([["fc.weight", new Float32Array(1000 * 1024)], ["fc.bias", new Float32Array(1000)]]),
  };
}

const leftovers = (dir: string) =>
  [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".tmp"));

Deno.test("saveCheckpoint: a write that runs out of space removes its temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-full-" });
  try {
    const target = `${dir}/checkpoint.safetensors`;
    await Deno.writeTextFile(target, "the previous checkpoint");
    // A child process whose files may not grow past 1 MiB (ulimit -f, with SIGXFSZ ignored so the write fails
    // with EFBIG as on a full disk): the 4 MB checkpoint is cut off part-way.
    const script = `${dir}/save.ts`;
    await Deno.writeTextFile(
      script,
      `import { saveCheckpoint } from ${
        JSON.stringify(new URL("../src/io/checkpoint.ts", import.meta.url).href)
      };
const ckpt = JSON.parse(Deno.args[1]);
ckpt.weights = new Map([["fc.weight", new Float32Array(1000 * 1024)], ["fc.bias", new Float32Array(1000)]]);
try {
  await saveCheckpoint(Deno.args[0], ckpt);
  console.log("saved");
} catch (e) {
  console.log("failed: " + (e as Error).message);
  Deno.exit(3);
}
`,
    );
    const { weights: _w, ...plain } = bigCheckpoint();
    const { code, text } = await run("bash", [
      "-c",
      `trap '' XFSZ; ulimit -f 1024; exec "$0" run -A --no-config "$@"`,
      Deno.execPath(),
      script,
      target,
      JSON.stringify(plain),
    ]);
    assertStrictEquals(code, 3, text);
    assertMatch(text, /failed: .*(File too large|No space)/);
    assertEquals(leftovers(dir), [], "a partial temporary checkpoint was left behind");
    assertStrictEquals(await Deno.readTextFile(target), "the previous checkpoint");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveCheckpoint: a failed rename removes its temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-rename-" });
  try {
    // The target is a folder with something in it: the rename onto it fails after the data was written.
    const target = `${dir}/checkpoint.safetensors`;
    await Deno.mkdir(target);
    await Deno.writeTextFile(`${target}/keep`, "x");
    await assertRejects(() => saveCheckpoint(target, bigCheckpoint()));
    assertEquals(leftovers(dir), []);
    assertStrictEquals(await Deno.readTextFile(`${target}/keep`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveCheckpoint: a successful write leaves only the checkpoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-ok-" });
  try {
    await saveCheckpoint(`${dir}/checkpoint.safetensors`, bigCheckpoint());
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["checkpoint.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeCheckpoint: plain safetensors weights get a message naming options the CLIs have", () => {
  const plain = encodeSafetensors(new Map([["w", { shape: [2], data: Float32Array.of(1, 2) }]]));
  let message = "";
  try {
    decodeCheckpoint(plain, "plain.safetensors");
  } catch (e) {
    message = (e as Error).message;
  }
  assertMatch(message, /^plain\.safetensors: not an alexnet-webgpu checkpoint/);
  assertMatch(message, /deno task classify --model/);
  assertMatch(message, /deno task evaluate --checkpoint/);
  assertMatch(message, /`deno task model import plain\.safetensors --from torchvision`/);
  // Every option the message names is one of the commands' own.
  const usage = [CLASSIFY_USAGE, EVALUATE_USAGE, TRAIN_USAGE, IMPORT_USAGE].join("\n");
  for (const flag of message.match(/--[a-z][a-z-]*/g) ?? []) {
    assert(
      new RegExp(`^\\s+${flag}\\b`, "m").test(usage),
      `${flag} is no option of classify, evaluate, train or model import`,
    );
  }
});
