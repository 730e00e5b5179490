// Scale-out: a pipeline split into independent jobs (one per matrix arm, with the upstream stages it needs),
// each writing its own lock record, and a merge that combines the records and runs what is left (docs/pipelines.md,
// "Jobs and clusters").

import { join } from "@std/path";
import { armDirName } from "./matrix.ts";
import type { LockEntry, Lockfile } from "./lockfile.ts";
import { lockfilePath, readLockfile } from "./lockfile.ts";
import type { PipelinePlan, StageInstance } from "./plan.ts";
import { canonicalJson } from "./hash.ts";
import { acquireStageLock } from "./run_lock.ts";
import { SEED_AXIS } from "./seeds.ts";

export const JOBS_DIR = "jobs";

/** One independent unit of a pipeline: the instances it owns and every upstream instance they need. */
export interface JobUnit {
  index: number;
  /** The arm (`pooling=overlap`) or, for a stage outside the matrix, its id. */
  label: string;
  /** The instances the job is for. */
  own: string[];
  /** `own` and their upstream instances, in plan order: what the job runs or reuses. */
  instances: string[];
}

export interface JobSplit {
  jobs: JobUnit[];
  /** Instances that need several jobs' results (reports over every arm): run by the merge. */
  merge: string[];
}

/**
 * Splits a plan: each matrix arm is one job (its `foreach` instances and their upstream stages); a stage
 * outside the matrix that no arm needs is a job of its own (with its upstream stages) when nothing else in
 * the pipeline needs it; whatever needs a matrix stage without being one (a report over every arm), or needs
 * such a stage, is left to the merge.
 */
export function splitJobs(plan: PipelinePlan): JobSplit {
  const byId = new Map(plan.instances.map((instance) => [instance.id, instance]));
  const upstream = (instance: StageInstance) => instance.needs.flatMap((need) => need.ids);
  const matrixDependent = new Set<string>();
  const merge = new Set<string>();
  // A seed of a seeded stage is a job like an arm: `lrn=on,seed=2`, or `seed=2` outside the matrix.
  const armOf = (instance: StageInstance) =>
    instance.perSeed ? { ...instance.matrix, [SEED_AXIS]: instance.seed } : instance.matrix;
  for (const instance of plan.instances) {
    const ups = upstream(instance);
    if (armOf(instance) || ups.some((id) => matrixDependent.has(id))) matrixDependent.add(instance.id);
    if (
      (!armOf(instance) && ups.some((id) => matrixDependent.has(id))) || ups.some((id) => merge.has(id))
    ) merge.add(instance.id);
  }
  const closure = (ids: string[]) => {
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const up of upstream(byId.get(id)!)) visit(up);
    };
    ids.forEach(visit);
    return plan.instances.map((instance) => instance.id).filter((id) => seen.has(id));
  };
  const units: { label: string; own: string[] }[] = [];
  const arms = new Map<string, string[]>();
  for (const instance of plan.instances) {
    if (!armOf(instance) || merge.has(instance.id)) continue;
    const arm = armDirName(armOf(instance)!);
    if (!arms.has(arm)) {
      arms.set(arm, []);
      units.push({ label: arm, own: arms.get(arm)! });
    }
    arms.get(arm)!.push(instance.id);
  }
  const covered = new Set(units.flatMap((unit) => closure(unit.own)));
  const rest = plan.instances.filter((instance) =>
    !covered.has(instance.id) && !merge.has(instance.id) && !armOf(instance)
  );
  const neededByRest = new Set(rest.flatMap(upstream));
  for (const instance of rest) {
    if (!neededByRest.has(instance.id)) units.push({ label: instance.id, own: [instance.id] });
  }
  return {
    jobs: units.map((unit, index) => ({ index, ...unit, instances: closure(unit.own) })),
    merge: plan.instances.map((instance) => instance.id).filter((id) => merge.has(id)),
  };
}

export function jobsDir(resultsDir: string, pipeline: string): string {
  return join(resultsDir, pipeline, JOBS_DIR);
}

export function jobRecordPath(resultsDir: string, pipeline: string, index: number): string {
  return join(jobsDir(resultsDir, pipeline), `${index}.lock.json`);
}

/** A plan reduced to one job's instances (upstream first), for runPipeline. */
export function jobPlan(plan: PipelinePlan, job: JobUnit): PipelinePlan {
  const ids = new Set(job.instances);
  return { ...plan, instances: plan.instances.filter((instance) => ids.has(instance.id)) };
}

/** The per-stage lock of a pipeline's jobs: one writer per stage folder. */
export function stageLocker(resultsDir: string, pipeline: string, job: number, log: (line: string) => void) {
  return (instance: StageInstance) =>
    acquireStageLock(
      join(jobsDir(resultsDir, pipeline), "locks", `${encodeURIComponent(instance.id)}.lock`),
      `${pipeline} job ${job}`,
      (text) => log(`[${pipeline}] ${instance.id}: ${text}`),
    );
}

