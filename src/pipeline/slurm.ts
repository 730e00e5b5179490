// `--slurm`: a pipeline's jobs as one Slurm job array (task I runs `--job I`) and a merge job that starts when
// every task succeeded (docs/pipelines.md, "Jobs and clusters").

import { join } from "@std/path";
import { jobsDir } from "./jobs.ts";

export interface SlurmOptions {
  pipeline: string;
  jobCount: number;
  resultsDir: string;
  projectRoot: string;
  /** The command that runs this CLI (deno, run, -A, the script) and the arguments every job repeats. */
  command: string[];
  partition?: string;
  gpusPerJob?: number;
  time?: string;
}

export interface SlurmScripts {
  arrayPath: string;
  mergePath: string;
  array: string;
  merge: string;
}

/** Quotes a word for bash. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function header(o: SlurmOptions, name: string, output: string, extra: string[]): string[] {
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=${shellQuote(name)}`,
    ...extra,
    `#SBATCH --output=${shellQuote(output)}`,
    `#SBATCH --chdir=${shellQuote(o.projectRoot)}`,
    ...(o.partition ? [`#SBATCH --partition=${shellQuote(o.partition)}`] : []),
    ...(o.time ? [`#SBATCH --time=${shellQuote(o.time)}`] : []),
  ];
}

const PREAMBLE = [
  "set -eu",
  // WebGPU (wgpu) wants a runtime directory; batch jobs often have none.
  'export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-$(id -u)}"',
  'mkdir -p "$XDG_RUNTIME_DIR"',
  'echo "job $SLURM_JOB_ID on $(hostname), started $(date -u +%FT%TZ)"',
];

export function slurmScripts(o: SlurmOptions): SlurmScripts {
  const dir = jobsDir(o.resultsDir, o.pipeline);
  const command = o.command.map(shellQuote).join(" ");
  const gpus = o.gpusPerJob ? [`#SBATCH --gres=gpu:${o.gpusPerJob}`] : [];
  const array = [
    ...header(o, `reproduce-${o.pipeline}`, join(dir, "slurm-%A_%a.log"), [
      `#SBATCH --array=0-${o.jobCount - 1}`,
      ...gpus,
    ]),
    ...PREAMBLE,
    `exec ${command} --job "$SLURM_ARRAY_TASK_ID"`,
    "",
  ].join("\n");
  const merge = [
    ...header(o, `reproduce-${o.pipeline}-merge`, join(dir, "slurm-%j-merge.log"), []),
    ...PREAMBLE,
    `exec ${command} --merge`,
    "",
  ].join("\n");
  return { arrayPath: join(dir, "array.sbatch"), mergePath: join(dir, "merge.sbatch"), array, merge };
}

export class SlurmError extends Error {}

async function sbatch(args: string[]): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("sbatch", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SlurmError(
        "sbatch not found on PATH: run --slurm on a Slurm login node, or write the scripts with --slurm --print",
      );
    }
    throw error;
  }
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  const id = /^(\d+)/.exec(stdout)?.[1];
  if (!output.success || !id) {
    throw new SlurmError(
      `sbatch ${args.join(" ")} refused (exit code ${output.code}): ${stderr || stdout || "no message"}`,
    );
  }
  return id;
}

/** Writes the scripts; then submits the array and a merge that depends on all of it. Returns the job ids. */
export async function submitSlurm(scripts: SlurmScripts): Promise<{ arrayId: string; mergeId: string }> {
  const arrayId = await sbatch(["--parsable", scripts.arrayPath]);
  let mergeId: string;
  try {
    mergeId = await sbatch([
      "--parsable",
      `--dependency=afterok:${arrayId}`,
      "--kill-on-invalid-dep=yes",
      scripts.mergePath,
    ]);
  } catch (error) {
    throw new SlurmError(
      `${
        (error as Error).message
      }\nthe job array ${arrayId} was submitted; cancel it with scancel ${arrayId}, ` +
        `or run --merge yourself once it finished`,
    );
  }
  return { arrayId, mergeId };
}

export async function writeSlurmScripts(scripts: SlurmScripts): Promise<void> {
  await Deno.mkdir(join(scripts.arrayPath, ".."), { recursive: true });
  await Deno.writeTextFile(scripts.arrayPath, scripts.array, { mode: 0o755 });
  await Deno.writeTextFile(scripts.mergePath, scripts.merge, { mode: 0o755 });
}
