// Reusing another instance's run of the same computation (equal run keys): its outputs, as this instance
// presents them (StageKind.adoptOutputs), and its files, hard-linked into this instance's folder so that
// checkpoints of hundreds of MB are not stored twice and downstream stages find everything where they look.

import { join } from "@std/path";
import {
  checkOutputFiles,
  hashOutputs,
  OUTPUTS_FILE,
  readStoredOutputs,
  serializeOutputs,
} from "./outputs.ts";
import type { StageInstance } from "./plan.ts";
import { removeIfThere } from "./stage_run.ts";
import type { RecordedRun } from "./run_index.ts";
import type { StageOutputs } from "./types.ts";

/** A run's outputs when they are as recorded (outputs.json and its files hash to the record); else undefined. */
export async function intactOutputs(
  run: RecordedRun,
  projectRoot: string,
): Promise<StageOutputs | undefined> {
  const stored = await readStoredOutputs(join(run.outDir, OUTPUTS_FILE));
  if (!stored) return undefined;
  const hash = await hashOutputs(run.outDir, stored.text, stored.outputs, projectRoot).catch(() => undefined);
  return hash === run.entry.outputHash ? stored.outputs : undefined;
}

export interface AdoptedOutputs {
  outputs: StageOutputs;
  /** outputs.json as this instance will store it. */
  text: string;
  outputHash: string;
}

/**
 * Another run's outputs as `instance` presents them, and their output hash (its listed files are hashed where
 * they are: the links will have the same bytes).
 */
export async function adoptOutputs(
  instance: StageInstance,
  outputs: StageOutputs,
  sourceDir: string,
  projectRoot: string,
): Promise<AdoptedOutputs> {
  const adopted = instance.kind.adoptOutputs?.(structuredClone(outputs), instance.params) ?? outputs;
  checkOutputFiles(adopted);
  const text = serializeOutputs(adopted);
  const stored = JSON.parse(text) as StageOutputs;
  return { outputs: stored, text, outputHash: await hashOutputs(sourceDir, text, stored, projectRoot) };
}

/** Hard-links every file under `from` into `to` (a copy where a link cannot be made), except `skip` at the top. */
async function linkTree(from: string, to: string, skip?: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === skip) continue;
    const source = join(from, entry.name), target = join(to, entry.name);
    if (entry.isDirectory) await linkTree(source, target);
    else if (entry.isFile) await Deno.link(source, target).catch(() => Deno.copyFile(source, target));
  }
}

/**
 * Replaces `outDir` with the run's files and this instance's outputs.json. The runner empties a folder before
 * any run writes into it, so a later run never writes through a link into the other instance's files.
 */
export async function linkRun(sourceDir: string, outDir: string, outputsText: string): Promise<void> {
  await removeIfThere(outDir);
  await linkTree(sourceDir, outDir, OUTPUTS_FILE);
  await Deno.writeTextFile(join(outDir, OUTPUTS_FILE), outputsText);
}
