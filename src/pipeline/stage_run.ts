// Running one stage instance: its context, its probe in a scratch folder, and the run itself under the resume
// contract (an unfinished attempt at the same inputs keeps its folder; anything else starts from an empty one).
// A finished record's folder is set aside, not deleted, until the rerun succeeds: its files (checkpoints are
// not committed) come back with its record when the rerun fails before writing anything.

import { dirname, join } from "@std/path";
import type { InputIdentity } from "./identity.ts";
import type { LockEntry } from "./lockfile.ts";
import { checkOutputFiles, hashOutputs, OUTPUTS_FILE, serializeOutputs } from "./outputs.ts";
import type { PipelinePlan, StageInstance } from "./plan.ts";
import type { Fingerprint, RunInfo, StageContext, StageOutputs, StageResult } from "./types.ts";

/** The folder under a pipeline's results where finished records' folders wait while their stages rerun. */
export const PREVIOUS_DIR = ".previous";

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function gatherInputs(
  instance: StageInstance,
  completed: ReadonlyMap<string, StageResult>,
): Record<string, StageResult | StageResult[]> {
  const inputs: Record<string, StageResult | StageResult[]> = {};
  for (const need of instance.needs) {
    const results = need.ids.map((id) => completed.get(id)!);
    inputs[need.stage] = need.asArray ? results : results[0];
  }
  return inputs;
}

function stageContext(
  instance: StageInstance,
  plan: PipelinePlan,
  runInfo: RunInfo,
  rest: Pick<StageContext, "outDir" | "resuming" | "resources" | "projectRoot" | "run" | "log" | "progress">,
): StageContext {
  return {
    pipeline: plan.definition.name,
    stage: instance.stage,
    id: instance.id,
    params: structuredClone(instance.params),
    inputs: gatherInputs(instance, runInfo.completed),
    preset: plan.preset,
    seed: instance.seed,
    matrix: instance.matrix,
    ...rest,
  };
}

/** A finished instance as downstream stages and pages see it. */
export function toResult(
  instance: StageInstance,
  outDir: string,
  outputs: StageOutputs,
  outputHash: string,
  entry: LockEntry,
  cached: boolean,
  reusedFrom?: string,
): StageResult {
  return {
    stage: instance.stage,
    id: instance.id,
    kind: instance.kind.name,
    matrix: instance.matrix,
    seed: instance.seed,
    params: instance.params,
    outDir,
    outputs,
    outputHash,
    durationMs: entry.durationMs ?? 0,
    cached,
    preset: entry.preset,
    datasets: entry.datasets,
    finishedAt: entry.finishedAt ?? "",
    ...(entry.host ? { host: entry.host } : {}),
    ...(reusedFrom ? { reusedFrom } : {}),
  };
}

/**
 * Facts of the run a probe sees: fixed, so a page that prints provenance probes the same on every run and
 * machine, and upstream results as if reused, so a probe right after they ran sees what a later one sees.
 */
function probeRunInfo(run: RunInfo): RunInfo {
  const completed = new Map([...run.completed].map(([id, result]) => [id, { ...result, cached: true }]));
  return {
    ...run,
    adapter: "probe",
    host: { cpu: "probe" },
    denoVersion: "probe",
    gitCommit: "probe",
    startedAt: "1970-01-01T00:00:00.000Z",
    completed,
  };
}

export interface ProbeContext {
  plan: PipelinePlan;
  runInfo: RunInfo;
  resources: Map<string, unknown>;
  projectRoot: string;
  say: (id: string, text: string) => void;
}

