// Damaged records are refused, never taken for missing ones: a cut-short or schema-invalid lockfile, a job
// record or an outputs.json that is not JSON stops `reproduce` (and its dry run) before anything runs, with one
// line naming the file, what is wrong and the remedies; nothing under results/ changes. `--force` reruns on
// purpose. A missing record is still just "not run yet".

import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { runReproduceCli } from "../src/pipeline/cli.ts";
import { lockfilePath, readLockfile } from "../src/pipeline/lockfile.ts";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { planPipeline } from "../src/pipeline/plan.ts";
import { DamagedRecordError, describeJsonError } from "../src/pipeline/records.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { runPipeline } from "../src/pipeline/runner.ts";
import type { StageKind, StageResult } from "../src/pipeline/types.ts";
import { snapshotTree } from "./helpers/tree.ts";

const runs: string[] = [];

const squareKind: StageKind = {
  name: "square",
  description: "squares numbers",
  params: { n: { type: "integer", doc: "how many numbers without input", default: 3 } },
  run(ctx) {
    runs.push(`${ctx.pipeline}/${ctx.id}`);
    const input = ctx.inputs.source as StageResult | undefined;
    const values = (input?.outputs.values as number[] | undefined) ??
      Array.from({ length: ctx.params.n as number }, (_, i) => ctx.seed + i);
    return Promise.resolve({ values: values.map((v) => v * v) });
  },
};

const ALPHA = `title: Alpha
stages:
  source: {kind: square, params: {n: 2}}
  squared: {kind: square, needs: source}
`;

