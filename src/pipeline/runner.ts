import { join } from "@std/path";
import type { RunEnvironment } from "./environment.ts";
import { compareFingerprints, describeMatch } from "./fingerprint.ts";
import { checkOutputFiles, hashOutputs, OUTPUTS_FILE, serializeOutputs } from "./outputs.ts";
import { canonicalJson, sha256 } from "./hash.ts";
import { describeParamChanges } from "./param_changes.ts";
import type { LockEntry, Lockfile } from "./lockfile.ts";
import { LOCKFILE_VERSION, lockfilePath, readLockfile, writeJsonAtomic } from "./lockfile.ts";
import type { PipelinePlan, StageInstance } from "./plan.ts";
import type { Fingerprint, MissingInput, RunInfo, StageContext, StageOutputs, StageResult } from "./types.ts";
import { FETCH_INPUTS, missingInputOf } from "./types.ts";

export { OUTPUTS_FILE } from "./outputs.ts";

export interface RunnerOptions {
  resultsDir: string;
  /** Where `published` outputs resolve; defaults to the working directory. */
  projectRoot?: string;
  /** Decide and print, run nothing, write nothing. */
  dryRun?: boolean;
  /** `true` reruns every stage; a predicate reruns the instances it accepts. */
  force?: boolean | ((instance: StageInstance) => boolean);
  /** Shared across pipelines of one invocation so datasets load once. */
  resources?: Map<string, unknown>;
  environment?: RunEnvironment;
  /**
   * A digest of everything besides a stage's inputs that decides its numbers: the code, the runtime, the
   * adapter. Identical code on an identical adapter computes identical numbers, so a stage whose record
   * was checked under the same identity is reused without its probe; any other identity probes as usual.
   * Called for every stage that has a probe, so it should be memoised (the reproduce CLI computes it once per
   * invocation); absent: every reuse is probed.
   */
  codeIdentity?: () => Promise<string>;
  log?: (line: string) => void;
  /** Minimum time between two progress lines of one stage (the last one always prints). */
  progressIntervalMs?: number;
  /** Where this run's lock record goes (default results/<pipeline>/pipeline.lock.json); a job's own file. */
  lockPath?: string;
  /** Entries to start from instead of the record at `lockPath` (a merge starts from the jobs' records). */
  previousStages?: Record<string, LockEntry>;
  /**
   * Looks up the entry an instance is decided against, once its input hash is known (default: this run's
   * record). A job also looks in the other jobs' records and the pipeline's lockfile.
   */
  findPrevious?: (
    id: string,
    inputHash: string,
    own: LockEntry | undefined,
  ) => Promise<LockEntry | undefined>;
  /**
   * Taken before an instance is decided and released after it ran or was reused, so that of several runs
   * sharing a results folder only one writes a stage's folder; the others then find its record.
   */
  stageLock?: (instance: StageInstance) => Promise<() => Promise<void>>;
}

export type Action = "run" | "cached" | "blocked";

/** What the runner decided for one instance, and why (the text `--dry-run` prints). */
export interface Decision {
  id: string;
  action: Action;
  reason: string;
}

export interface PipelineRunSummary {
  pipeline: string;
  preset: string;
  decisions: Decision[];
  ran: string[];
  cached: string[];
  failed: { id: string; error: string }[];
  blocked: string[];
  ok: boolean;
  durationMs: number;
  results: Map<string, StageResult>;
  /** Dry runs: the stage kinds' estimate of the work (plannedCompute). */
  compute?: PlannedCompute;
  /** Instances that could neither run nor be reused because an input is not on this machine. */
  needsData: { id: string; input: MissingInput }[];
  /** Inputs that are not here but whose stages stood on their records (no run, no probe needed). */
  absentInputs: MissingInput[];
}