/** Runs the kind's probe in a scratch folder that is removed afterwards; undefined for kinds without one. */
export async function fingerprintOf(
  instance: StageInstance,
  c: ProbeContext,
): Promise<Fingerprint | undefined> {
  if (!instance.kind.fingerprint) return undefined;
  const scratch = await Deno.makeTempDir({ prefix: "probe-" });
  try {
    const run = probeRunInfo(c.runInfo);
    const ctx = stageContext(instance, c.plan, run, {
      outDir: scratch,
      resuming: false,
      resources: c.resources,
      projectRoot: c.projectRoot,
      run,
      log: () => {},
      progress: () => {},
    });
    const t0 = performance.now();
    const fingerprint = await instance.kind.fingerprint(ctx);
    const ms = performance.now() - t0;
    if (ms > 1000) c.say(instance.id, `probed in ${seconds(ms)}`);
    return fingerprint;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

export interface RunInstanceContext extends ProbeContext {
  reason: string;
  outDir: string;
  /** Where a finished record's folder waits while its stage reruns (removed once the rerun succeeds). */
  asideDir: string;
  previous: LockEntry | undefined;
  forced: boolean;
  /** Puts the instance's entry into the record and writes it. */
  record: (entry: LockEntry) => Promise<void>;
  progressIntervalMs: number;
}

/** Removes a folder and what it holds; nothing to do when it is not there. */
export async function removeIfThere(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Moves `from` to `to` (replacing what is there); false when there is no `from`. */
async function moveFolder(from: string, to: string): Promise<boolean> {
  try {
    await Deno.stat(from);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  await removeIfThere(to);
  await Deno.mkdir(dirname(to), { recursive: true });
  await Deno.rename(from, to);
  return true;
}

/** Whether a folder holds no file at any depth (an attempt that wrote nothing). */
async function holdsNoFile(dir: string): Promise<boolean> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory || !(await holdsNoFile(join(dir, entry.name)))) return false;
  }
  return true;
}

/**
 * An empty folder for the run, or the unfinished attempt's when resuming. A finished record's folder is
 * moved to `asideDir` instead of being deleted; true when it was.
 */
async function prepareOutDir(
  outDir: string,
  resuming: boolean,
  asideDir: string,
  previousDone: boolean,
): Promise<boolean> {
  let setAside = false;
  if (resuming) {
    // Keep checkpoints; only the marker of a finished run must go.
    await Deno.remove(join(outDir, OUTPUTS_FILE)).catch(() => {});
  } else if (previousDone) {
    setAside = await moveFolder(outDir, asideDir);
  } else {
    await removeIfThere(outDir);
  }
  await Deno.mkdir(outDir, { recursive: true });
  return setAside;
}

/**
 * Runs the instance: its entry is recorded `running` first, `done` with the output hash on success, `failed`
 * with the error otherwise. `entry` holds everything else the record keeps (identity, probe, run key, host).
 */
export async function runInstance(
  instance: StageInstance,
  identity: InputIdentity,
  entry: LockEntry,
  c: RunInstanceContext,
): Promise<{ result?: StageResult; error?: string }> {
  const { outDir, previous, say } = c;
  // Resume only an unfinished attempt at exactly the same inputs: checkpoints from other params would be wrong.
  const resuming = !c.forced && previous !== undefined && previous.status !== "done" &&
    previous.inputHash === identity.inputHash;
  const setAside = await prepareOutDir(outDir, resuming, c.asideDir, previous?.status === "done");
  await c.record(entry);
  say(instance.id, `running (${c.reason})${resuming ? ", resuming in its output directory" : ""}`);

  const t0 = performance.now();
  let lastProgress = -Infinity;
  const ctx = stageContext(instance, c.plan, c.runInfo, {
    outDir,
    resuming,
    resources: c.resources,
    projectRoot: c.projectRoot,
    run: c.runInfo,
    log: (message) => say(instance.id, message),
    progress: (done, total, note) => {
      const now = performance.now();
      if (done < total && now - lastProgress < c.progressIntervalMs) return;
      lastProgress = now;
      const percent = total > 0 ? Math.round((100 * done) / total) : 0;
      say(
        instance.id,
        `${percent}% (${done}/${total})${note ? " " + note : ""}, ${seconds(now - t0)} elapsed`,
      );
    },
  });
  try {
    const outputs = await instance.kind.run(ctx);
    checkOutputFiles(outputs);
    const text = serializeOutputs(outputs);
    const stored = JSON.parse(text) as StageOutputs;
    const outputHash = await hashOutputs(outDir, text, stored, c.projectRoot);
    await Deno.writeTextFile(join(outDir, OUTPUTS_FILE), text);
    Object.assign(entry, {
      status: "done",
      outputHash,
      finishedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - t0),
    });
    await c.record(entry);
    // The previous record's folder (set aside now or by an earlier failed attempt) is superseded.
    await removeIfThere(c.asideDir);
    say(instance.id, `done in ${seconds(entry.durationMs!)}`);
    return { result: toResult(instance, outDir, stored, outputHash, entry, false) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    Object.assign(entry, {
      status: "failed",
      error: message,
      finishedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - t0),
    });
    let kept = "";
    if (setAside && await holdsNoFile(outDir)) {
      // Nothing of this attempt to resume from: the previous record and its files stand as they were.
      await moveFolder(c.asideDir, outDir);
      await c.record(previous!);
      kept = "; the previous record and its files are kept";
    } else {
      await c.record(entry);
      if (setAside) {
        kept = `; the previous record's files are in ${c.asideDir} (this attempt's stay for a resume)`;
      }
    }
    say(instance.id, `FAILED after ${seconds(entry.durationMs!)}: ${message}${kept}`);
    if (error instanceof Error && error.stack) say(instance.id, error.stack);
    return { error: message };
  }
}