async function project() {
  const root = await Deno.makeTempDir({ prefix: "pipeline-records-" });
  await Deno.mkdir(join(root, "pipelines"));
  await Deno.writeTextFile(join(root, "pipelines", "alpha.yaml"), ALPHA);
  const lines: string[] = [];
  const cli = (...args: string[]) => {
    lines.length = 0;
    runs.length = 0;
    return runReproduceCli(["--preset", "cpu", ...args], {
      stageKinds: [squareKind],
      chooseDefaultPreset: () => "cpu",
      projectRoot: root,
      log: (line) => lines.push(line),
    });
  };
  const results = join(root, "results");
  return {
    root,
    results,
    cli,
    output: () => lines.join("\n"),
    lines,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

type Project = Awaited<ReturnType<typeof project>>;

/** Damages a record, then checks that a run and a dry run both stop at it, change nothing and name it once. */
async function assertRefused(p: Project, file: string, problem: RegExp): Promise<void> {
  const before = await snapshotTree(p.results);
  for (const dryRun of [[], ["--dry-run"]]) {
    const code = await p.cli(...dryRun);
    assertStrictEquals(code, 5, p.output());
    assertEquals(runs, [], "nothing ran");
    const named = p.lines.filter((line) => line.includes(file));
    assertStrictEquals(named.length, 1, p.output());
    assertMatch(named[0], new RegExp(`^damaged record ${file.replaceAll(".", "\\.")}: `));
    assertMatch(named[0], problem);
    assertMatch(named[0], new RegExp(`git checkout -- ${file.replaceAll(".", "\\.")}`));
    assertMatch(named[0], /--force/);
    assertMatch(p.output(), /nothing was run/);
    assertEquals(await snapshotTree(p.results), before, "nothing under results/ changed");
  }
}

Deno.test("a cut-short lockfile stops reproduce and its dry run, naming the file, where it ends and the remedies", async () => {
  await using p = await project();
  assertStrictEquals(await p.cli(), 0, p.output());
  const path = lockfilePath(p.results, "alpha");
  const text = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, text.slice(0, 100));
  await assertRefused(
    p,
    "results/alpha/pipeline.lock.json",
    /not valid JSON: it ends at byte 100, inside a value \(cut short\?\)/,
  );
  assertMatch(p.output(), /deno task reproduce alpha --force/);
  // --force reruns on purpose and rewrites the record.
  assertStrictEquals(await p.cli("--force"), 0, p.output());
  assertEquals(runs, ["alpha/source", "alpha/squared"]);
  assert((await readLockfile(path))?.stages.squared.status === "done");
});

Deno.test("a lockfile with a missing field is refused the same way, naming the field", async () => {
  await using p = await project();
  await p.cli();
  const path = lockfilePath(p.results, "alpha");
  const lock = JSON.parse(await Deno.readTextFile(path));
  delete lock.stages.squared.inputHash;
  await Deno.writeTextFile(path, JSON.stringify(lock, null, 2));
  await assertRefused(p, "results/alpha/pipeline.lock.json", /stages\["squared"\]\.inputHash is missing/);
  // An older lockfile version is another schema, not an absent record.
  await Deno.writeTextFile(path, JSON.stringify({ ...lock, version: 1 }));
  await assertRefused(p, "results/alpha/pipeline.lock.json", /lockfile version 1; this code reads version 2/);
});

Deno.test("a job record that is not JSON is refused before anything runs", async () => {
  await using p = await project();
  await p.cli();
  await Deno.mkdir(join(p.results, "alpha", "jobs"));
  await Deno.writeTextFile(join(p.results, "alpha", "jobs", "0.lock.json"), "<<<<<<< HEAD\n{}\n");
  await assertRefused(p, "results/alpha/jobs/0.lock.json", /not valid JSON: Unexpected token '<'/);
});

Deno.test("an outputs.json that is not JSON is refused; --force on its stage reruns it", async () => {
  await using p = await project();
  await p.cli();
  const path = join(p.results, "alpha", "squared", "outputs.json");
  await Deno.writeTextFile(path, '{\n  "values": [1, 16');
  await assertRefused(p, "results/alpha/squared/outputs.json", /not valid JSON: it ends at byte 20/);
  assertMatch(p.output(), /deno task reproduce alpha --force=alpha\/squared`/);
  assertStrictEquals(await p.cli("--force", "squared"), 0, p.output());
  assertEquals(runs, ["alpha/squared"]);
  // A changed but readable outputs.json is noticed as before and simply rerun.
  await Deno.writeTextFile(path, '{"values": [0]}\n');
  assertStrictEquals(await p.cli(), 0, p.output());
  assertEquals(runs, ["alpha/squared"]);
  assertMatch(p.output(), /squared: running \(outputs missing or changed on disk\)/);
  // A missing record is no record: its stages run.
  await Deno.remove(lockfilePath(p.results, "alpha"));
  assertStrictEquals(await p.cli(), 0, p.output());
  assertEquals(runs, ["alpha/source", "alpha/squared"]);
});

Deno.test("runPipeline itself throws on a damaged record before running anything", async () => {
  await using p = await project();
  await p.cli();
  await Deno.writeTextFile(lockfilePath(p.results, "alpha"), "");
  const registry = new StageKindRegistry([squareKind]);
  const plan = planPipeline(parsePipeline("pipelines/alpha.yaml", ALPHA, registry), registry, {
    preset: "cpu",
  });
  runs.length = 0;
  const error = await assertRejects(
    () => runPipeline(plan, { resultsDir: p.results, projectRoot: p.root, log: () => {} }),
    DamagedRecordError,
  );
  assertMatch(error.message, /pipeline\.lock\.json: empty \(0 bytes\), not a JSON record/);
  assertEquals(runs, []);
});

Deno.test("describeJsonError: where a record ends or what the parser found", () => {
  const say = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      return describeJsonError(text, error as Error);
    }
    return "valid";
  };
  assertStrictEquals(say('{"a": [1, 2'), "not valid JSON: it ends at byte 11, inside a value (cut short?)");
  assertStrictEquals(say('{"a": "abc'), "not valid JSON: it ends at byte 10, inside a value (cut short?)");
  assertStrictEquals(
    say('{"a": 1}\n{"b": 2}'),
    "not valid JSON: Unexpected non-whitespace character after JSON at line 2, column 1",
  );
  assertStrictEquals(say("   \n"), "empty (4 bytes), not a JSON record");
});
