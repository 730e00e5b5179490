// The stage cache keys against real edits of the code: a copy of the project is run once on a small pipeline,
// then edited the ways a developer edits it, and `deno task reproduce --dry-run` must rerun exactly the stages
// each edit affects. Edits that leave the numbers alone (comments everywhere, a renamed or moved function)
// must keep everything cached.

import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { defaultCacheDir, openDataset } from "../src/data/index.ts";
import { run, runDeno } from "./helpers/run.ts";
import { leftOut } from "./helpers/needs.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function copyProject(to: string): Promise<void> {
  for (const path of ["src", "kernels", "deno.json", "deno.lock", "vendor"]) {
    const from = join(ROOT, path);
    if (await Deno.stat(from).then(() => true, () => false)) {
      const cp = await run("cp", ["-r", from, join(to, path)]);
      assertStrictEquals(cp.code, 0, `copying ${path}: ${cp.text}`);
    }
  }
  await Deno.symlink(join(ROOT, "node_modules"), join(to, "node_modules"));
}

async function filesUnder(dir: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await filesUnder(path, ext));
    else if (entry.name.endsWith(ext)) out.push(path);
  }
  return out.sort();
}

const pipeline = (cifar: string) =>
  `title: Cache keys
description: the stages the cache-key tests edit the code under
seed: 3
stages:
  data:
    kind: dataset
    params: { kind: cifar10, path: ${cifar}, limit_train: 64, limit_test: 20 }
  train_a:
    kind: train
    needs: data
    params:
      model: cifar-alexnet
      crop: 24
      flip: true
      batch: 16
      epochs: 2
      schedule: step
      step_epochs: [1.5]
      lr: 0.01
  train_b:
    kind: train
    needs: data
    params: { model: cifar-alexnet, crop: 24, flip: false, batch: 16, epochs: 1, lr: 0.01 }
  evaluate:
    kind: evaluate
    needs: [train_a]
    params: { ten_crop: true, single_crop: true, batch: 20 }
`;

const STAGES = ["data", "train_a", "train_b", "evaluate"];

interface Project {
  dir: string;
  reproduce(dryRun: boolean): Promise<Map<string, string>>;
  /** Replaces `from` by `to` in the one file under src/ or kernels/ that contains it; returns an undo. */
  edit(from: string | RegExp, to: string, where?: string): Promise<() => Promise<void>>;
}

async function project(): Promise<Project> {
  const dir = await Deno.makeTempDir({ prefix: "cache-keys-" });
  await copyProject(dir);
  // The CIFAR-10 binaries (built from ../shared on first use), copied so one byte of them can be changed.
  await openDataset({ kind: "cifar10" });
  const bins = join(defaultCacheDir(), "data", "cifar-10-batches-bin");
  const cifar = join(dir, "cifar");
  await Deno.mkdir(cifar);
  for await (const entry of Deno.readDir(bins)) {
    await Deno.copyFile(join(bins, entry.name), join(cifar, entry.name));
  }
  await Deno.mkdir(join(dir, "pipelines"));
  await Deno.writeTextFile(join(dir, "pipelines", "cachekeys.yaml"), pipeline(cifar));
  return {
    dir,
    async reproduce(dryRun) {
      const args = ["run", "-A", "src/cli/reproduce.ts", "cachekeys", "--preset", "cpu"];
      const out = await runDeno(dryRun ? [...args, "--dry-run"] : args, {
        cwd: dir,
        env: { ALEXNET_CACHE_DIR: join(dir, "cache") },
      });
      const text = out.stdout;
      const decisions = new Map<string, string>();
      for (const line of text.split("\n")) {
        const m = /^\[cachekeys\] ([a-z_]+): (would run|cached|blocked) \((.*)\)$/.exec(line);
        if (m) decisions.set(m[1], `${m[2] === "would run" ? "run" : m[2]}: ${m[3]}`);
      }
      if (!dryRun) {
        assertStrictEquals(out.code, 0, out.text);
      } else {
        assertEquals([...decisions.keys()], STAGES, out.text);
      }
      return decisions;
    },
    async edit(from, to, where = "") {
      const files = [
        ...await filesUnder(join(dir, "src"), ".ts"),
        ...await filesUnder(join(dir, "kernels"), ".wgsl"),
      ].filter((file) => file.includes(where));
      const hits: { file: string; text: string }[] = [];
      for (const file of files) {
        const text = await Deno.readTextFile(file);
        if (typeof from === "string" ? text.includes(from) : from.test(text)) hits.push({ file, text });
      }
      assertStrictEquals(
        hits.length,
        1,
        `expected one file containing ${from}, found ${hits.map((h) => h.file)}`,
      );
      const [{ file, text }] = hits;
      await Deno.writeTextFile(file, text.replace(from, to));
      return () => Deno.writeTextFile(file, text);
    },
  };
}

