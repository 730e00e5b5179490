import { PAPER_CLAIM_IDS } from "../src/paper/claims.ts";
import { reportStageKind } from "../src/experiments/report_stage.ts";
import { writeIndex } from "../src/experiments/index_page.ts";
import { assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { defaultPresetForAdapter, runReproduceCli } from "../src/pipeline/cli.ts";
import { lockfilePath, readLockfile } from "../src/pipeline/lockfile.ts";
import type { StageKind, StageResult } from "../src/pipeline/types.ts";

const runs: string[] = [];

/** Squares its input numbers (or `seed..seed+n-1` when it has no input). */
const squareKind: StageKind = {
  name: "square",
  description: "squares numbers",
  params: {
    n: { type: "integer", doc: "how many numbers without input", default: 3 },
    fail: { type: "boolean", doc: "throw instead", default: false },
  },
  // Its outputs are a function of its parameters, seed and input alone: shared wherever those are equal.
  resolvedConfig: ({ params }) => params,
  run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    if (ctx.params.fail) throw new Error("asked to fail");
    const input = ctx.inputs.source as StageResult | undefined;
    const values = (input?.outputs.values as number[] | undefined) ??
      Array.from({ length: ctx.params.n as number }, (_, i) => ctx.seed + i);
    return Promise.resolve({ values: values.map((v) => v * v) });
  },
};

const ALPHA = `title: Alpha
claims: [lrn]
stages:
  source: {kind: square, params: {n: 2}}
  squared: {kind: square, needs: source}
`;
const BETA = `title: Beta
claims: [overlap]
presets:
  quick: {source.n: 1}
stages:
  source: {kind: square}
`;

