// Shared by tests/pipeline_jobs.test.ts and tests/pipeline_slurm.test.ts: a temporary project holding the
// two-arm test pipeline, its CLI run as a subprocess, and the comparison of two results folders.

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { ARMS_PIPELINE } from "../fixtures/jobs/cli.ts";
import type { Lockfile } from "../../src/pipeline/lockfile.ts";
import { parseSetArgument } from "../../src/pipeline/plan.ts";
import { DEFAULT_HOME_PRESET, variantName, variantResultsDir } from "../../src/pipeline/variants.ts";
import { runDeno } from "./run.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const JOBS_CLI = join(ROOT, "tests/fixtures/jobs/cli.ts");

export interface CliResult {
  code: number;
  output: string;
}

export async function armsProject() {
  const dir = await Deno.makeTempDir({ prefix: "pipeline-jobs-" });
  await Deno.mkdir(join(dir, "pipelines"));
  await Deno.writeTextFile(join(dir, "pipelines", "arms.yaml"), ARMS_PIPELINE);
  /** Runs the test CLI on `arms` with results in `<dir>/<results>`. */
  const cli = async (results: string, rest: string[], env?: Record<string, string>): Promise<CliResult> => {
    const args = ["run", "-A", JOBS_CLI, "arms", "--pipelines", join(dir, "pipelines")];
    const out = await runDeno([...args, "--results", join(dir, results), ...rest], { cwd: ROOT, env });
    return { code: out.code, output: out.text };
  };
  return {
    dir,
    cli,
    results: (name: string) => join(dir, name),
    /** The folder a run with these arguments writes to: `<results>`, or its preset's under `_presets/`. */
    folder: (name: string, args: string[]) => folderOf(join(dir, name), args),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Where `--results root` with these `--preset`/`--set` arguments puts its records (variants.ts). */
export function folderOf(root: string, args: string[]): string {
  const preset = args[args.indexOf("--preset") + 1];
  const sets = args.flatMap((arg, i) => (args[i - 1] === "--set" ? [parseSetArgument(arg)] : []));
  return variantResultsDir(root, variantName(preset, sets, DEFAULT_HOME_PRESET));
}

/**
 * A lock record without what differs between two runs of the same inputs: times, durations, and the output
 * hash and probe of the report, whose page prints the upstream stages' durations and its own time (its numbers
 * are compared on the page instead).
 */
export function comparableLock(lock: Lockfile) {
  const stages = Object.fromEntries(
    Object.entries(lock.stages).map(([id, entry]) => {
      const { startedAt: _s, finishedAt: _f, durationMs: _d, ...rest } = entry;
      if (entry.kind === "report") {
        delete rest.outputHash;
        delete rest.fingerprint;
      }
      return [id, rest];
    }),
  );
  return { ...lock, updatedAt: "", stages };
}

async function outputsFiles(pipelineDir: string, at = ""): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for await (const entry of Deno.readDir(join(pipelineDir, at))) {
    const rel = at ? `${at}/${entry.name}` : entry.name;
    if (entry.isDirectory && entry.name !== "jobs") {
      Object.assign(found, await outputsFiles(pipelineDir, rel));
    } else if (entry.name === "outputs.json") found[rel] = await Deno.readTextFile(join(pipelineDir, rel));
  }
  return found;
}

/** The numbers on a page: every `data-value` (claims rows and tables). */
export async function pageNumbers(page: string): Promise<string[]> {
  return [...(await Deno.readTextFile(page)).matchAll(/data-value="([^"]*)"/g)].map((m) => m[1]);
}

/** Asserts that two results folders hold the same `arms` results: lock record, every outputs.json, page numbers. */
export async function assertSameResults(a: string, b: string): Promise<void> {
  const lock = async (dir: string) =>
    comparableLock(JSON.parse(await Deno.readTextFile(join(dir, "arms", "pipeline.lock.json"))));
  assertEquals(await lock(a), await lock(b));
  const outputsA = await outputsFiles(join(a, "arms"));
  assertEquals(Object.keys(outputsA).sort(), [
    "data/outputs.json",
    "fit/scale=1/outputs.json",
    "fit/scale=2/outputs.json",
    "report/outputs.json",
  ]);
  assertEquals(outputsA, await outputsFiles(join(b, "arms")));
  const numbers = await pageNumbers(join(a, "arms", "report", "index.html"));
  assertEquals(numbers.length > 4, true, `numbers on the page: ${numbers}`);
  assertEquals(numbers, await pageNumbers(join(b, "arms", "report", "index.html")));
}