interface InputIdentity {
  inputHash: string;
  upstream: Record<string, string>;
  datasets: Record<string, string>;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Loads stored outputs if they still match the lockfile's output hash; undefined when missing or altered. */
async function loadStoredOutputs(
  outDir: string,
  expectedHash: string | undefined,
  projectRoot: string,
): Promise<{ outputs: StageOutputs; outputHash: string } | undefined> {
  try {
    const text = await Deno.readTextFile(join(outDir, OUTPUTS_FILE));
    const outputs = JSON.parse(text) as StageOutputs;
    const outputHash = await hashOutputs(outDir, text, outputs, projectRoot);
    return outputHash === expectedHash ? { outputs, outputHash } : undefined;
  } catch {
    return undefined;
  }
}

/** Why an instance must run, or undefined when its stored outputs can be reused. */
function reasonToRun(
  instance: StageInstance,
  identity: InputIdentity,
  previous: LockEntry | undefined,
) {
  const { seed } = instance;
  if (!previous) return "new";
  if (previous.status === "running") return "previous attempt was interrupted";
  if (previous.status === "failed") return `previous attempt failed (${previous.error ?? "error"})`;
  if (previous.inputHash === identity.inputHash) return undefined;
  const reasons: string[] = [];
  if (previous.kind !== instance.kind.name) {
    reasons.push(`kind changed (${previous.kind} -> ${instance.kind.name})`);
  }
  const paramChanges = describeParamChanges(previous.params ?? {}, instance.params);
  if (paramChanges) reasons.push(`params changed: ${paramChanges}`);
  if (previous.seed !== seed) reasons.push(`seed changed (${previous.seed} -> ${seed})`);
  const upstream = Object.keys(identity.upstream).filter((id) =>
    previous.upstream?.[id] !== identity.upstream[id]
  );
  if (upstream.length) reasons.push(`upstream changed: ${upstream.join(", ")}`);
  const datasets = [...new Set([...Object.keys(previous.datasets ?? {}), ...Object.keys(identity.datasets)])]
    .filter((name) => previous.datasets?.[name] !== identity.datasets[name]);
  if (datasets.length) reasons.push(`datasets changed: ${datasets.join(", ")}`);
  return reasons.join("; ") || "inputs changed";
}

function sameLock(a: Lockfile, b: Lockfile): boolean {
  return canonicalJson({ ...a, updatedAt: "" }) === canonicalJson({ ...b, updatedAt: "" });
}

function emptyLockfile(plan: PipelinePlan): Lockfile {
  const { definition } = plan;
  return {
    version: LOCKFILE_VERSION,
    pipeline: definition.name,
    title: definition.title,
    description: definition.description,
    claims: definition.claims,
    file: definition.file,
    preset: plan.preset,
    overrides: plan.overrides,
    seed: plan.seed,
    // Only with several seeds, so a one-seed pipeline's lockfile stays as it was.
    ...(plan.seeds.length > 1 ? { seeds: plan.seeds } : {}),
    updatedAt: new Date().toISOString(),
    stages: {},
  };
}

/**
 * Runs one planned pipeline: each instance in dependency order either reuses its stored outputs (same input
 * hash, status done, outputs intact) or runs. A failure skips only the instances that depend on it.
 */
export async function runPipeline(plan: PipelinePlan, options: RunnerOptions): Promise<PipelineRunSummary> {
  const started = performance.now();
  const { definition } = plan;
  const log = options.log ?? ((line: string) => console.log(line));
  const projectRoot = options.projectRoot ?? Deno.cwd();
  const resources = options.resources ?? new Map<string, unknown>();
  const pipelineDir = join(options.resultsDir, definition.name);
  const lockPath = options.lockPath ?? lockfilePath(options.resultsDir, definition.name);
  const previousLock = await readLockfile(lockPath);
  const lock: Lockfile = {
    ...emptyLockfile(plan),
    stages: { ...(options.previousStages ?? previousLock?.stages ?? {}) },
  };
  const saveLock = async () => {
    lock.updatedAt = new Date().toISOString();
    await writeJsonAtomic(lockPath, lock);
  };
  const forced = (instance: StageInstance) =>
    options.force === true || (typeof options.force === "function" && options.force(instance));
  const environment = options.environment ??
    { adapter: "unknown", denoVersion: Deno.version.deno, gitCommit: "" };
  const completed = new Map<string, StageResult>();
  const runInfo: RunInfo = {
    pipeline: {
      name: definition.name,
      title: definition.title,
      description: definition.description,
      claims: definition.claims,
      file: definition.file,
      ...(definition.budget !== undefined ? { budget: definition.budget } : {}),
      ...(definition.design !== undefined ? { design: definition.design } : {}),
    },
    preset: plan.preset,
    overrides: plan.overrides,
    seed: plan.seed,
    seeds: plan.seeds,
    ...environment,
    startedAt: new Date().toISOString(),
    resultsDir: options.resultsDir,
    completed,
  };
  const summary: PipelineRunSummary = {
    pipeline: definition.name,
    preset: plan.preset,
    decisions: [],
    ran: [],
    cached: [],
    failed: [],
    blocked: [],
    ok: true,
    durationMs: 0,
    results: completed,
    needsData: [],
    absentInputs: [],
  };
  const unavailable = new Set<string>(); // failed or blocked instance ids
  const willRun = new Set<string>(); // dry run: ids that would run, so their output hash is unknown
  const say = (id: string, text: string) => log(`[${definition.name}] ${id}: ${text}`);
  const decide = (id: string, action: Action, reason: string) => {
    summary.decisions.push({ id, action, reason });
    if (options.dryRun) say(id, `${action === "run" ? "would run" : action} (${reason})`);
  };

  /** Whether the record alone decides the instance: same inputs with its datasets, same code, not forced. */
  const recordStandsIn = async (instance: StageInstance, previous: LockEntry | undefined) => {
    if (!previous?.datasets || previous.status !== "done" || !previous.fingerprint || forced(instance)) {
      return false;
    }
    const code = instance.kind.fingerprint ? await options.codeIdentity?.() : undefined;
    if (code === undefined || previous.verifiedCode !== code) return false;
    const standIn = await computeIdentity(instance, completed, resources, projectRoot, previous.datasets);
    return reasonToRun(instance, standIn, previous) === undefined;
  };

  // Another build of a dataset than the record's: said once per dataset, with what it would cost, before
  // anything runs.
  const reportedChanges = new Set<string>();
  const reportDatasetChange = async (
    instance: StageInstance,
    identity: InputIdentity,
    previous: LockEntry | undefined,
  ) => {
    if (!previous?.datasets || !instance.kind.describeDatasetChange) return;
    for (const [name, current] of Object.entries(identity.datasets)) {
      const recorded = previous.datasets[name];
      if (recorded === undefined || recorded === current || reportedChanges.has(name)) continue;
      reportedChanges.add(name);
      const what = await instance.kind.describeDatasetChange(name, recorded, current);
      if (!what) continue;
      const affected = dependants(plan, instance.id);
      const ms = affected.reduce((sum, id) => sum + (lock.stages[id]?.durationMs ?? 0), 0);
      log(
        `[${definition.name}] ${what}: ${affected.length} stage${affected.length === 1 ? "" : "s"} would ` +
          `rerun, about ${(ms / 3.6e6).toFixed(1)} CPU-hours (their recorded time)`,
      );
    }
  };

  for (const instance of plan.instances) {
    const release = options.dryRun ? undefined : await options.stageLock?.(instance);
    try {
      const upstreamIds = instance.needs.flatMap((need) => need.ids);
      const missing = upstreamIds.filter((id) => unavailable.has(id));
      if (missing.length) {
        unavailable.add(instance.id);
        summary.blocked.push(instance.id);
        decide(instance.id, "blocked", `upstream did not finish: ${missing.join(", ")}`);
        if (!options.dryRun) say(instance.id, `skipped, upstream did not finish: ${missing.join(", ")}`);
        continue;
      }
      const pending = upstreamIds.filter((id) => willRun.has(id));
      if (pending.length) {
        willRun.add(instance.id);
        decide(instance.id, "run", `upstream will run: ${pending.join(", ")}`);
        continue;
      }
      const outDir = join(pipelineDir, instance.outDirRel);
      let previous: LockEntry | undefined = lock.stages[instance.id];
      let identity: InputIdentity;
      // An input not on this machine: the record's checksum stands in for it, if the record can stand alone.
      let absent: MissingInput | undefined;
      const needsData = (input: MissingInput, why: string) => {
        unavailable.add(instance.id);
        summary.needsData.push({ id: instance.id, input });
        decide(instance.id, "blocked", `needs data (${why}): ${input.remedy}`);
        if (!options.dryRun) say(instance.id, `needs data (${why}): ${input.remedy}`);
      };
      try {
        identity = await computeIdentity(instance, completed, resources, projectRoot);
      } catch (error) {
        absent = missingInputOf(error);
        const message = (error as Error).message;
        if (absent && !(await recordStandsIn(instance, previous)) && resources.get(FETCH_INPUTS) === true) {
          // Asked to fetch, and the record cannot do without the data: get it, then decide as usual.
          await instance.kind.fetchMissing?.(instance.params, { resources, projectRoot });
          identity = await computeIdentity(instance, completed, resources, projectRoot);
          absent = undefined;
        } else if (!absent || !previous?.datasets) {
          unavailable.add(instance.id);
          if (absent) {
            summary.needsData.push({ id: instance.id, input: absent });
            decide(instance.id, "blocked", `needs data (no record to stand on): ${absent.remedy}`);
            if (!options.dryRun) say(instance.id, `needs data: ${message}`);
            continue;
          }
          summary.failed.push({ id: instance.id, error: message });
          decide(instance.id, "blocked", `cannot compute its identity: ${message}`);
          if (!options.dryRun) say(instance.id, `FAILED before running: ${message}`);
          continue;
        } else {
          identity = await computeIdentity(instance, completed, resources, projectRoot, previous.datasets);
        }
      }
      if (options.findPrevious) {
        previous = await options.findPrevious(instance.id, identity.inputHash, previous);
      }
      await reportDatasetChange(instance, identity, previous);
      let reason = forced(instance) ? "forced" : reasonToRun(instance, identity, previous);
      let stored: Awaited<ReturnType<typeof loadStoredOutputs>>;
      if (reason === undefined) {
        stored = await loadStoredOutputs(outDir, previous!.outputHash, projectRoot);
        if (!stored) reason = "outputs missing or changed on disk";
      }
      // The probe stands for the code: computed when it decides (inputs match) or when it is to be recorded.
      let fingerprint: Fingerprint | undefined;
      const probe = () => fingerprintOf(instance, plan, runInfo, resources, projectRoot, say);
      let numerics = "";
      const code = instance.kind.fingerprint ? await options.codeIdentity?.() : undefined;
      let verifiedCode: string | undefined;
      if (
        reason === undefined && code !== undefined && previous!.fingerprint && previous!.verifiedCode === code
      ) {
        numerics = ", not probed: same code and adapter as when its numerics were last checked";
        if (absent) numerics += `; ${absent.name} is not here, the record's checksum stands in`;
      } else if (absent) {
        needsData(absent, reason ?? "its record was checked under other code, so it must be probed");
        continue;
      } else if (reason === undefined) {
        try {
          fingerprint = await probe();
        } catch (error) {
          const message = (error as Error).message;
          const missing = missingInputOf(error);
          if (missing) {
            needsData(missing, "its probe reads it");
            continue;
          }
          unavailable.add(instance.id);
          summary.failed.push({ id: instance.id, error: message });
          decide(instance.id, "blocked", `its probe failed: ${message}`);
          if (!options.dryRun) say(instance.id, `FAILED before running: probe: ${message}`);
          continue;
        }
        if (fingerprint && !previous!.fingerprint) reason = "no numerics fingerprint recorded";
        else if (fingerprint) {
          const match = compareFingerprints(previous!.fingerprint!, fingerprint);
          numerics = `, ${describeMatch(match)}`;
          if (!match.same) reason = describeMatch(match);
          else verifiedCode = code;
        }
      }
      if (reason === undefined && stored) {
        const result = toResult(instance, outDir, stored.outputs, stored.outputHash, previous!, true);
        completed.set(instance.id, result);
        summary.cached.push(instance.id);
        if (absent && !summary.absentInputs.some((input) => input.name === absent!.name)) {
          summary.absentInputs.push(absent);
        }
        // The record keeps the fingerprint of the code that made the outputs; it learns the code just checked.
        const entry = verifiedCode !== undefined && previous!.verifiedCode !== verifiedCode
          ? { ...previous!, verifiedCode }
          : previous!;
        // Reused from another record (a job reusing a stage another job ran): this record names it too.
        if (lock.stages[instance.id] !== entry) lock.stages[instance.id] = entry;
        decide(
          instance.id,
          "cached",
          `inputs unchanged since ${previous!.finishedAt ?? "an earlier run"}${numerics}`,
        );
        if (!options.dryRun) {
          say(instance.id, `cached (took ${seconds(previous!.durationMs ?? 0)} when it ran)`);
        }
        continue;
      }
      decide(instance.id, "run", reason!);
      if (options.dryRun) {
        willRun.add(instance.id);
        continue;
      }
      try {
        // Recorded from the code that is about to run, probed before it runs.
        fingerprint ??= await probe();
      } catch (error) {
        const message = (error as Error).message;
        const missing = missingInputOf(error);
        if (missing) {
          needsData(missing, "its probe reads it");
          continue;
        }
        unavailable.add(instance.id);
        summary.failed.push({ id: instance.id, error: message });
        say(instance.id, `FAILED before running: probe: ${message}`);
        continue;
      }
      const ok = await runInstance(instance, identity, fingerprint, code, {
        reason: reason!,
        outDir,
        previous,
        forced: forced(instance),
        plan,
        lock,
        saveLock,
        runInfo,
        resources,
        projectRoot,
        say,
        progressIntervalMs: options.progressIntervalMs ?? 5000,
      });
      if (ok.result) {
        completed.set(instance.id, ok.result);
        summary.ran.push(instance.id);
      } else {
        unavailable.add(instance.id);
        summary.failed.push({ id: instance.id, error: ok.error! });
      }
    } finally {
      await release?.();
    }
  }

  if (!options.dryRun) {
    // Entries for stages or arms the pipeline no longer has would otherwise linger forever.
    const current = new Set(plan.instances.map((instance) => instance.id));
    for (const id of Object.keys(lock.stages)) if (!current.has(id)) delete lock.stages[id];
    // A rerun that changed nothing leaves the lockfile (and so a clean checkout) untouched.
    if (!previousLock || !sameLock(previousLock, lock)) await saveLock();
  }
  summary.ok = summary.failed.length === 0 && summary.blocked.length === 0 && summary.needsData.length === 0;
  summary.durationMs = performance.now() - started;
  const counts = options.dryRun
    ? `${
      summary.decisions.filter((d) => d.action === "run").length
    } would run, ${summary.cached.length} cached`
    : `${summary.ran.length} ran, ${summary.cached.length} cached, ${summary.failed.length} failed, ` +
      `${summary.blocked.length} skipped` +
      (summary.needsData.length ? `, ${summary.needsData.length} need data` : "");
  log(`[${definition.name}] ${counts} (preset ${plan.preset}) in ${seconds(summary.durationMs)}`);
  if (options.dryRun) {
    const compute = plannedCompute(plan, new Set(willRun));
    summary.compute = compute;
    for (const line of compute.lines) say(line.id, `about ${formatFlop(line.flop)} (${line.what})`);
    if (compute.stages > 0) {
      const stages = (n: number) => `${n} stage${n === 1 ? "" : "s"}`;
      log(
        `[${definition.name}] compute: about ${formatFlop(compute.flop)} in all (the ${
          stages(compute.stages)
        } whose kind estimates its work), ${formatFlop(compute.flopToRun)} of it in the ${
          stages(compute.stagesToRun)
        } that would run`,
      );
    }
  }
  return summary;
}

/** `id` and every instance that needs it, directly or through others. */
function dependants(plan: PipelinePlan, id: string): string[] {
  const out = new Set([id]);
  for (const instance of plan.instances) {
    if (instance.needs.some((need) => need.ids.some((up) => out.has(up)))) out.add(instance.id);
  }
  return [...out];
}

/** The dry run's compute statement: the stage kinds' estimates, over all instances and those that would run. */
export interface PlannedCompute {
  flop: number;
  stages: number;
  flopToRun: number;
  stagesToRun: number;
  lines: { id: string; flop: number; what: string; wouldRun: boolean }[];
}

export function plannedCompute(plan: PipelinePlan, wouldRun: Set<string>): PlannedCompute {
  const byId = new Map(plan.instances.map((instance) => [instance.id, instance]));
  const out: PlannedCompute = { flop: 0, stages: 0, flopToRun: 0, stagesToRun: 0, lines: [] };
  for (const instance of plan.instances) {
    const upstream = Object.fromEntries(
      instance.needs.map((need) => [
        need.stage,
        need.ids.map((id) => byId.get(id)!).map((u) => ({
          kind: u.kind.name,
          params: u.params,
          matrix: u.matrix,
        })),
      ]),
    );
    const estimate = instance.kind.estimate?.(instance.params, upstream);
    if (!estimate) continue;
    const runs = wouldRun.has(instance.id);
    out.flop += estimate.flop;
    out.stages++;
    if (runs) {
      out.flopToRun += estimate.flop;
      out.stagesToRun++;
    }
    out.lines.push({ id: instance.id, ...estimate, wouldRun: runs });
  }
  return out;
}

/** 3.2e15 -> "3.2 PFLOP". */
export function formatFlop(flop: number): string {
  const units: [number, string][] = [[1e18, "EFLOP"], [1e15, "PFLOP"], [1e12, "TFLOP"], [1e9, "GFLOP"]];
  for (const [scale, unit] of units) if (flop >= scale) return `${(flop / scale).toPrecision(3)} ${unit}`;
  return flop === 0 ? "0 FLOP" : `${flop.toPrecision(3)} FLOP`;
}

/** The key of everything a stage is given: kind, parameters, arm, seed, upstream outputs, datasets. */
export function inputHash(parts: {
  kind: string;
  params: unknown;
  matrix?: Record<string, string>;
  seed: number;
  upstream: Record<string, string>;
  datasets: Record<string, string>;
}): string {
  const { kind, params, matrix, seed, upstream, datasets } = parts;
  return sha256(canonicalJson({ kind, params, matrix: matrix ?? null, seed, upstream, datasets }));
}

/** The instance's input identity; `standIn` replaces its datasets' checksums when they are not on this machine. */
async function computeIdentity(
  instance: StageInstance,
  completed: Map<string, StageResult>,
  resources: Map<string, unknown>,
  projectRoot: string,
  standIn?: Record<string, string>,
): Promise<InputIdentity> {
  const upstream: Record<string, string> = {};
  for (const id of instance.needs.flatMap((need) => need.ids)) upstream[id] = completed.get(id)!.outputHash;
  const datasets = standIn ??
    await instance.kind.datasetChecksums?.(instance.params, { resources, projectRoot }) ?? {};
  const hash = inputHash({
    kind: instance.kind.name,
    params: instance.params,
    matrix: instance.matrix,
    // The instance's own seed; the matrix part stays the arm alone, so a seed adds no key of its own.
    seed: instance.seed,
    upstream,
    datasets,
  });
  return { inputHash: hash, upstream, datasets };
}

/**
 * Facts of the run a probe sees: fixed, so a page that prints provenance probes the same on every run, and
 * upstream results as if reused, so a probe right after they ran sees what a later one sees.
 */
function probeRunInfo(run: RunInfo): RunInfo {
  const completed = new Map([...run.completed].map(([id, result]) => [id, { ...result, cached: true }]));
  return {
    ...run,
    adapter: "probe",
    denoVersion: "probe",
    gitCommit: "probe",
    startedAt: "1970-01-01T00:00:00.000Z",
    completed,
  };
}

/** Runs the kind's probe in a scratch folder that is removed afterwards; undefined for kinds without one. */
async function fingerprintOf(
  instance: StageInstance,
  plan: PipelinePlan,
  runInfo: RunInfo,
  resources: Map<string, unknown>,
  projectRoot: string,
  say: (id: string, text: string) => void,
): Promise<Fingerprint | undefined> {
  if (!instance.kind.fingerprint) return undefined;
  const scratch = await Deno.makeTempDir({ prefix: "probe-" });
  try {
    const run = probeRunInfo(runInfo);
    const ctx = stageContext(instance, plan, run, {
      outDir: scratch,
      resuming: false,
      resources,
      projectRoot,
      run,
      log: () => {},
      progress: () => {},
    });
    const t0 = performance.now();
    const fingerprint = await instance.kind.fingerprint(ctx);
    const ms = performance.now() - t0;
    if (ms > 1000) say(instance.id, `probed in ${seconds(ms)}`);
    return fingerprint;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
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

function toResult(
  instance: StageInstance,
  outDir: string,
  outputs: StageOutputs,
  outputHash: string,
  entry: LockEntry,
  cached: boolean,
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
  };
}

interface RunInstanceContext {
  reason: string;
  outDir: string;
  previous: LockEntry | undefined;
  forced: boolean;
  plan: PipelinePlan;
  lock: Lockfile;
  saveLock: () => Promise<void>;
  runInfo: RunInfo;
  resources: Map<string, unknown>;
  projectRoot: string;
  say: (id: string, text: string) => void;
  progressIntervalMs: number;
}

async function prepareOutDir(outDir: string, resuming: boolean): Promise<void> {
  if (resuming) {
    // Keep checkpoints; only the marker of a finished run must go.
    await Deno.remove(join(outDir, OUTPUTS_FILE)).catch(() => {});
  } else {
    await Deno.remove(outDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  await Deno.mkdir(outDir, { recursive: true });
}

async function runInstance(
  instance: StageInstance,
  identity: InputIdentity,
  fingerprint: Fingerprint | undefined,
  code: string | undefined,
  run: RunInstanceContext,
): Promise<{ result?: StageResult; error?: string }> {
  const { outDir, previous, say } = run;
  // Resume only an unfinished attempt at exactly the same inputs: checkpoints from other params would be wrong.
  const resuming = !run.forced && previous !== undefined && previous.status !== "done" &&
    previous.inputHash === identity.inputHash;
  await prepareOutDir(outDir, resuming);
  const startedAt = new Date().toISOString();
  const entry: LockEntry = {
    kind: instance.kind.name,
    status: "running",
    inputHash: identity.inputHash,
    params: instance.params,
    matrix: instance.matrix,
    seed: instance.seed,
    upstream: identity.upstream,
    ...(fingerprint ? { fingerprint } : {}),
    ...(fingerprint && code !== undefined ? { verifiedCode: code } : {}),
    datasets: identity.datasets,
    preset: run.plan.preset,
    outDir: instance.outDirRel,
    startedAt,
  };
  run.lock.stages[instance.id] = entry;
  await run.saveLock();
  say(instance.id, `running (${run.reason})${resuming ? ", resuming in its output directory" : ""}`);

  const t0 = performance.now();
  let lastProgress = -Infinity;
  const ctx = stageContext(instance, run.plan, run.runInfo, {
    outDir,
    resuming,
    resources: run.resources,
    projectRoot: run.projectRoot,
    run: run.runInfo,
    log: (message) => say(instance.id, message),
    progress: (done, total, note) => {
      const now = performance.now();
      if (done < total && now - lastProgress < run.progressIntervalMs) return;
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
    const outputHash = await hashOutputs(outDir, text, stored, run.projectRoot);
    await Deno.writeTextFile(join(outDir, OUTPUTS_FILE), text);
    Object.assign(entry, {
      status: "done",
      outputHash,
      finishedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - t0),
    });
    await run.saveLock();
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
    await run.saveLock();
    say(instance.id, `FAILED after ${seconds(entry.durationMs!)}: ${message}`);
    if (error instanceof Error && error.stack) say(instance.id, error.stack);
    return { error: message };
  }
}

function gatherInputs(
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