async function otherRecords(resultsDir: string, pipeline: string, except: number): Promise<Lockfile[]> {
  const records: Lockfile[] = [];
  try {
    for await (const entry of Deno.readDir(jobsDir(resultsDir, pipeline))) {
      const match = /^(\d+)\.lock\.json$/.exec(entry.name);
      if (!match || Number(match[1]) === except) continue;
      const record = await readLockfile(join(jobsDir(resultsDir, pipeline), entry.name));
      if (record) records.push(record);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return records;
}

const latest = (entries: LockEntry[]) =>
  entries.sort((a, b) => (b.finishedAt ?? "").localeCompare(a.finishedAt ?? ""))[0] as LockEntry | undefined;

/**
 * What a job decides an instance against: its own unfinished attempt at the same inputs (to resume), else a
 * finished run at the same inputs in any job's record or the pipeline's lockfile (a shared upstream stage
 * another job ran), else its own entry or the lockfile's (so `--dry-run` says what changed).
 */
export function jobPreviousFinder(resultsDir: string, pipeline: string, job: number) {
  let main: Promise<Lockfile | undefined> | undefined;
  return async (id: string, inputHash: string, own: LockEntry | undefined) => {
    if (own && own.inputHash === inputHash && own.status !== "done") return own;
    main ??= readLockfile(lockfilePath(resultsDir, pipeline));
    const mainEntry = (await main)?.stages[id];
    const others = (await otherRecords(resultsDir, pipeline, job)).map((record) => record.stages[id]);
    const done = [own, mainEntry, ...others].filter((entry): entry is LockEntry =>
      entry?.status === "done" && entry.inputHash === inputHash
    );
    return latest(done) ?? own ?? mainEntry;
  };
}

export class MergeError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

/**
 * The stages of the pipeline's lockfile with every job's record laid over it; throws MergeError listing every
 * job whose record is missing, was made with another preset, `--set` or seed, or has a stage that did not
 * finish.
 */
export async function mergeJobRecords(
  plan: PipelinePlan,
  split: JobSplit,
  resultsDir: string,
): Promise<Record<string, LockEntry>> {
  const pipeline = plan.definition.name;
  const problems: string[] = [];
  const stages: Record<string, LockEntry> = {
    ...(await readLockfile(lockfilePath(resultsDir, pipeline)))?.stages,
  };
  const found = new Map<string, LockEntry[]>();
  for (const job of split.jobs) {
    const name = `job ${job.index} (${job.label})`;
    const record = await readLockfile(jobRecordPath(resultsDir, pipeline, job.index));
    if (!record) {
      problems.push(`${name}: no record (not run yet, or still starting)`);
      continue;
    }
    // A record names its seeds only when there are several (as the lockfile does).
    const settings = (lock: Pick<Lockfile, "preset" | "seed" | "seeds" | "overrides">) =>
      canonicalJson({
        preset: lock.preset,
        seed: lock.seed,
        seeds: (lock.seeds?.length ?? 1) > 1 ? lock.seeds : undefined,
        overrides: lock.overrides,
      });
    if (settings(record) !== settings(plan)) {
      problems.push(
        `${name}: ran with other settings (${settings(record)}) than this merge (${settings(plan)})`,
      );
      continue;
    }
    for (const id of job.instances) {
      const entry = record.stages[id];
      if (!entry) problems.push(`${name}: ${id} did not run (an upstream stage failed?)`);
      else if (entry.status === "failed") problems.push(`${name}: ${id} failed: ${entry.error ?? "error"}`);
      else if (entry.status !== "done") problems.push(`${name}: ${id} is still running or was interrupted`);
      else found.set(id, [...(found.get(id) ?? []), entry]);
    }
  }
  if (problems.length) throw new MergeError(problems);
  for (const [id, entries] of found) stages[id] = latest(entries)!;
  return stages;
}

/** `--jobs`: one line per job, then what the merge runs. */
export function describeJobs(pipeline: string, split: JobSplit): string[] {
  const lines = [
    `[${pipeline}] ${split.jobs.length} job${split.jobs.length === 1 ? "" : "s"} ` +
    `(run each with --job I, then --merge):`,
  ];
  for (const job of split.jobs) {
    const upstream = job.instances.filter((id) => !job.own.includes(id));
    lines.push(
      `  ${job.index}: ${job.label}: ${job.own.join(", ")}` +
        (upstream.length ? ` (with ${upstream.join(", ")})` : ""),
    );
  }
  lines.push(`  merge: ${split.merge.length ? split.merge.join(", ") : "(only merges the records)"}`);
  return lines;
}