async function project(files: Record<string, string> = { "alpha.yaml": ALPHA, "beta.yaml": BETA }) {
  runs.length = 0;
  const root = await Deno.makeTempDir({ prefix: "pipeline-cli-" });
  await Deno.mkdir(join(root, "pipelines"));
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(root, "pipelines", name), text);
  }
  const lines: string[] = [];
  let presetAsked = 0;
  const cli = (...args: string[]) =>
    runReproduceCli(args, {
      stageKinds: [squareKind, reportStageKind],
      knownClaimIds: PAPER_CLAIM_IDS,
      writeIndex: (dir, pipelines) => writeIndex(dir, { pipelines }),
      chooseDefaultPreset: () => {
        presetAsked++;
        return defaultPresetForAdapter(true);
      },
      describeAdapter: () => "Test adapter (software)",
      projectRoot: root,
      log: (line) => lines.push(line),
    });
  return {
    root,
    lines,
    cli,
    presetAsked: () => presetAsked,
    output: () => lines.join("\n"),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

Deno.test("no names: runs every pipeline in file order, default preset, then writes the index", async () => {
  await using p = await project();
  assertStrictEquals(await p.cli(), 0, p.output());
  assertEquals(runs, ["alpha/source", "alpha/squared", "beta/source"]);
  assertStrictEquals(p.presetAsked(), 1);
  const lock = (await readLockfile(lockfilePath(join(p.root, "results"), "alpha")))!;
  assertStrictEquals(lock.preset, "cpu", "software adapter -> cpu preset, recorded in the lockfile");
  const squared = JSON.parse(await Deno.readTextFile(join(p.root, "results/alpha/squared/outputs.json")));
  assertEquals(squared.values, [1, 16]);
  const index = await Deno.readTextFile(join(p.root, "results/index.html"));
  assertMatch(index, /Alpha/);
  assertMatch(index, /not run yet/, "claims no pipeline addresses are listed as not run yet");

  runs.length = 0;
  assertStrictEquals(await p.cli("alpha", "--preset", "full"), 0);
  assertEquals(runs, [], "same params under another preset: nothing to do");
  assertStrictEquals(p.presetAsked(), 1, "--preset given, so the adapter is not consulted");
});

Deno.test("--set, --force and --dry-run from the command line", async () => {
  await using p = await project();
  await p.cli("--preset", "cpu");
  runs.length = 0;
  assertStrictEquals(await p.cli("--preset", "cpu", "--set", "seed=5"), 0);
  assertEquals(runs, ["alpha/source", "alpha/squared", "beta/source"], "seed is part of every identity");
  runs.length = 0;
  assertStrictEquals(await p.cli("alpha", "--preset", "cpu", "--set", "seed=5", "--set", "source.n=[1]"), 2);
  assertMatch(p.output(), /--set source\.n=\[1\]: source\.n: expected integer, got a list/);

  p.lines.length = 0;
  assertStrictEquals(
    await p.cli("--preset", "cpu", "--set", "seed=5", "--set", "squared.fail=true", "--dry-run"),
    0,
  );
  assertEquals(runs, []);
  // Another --set, another folder: its stages are new there, and those the seed=5 run computed are reused.
  assertMatch(p.output(), /results in results\/_presets\/cpu\+set-[0-9a-f]{8}\//);
  assertMatch(p.output(), /\[alpha\] squared: would run \(new\)/);
  assertMatch(
    p.output(),
    /\[beta\] source: cached \(same computation as _presets\/cpu\+set-[0-9a-f]{8}\/beta\/source/,
  );

  runs.length = 0;
  assertStrictEquals(await p.cli("--preset", "cpu", "--set", "seed=5", "--force", "squared"), 0);
  assertEquals(runs, ["alpha/squared"]);
  runs.length = 0;
  // A bare --force followed by a pipeline name forces every stage of that pipeline.
  assertStrictEquals(await p.cli("--preset", "cpu", "--set", "seed=5", "--force", "beta"), 0);
  assertEquals(runs, ["beta/source"]);
  runs.length = 0;
  assertStrictEquals(await p.cli("--preset", "cpu", "--set", "seed=5", "--force=alpha/source"), 0);
  assertEquals(runs, ["alpha/source"]);
  assertStrictEquals(await p.cli("--preset", "cpu", "--force", "sqared"), 2);
  assertMatch(p.output(), /--force sqared: no stage "sqared" \(did you mean "squared"\?\)/);
});

Deno.test("problems stop the run before anything runs, with exit code 2", async () => {
  await using p = await project({
    "alpha.yaml": ALPHA,
    "beta.yaml": BETA.replace("kind: square}", "kind: sqaure}"),
  });
  assertStrictEquals(await p.cli("--preset", "cpu"), 2);
  assertEquals(runs, []);
  assertMatch(
    p.output(),
    /pipelines\/beta\.yaml:6:12: stages\.source\.kind: unknown stage kind "sqaure" \(did you mean "square"\?\)/,
  );
  assertMatch(p.output(), /nothing was run/);

  assertStrictEquals(await p.cli("alpah"), 2);
  assertMatch(p.output(), /unknown pipeline "alpah" \(did you mean "alpha"\?\)/);
  assertStrictEquals(await p.cli("alpha", "--preset", "quick"), 2, "quick is only declared by beta");
  assertMatch(p.output(), /no preset "quick"/);
  assertStrictEquals(await p.cli("alpha", "--sett", "x=1"), 2);
  assertMatch(p.output(), /unknown option --sett \(did you mean --set\?\)/);
  assertStrictEquals(await p.cli("alpha", "--preset", "cpu", "--set", "sorce.n=1"), 2);
  assertMatch(p.output(), /--set sorce\.n=1: sorce\.n: unknown stage "sorce" \(did you mean "source"\?\)/);
  assertEquals(runs, []);
});

Deno.test("a failing stage makes the exit code 1 and is listed; --list describes pipelines and kinds", async () => {
  await using p = await project();
  assertStrictEquals(await p.cli("alpha", "--preset", "cpu", "--set", "squared.fail=true"), 1);
  assertMatch(p.output(), /FAILED alpha\/squared: asked to fail/);

  p.lines.length = 0;
  assertStrictEquals(await p.cli("--list"), 0);
  assertMatch(p.output(), /^alpha: Alpha {2}\(pipelines\/alpha\.yaml\)$/m);
  assertMatch(p.output(), /presets: smoke, cpu, full, quick/);
  assertMatch(p.output(), /- squared \(square\) <- source/);
  assertMatch(p.output(), /square: squares numbers\n\s+n: integer, default 3\./);
  assertMatch(p.output(), /report: Writes a self-contained HTML page/);
});
