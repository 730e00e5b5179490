// Presets side by side: a run of another preset, or with `--set`, writes its own folder under
// results/_presets/ and never touches the home preset's records; the plain run afterwards trains nothing and
// leaves every file of the results folder byte for byte as it was. Stages a preset shares with another reuse
// that run (its files hard-linked, not copied).

import { assert, assertEquals, assertMatch, assertNotEquals, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { runReproduceCli } from "../src/pipeline/cli.ts";
import { readLockfile } from "../src/pipeline/lockfile.ts";
import type { StageKind, StageResult } from "../src/pipeline/types.ts";
import { reportStageKind } from "../src/experiments/report_stage.ts";
import { writeIndex } from "../src/experiments/index_page.ts";
import { snapshotTree } from "./helpers/tree.ts";

const runs: string[] = [];

/** n numbers from the seed; its outputs depend on nothing else, so it can be shared (resolvedConfig). */
const numbersKind: StageKind = {
  name: "numbers",
  description: "numbers from the seed",
  params: { n: { type: "integer", doc: "how many", default: 4 } },
  resolvedConfig: ({ params }) => params,
  run(ctx) {
    runs.push(`${ctx.id}`);
    const values = Array.from({ length: ctx.params.n as number }, (_, i) => ctx.seed * 10 + i);
    return Promise.resolve({ values, scale: `${values.length} numbers` });
  },
};

/** Fits the mean; writes a "checkpoint" it does not list (as training does) next to its outputs. */
const fitKind: StageKind = {
  name: "fit",
  description: "gradient descent towards the mean",
  params: { epochs: { type: "integer", doc: "steps", default: 3 } },
  resolvedConfig: ({ params }) => params,
  fingerprint: () => Promise.resolve({ exact: { code: "fit-v1" }, measures: { step: [0.5] } }),
  async run(ctx) {
    runs.push(`${ctx.id}`);
    const values = (ctx.inputs.data as StageResult).outputs.values as number[];
    const target = values.reduce((a, b) => a + b, 0) / values.length;
    let w = 0;
    for (let epoch = 0; epoch < (ctx.params.epochs as number); epoch++) w += 0.5 * (target - w);
    await Deno.mkdir(join(ctx.outDir, "checkpoints"));
    await Deno.writeFile(join(ctx.outDir, "checkpoints", "last.bin"), new Uint8Array(4096).fill(7));
    return { w, error: Math.abs(target - w), scale: `${ctx.params.epochs} epochs` };
  },
};

const TOY = `title: Toy
claims: [overlap]
presets:
  smoke: { fit.epochs: 1 }
stages:
  data: { kind: numbers }
  fit: { kind: fit, needs: data }
  report:
    kind: report
    needs: [fit]
    params:
      sections:
        - table:
            rows: fit
            columns: [{ label: w, value: w }, { label: error, value: error }]
`;

async function project() {
  const root = await Deno.makeTempDir({ prefix: "pipeline-presets-" });
  await Deno.mkdir(join(root, "pipelines"));
  await Deno.writeTextFile(join(root, "pipelines", "toy.yaml"), TOY);
  const lines: string[] = [];
  const cli = async (...args: string[]) => {
    lines.length = 0;
    runs.length = 0;
    const code = await runReproduceCli(args, {
      stageKinds: [numbersKind, fitKind, reportStageKind],
      writeIndex: (dir, pipelines) => writeIndex(dir, { pipelines }),
      chooseDefaultPreset: () => "cpu",
      describeAdapter: () => "Test adapter (software)",
      codeIdentity: () => Promise.resolve("code-1"),
      projectRoot: root,
      log: (line) => lines.push(line),
    });
    assertStrictEquals(code, 0, lines.join("\n"));
    return [...runs];
  };
  return {
    root,
    results: join(root, "results"),
    cli,
    output: () => lines.join("\n"),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** The home folder: everything under results/ but the other presets' folders. */
const home = (results: string) => snapshotTree(results, ["_presets"]);

Deno.test("--preset smoke, then the plain run: nothing trains and every file under results/ is unchanged", async () => {
  await using p = await project();
  assertEquals(await p.cli(), ["data", "fit"]);
  const committed = await home(p.results);
  assert(
    committed["toy/pipeline.lock.json"] && committed["index.html"] && committed["toy/report/index.html"],
  );

  assertEquals(await p.cli("--preset", "smoke"), ["fit"], "data is the same computation: reused");
  assertMatch(p.output(), /\[toy\] 2 ran, 1 cached \(1 reusing another record's run\)/);
  assertMatch(
    p.output(),
    /preset smoke: results in results\/_presets\/smoke\/ \(results\/ keeps the cpu preset's/,
  );
  assertMatch(p.output(), /\[toy\] data: reused toy\/data's run/);
  assertEquals(await home(p.results), committed, "the smoke run wrote only its own folder");
  const smoke = (await readLockfile(join(p.results, "_presets/smoke/toy/pipeline.lock.json")))!;
  assertStrictEquals(smoke.preset, "smoke");
  assertEquals(smoke.stages.data.reusedFrom, { pipeline: "toy", id: "data", outDir: "toy/data" });

  assertEquals(await p.cli(), [], "the plain run trains nothing");
  assertMatch(p.output(), /\[toy\] 0 ran, 3 cached/);
  assertEquals(await home(p.results), committed, "and leaves every file as it was, index and pages included");
  assertEquals(await p.cli("--preset", "smoke"), [], "switching back costs nothing either");
  assertEquals(await home(p.results), committed);
});

Deno.test("a custom --set run, then the plain run: nothing trains and every file under results/ is unchanged", async () => {
  await using p = await project();
  await p.cli();
  const committed = await home(p.results);
  assertEquals(await p.cli("--set", "fit.epochs=5"), ["fit"]);
  assertMatch(p.output(), /preset cpu with --set: results in results\/_presets\/cpu\+set-[0-9a-f]{8}\//);
  assertEquals(await home(p.results), committed);
  assertEquals(await p.cli(), []);
  assertEquals(await home(p.results), committed);
  // A --set of the report alone reuses the trainings of the home folder: only the page is made again.
  assertEquals(await p.cli("--set", "report.what_ran=false"), []);
  assertMatch(p.output(), /\[toy\] 1 ran, 2 cached \(2 reusing another record's run\)/);
  assertEquals(await home(p.results), committed);
});

Deno.test("a preset that computes the same as another reuses its run, linking its files instead of copying", async () => {
  await using p = await project();
  await p.cli();
  // `full` declares no overrides here: the same computation as cpu for data and fit; the page is its own.
  assertEquals(await p.cli("--preset", "full"), []);
  assertMatch(p.output(), /\[toy\] report: running \(new\)/);
  const source = join(p.results, "toy/fit/checkpoints/last.bin");
  const linked = join(p.results, "_presets/full/toy/fit/checkpoints/last.bin");
  const [a, b] = [await Deno.stat(source), await Deno.stat(linked)];
  assertStrictEquals(a.ino, b.ino, "one file on disk, two names");
  assert((a.nlink ?? 0) >= 2);
  // The outputs are this instance's own file: a later run replacing them never writes through the link.
  assertNotEquals(
    (await Deno.stat(join(p.results, "toy/fit/outputs.json"))).ino,
    (await Deno.stat(join(p.results, "_presets/full/toy/fit/outputs.json"))).ino,
  );
  const full = (await readLockfile(join(p.results, "_presets/full/toy/pipeline.lock.json")))!;
  const cpu = (await readLockfile(join(p.results, "toy/pipeline.lock.json")))!;
  assertStrictEquals(full.stages.fit.outputHash, cpu.stages.fit.outputHash);
  assertStrictEquals(
    full.stages.fit.durationMs,
    cpu.stages.fit.durationMs,
    "the run's time, as recorded there",
  );
  assertEquals(full.stages.fit.reusedFrom, { pipeline: "toy", id: "fit", outDir: "toy/fit" });
  const page = await Deno.readTextFile(join(p.results, "_presets/full/toy/report/index.html"));
  assertMatch(page, /<code>fit<\/code> \(the run of <code>toy\/fit<\/code>\)/);
});