/** The stages that would not be reused (run, or blocked because what they need changed). */
function rerun(decisions: Map<string, string>): string[] {
  return STAGES.filter((id) => !decisions.get(id)!.startsWith("cached"));
}

Deno.test({
  ignore: leftOut("data"),
  name:
    "stage cache keys: edits that keep the numbers keep every stage; each numeric change reruns what it affects",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const p = await project();
    await p.reproduce(false);
    const again = await p.reproduce(true);
    assertEquals(rerun(again), []);
    // The code, runtime and adapter it ran on, unchanged: reused without probing.
    const probed = STAGES.filter((id) => !again.get(id)!.includes("not probed: same code and adapter"));
    assertEquals(probed, [], [...again.values()].join("\n"));

    await t.step(
      "comments in every .ts and .wgsl file, a renamed and a moved function: all cached",
      async () => {
        const files = [
          ...await filesUnder(join(p.dir, "src"), ".ts"),
          ...await filesUnder(join(p.dir, "kernels"), ".wgsl"),
        ];
        const saved = await Promise.all(files.map((file) => Deno.readTextFile(file)));
        await Promise.all(
          files.map((file, i) => Deno.writeTextFile(file, `${saved[i]}\n// an added comment\n`)),
        );
        // Rename writeCrop everywhere it is spelled.
        for (const file of files) {
          const text = await Deno.readTextFile(file);
          if (text.includes("writeCrop")) {
            await Deno.writeTextFile(file, text.replaceAll(/\bwriteCrop\b/g, "writeCropInto"));
          }
        }
        // Move a function to the end of its file.
        const evaluate = files.find((file) => file.endsWith("src/train/evaluate.ts"))!;
        const text = await Deno.readTextFile(evaluate);
        const fn = /\n\/\*\* Softmax in float64[\s\S]*?\n}\n/.exec(text);
        assert(fn, "softmaxRow in src/train/evaluate.ts");
        await Deno.writeTextFile(evaluate, text.replace(fn[0], "\n") + fn[0]);
        const decisions = await p.reproduce(true);
        assertEquals(rerun(decisions), []);
        assert([...decisions.values()].every((d) => d.includes("numerics bit-identical")));
        await Promise.all(files.map((file, i) => Deno.writeTextFile(file, saved[i])));
      },
    );

    const cases: [string, string | RegExp, string, string, string[]][] = [
      ["a changed init constant", "Math.sqrt(-2 * Math.log(u1))", "Math.sqrt(-2.02 * Math.log(u1))", "src/", [
        "train_a",
        "train_b",
        "evaluate",
      ]],
      ["a changed SGD kernel", "p.momentum * v[i]", "0.9 * p.momentum * v[i]", "kernels/sgd.wgsl", [
        "train_a",
        "train_b",
        "evaluate",
      ]],
      [
        "a learning-rate step moved to a later epoch",
        "step >= Math.round(e * stepsPerEpoch)",
        "step >= Math.round(e * stepsPerEpoch) + stepsPerEpoch",
        "src/train/schedule.ts",
        ["train_a", "evaluate"],
      ],
      [
        "a changed augmentation (mirror rate)",
        "rng.uniform() < 0.5",
        "rng.uniform() < 0.4",
        "src/data/loader.ts",
        [
          "train_a",
          "evaluate",
        ],
      ],
      [
        "a changed shuffle in epoch 2",
        "permutation(this.set.count, this.seed, epoch)",
        "permutation(this.set.count, this.seed + (epoch === 1 ? 1 : 0), epoch)",
        "src/data/loader.ts",
        ["train_a", "evaluate"],
      ],
      [
        "a changed 10-view averaging",
        "for (let v = 0; v < views; v++)",
        "for (let v = 0; v < views - 1; v++)",
        "src/train/evaluate.ts",
        ["evaluate"],
      ],
    ];
    for (const [name, from, to, where, expected] of cases) {
      await t.step(`${name}: reruns ${expected.join(", ")}`, async () => {
        const undo = await p.edit(from, to, where);
        try {
          assertEquals(rerun(await p.reproduce(true)), expected);
        } finally {
          await undo();
        }
      });
    }

    await t.step(
      "one changed byte in a dataset file: the dataset stage and everything after it stop being reused",
      async () => {
        const file = join(p.dir, "cifar", "data_batch_1.bin");
        const bytes = await Deno.readFile(file);
        bytes[1] ^= 1; // a pixel of the first training image
        await Deno.writeFile(file, bytes);
        const decisions = await p.reproduce(true);
        // A changed byte in a known CIFAR-10 build is refused by name (it is no known build any more).
        assertMatch(decisions.get("data")!, /data_batch_1\.bin does not/);
        assertEquals(rerun(decisions), STAGES);
      },
    );
    await Deno.remove(p.dir, { recursive: true });
  },
});
