import { isAbsolute, join, normalize } from "node:path";
import type { RunEnvironment } from "./environment.ts";
import { canonicalJson, CodeHasher, hashFile, sha256 } from "./hash.ts";
import type { LockEntry, Lockfile } from "./lockfile.ts";
import { lockfilePath, readLockfile, writeJsonAtomic } from "./lockfile.ts";
import type { PipelinePlan, StageInstance } from "./plan.ts";
import type { RunInfo, StageContext, StageOutputs, StageResult } from "./types.ts";

export const OUTPUTS_FILE = "outputs.json";

export interface RunnerOptions {
  resultsDir: string;
  /** Where codeFiles resolve; defaults to the working directory. */
  projectRoot?: string;
  /** Decide and print, run nothing, write nothing. */
  dryRun?: boolean;
  /** `true` reruns every stage; a predicate reruns the instances it accepts. */
  force?: boolean | ((instance: StageInstance) => boolean);
  /** Shared across pipelines of one invocation so datasets load once. */
  resources?: Map<string, unknown>;
  environment?: RunEnvironment;
  log?: (line: string) => void;
  /** Minimum time between two progress lines of one stage (the last one always prints). */
  progressIntervalMs?: number;
  codeHasher?: CodeHasher;
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
}

interface InputIdentity {
  inputHash: string;
  upstream: Record<string, string>;
  codeHash: string;
  datasets: Record<string, string>;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** JSON with NaN/Infinity kept as strings: a diverged loss must stay visible rather than turn into null. */
export function serializeOutputs(outputs: StageOutputs): string {
  return JSON.stringify(
    outputs,
    (_key, value) => typeof value === "number" && !Number.isFinite(value) ? String(value) : value,
    2,
  ) + "\n";
}

/** Hash of outputs.json plus the content of every file it lists under `files`. */
async function hashOutputs(outDir: string, outputsText: string, outputs: StageOutputs): Promise<string> {
  const parts = [outputsText];
  for (const [name, file] of Object.entries(outputs.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    let hash: string;
    try {
      hash = await hashFile(join(outDir, file));
    } catch (error) {
      throw new Error(`outputs.files.${name}: cannot read ${file} in ${outDir}: ${(error as Error).message}`);
    }
    parts.push(`\0${name}\0${file}\0${hash}`);
  }
  return sha256(parts.join(""));
}

function checkOutputFiles(outputs: StageOutputs): void {
  if (typeof outputs !== "object" || outputs === null || Array.isArray(outputs)) {
    throw new Error("a stage must return a JSON object of outputs");
  }
  for (const [name, file] of Object.entries(outputs.files ?? {})) {
    if (typeof file !== "string" || isAbsolute(file) || normalize(file).startsWith("..")) {
      throw new Error(`outputs.files.${name} must be a path relative to the stage's outDir, got ${file}`);
    }
  }
}

/** Loads stored outputs if they still match the lockfile's output hash; undefined when missing or altered. */
async function loadStoredOutputs(
  outDir: string,
  expectedHash: string | undefined,
): Promise<{ outputs: StageOutputs; outputHash: string } | undefined> {
  try {
    const text = await Deno.readTextFile(join(outDir, OUTPUTS_FILE));
    const outputs = JSON.parse(text) as StageOutputs;
    const outputHash = await hashOutputs(outDir, text, outputs);
    return outputHash === expectedHash ? { outputs, outputHash } : undefined;
  } catch {
    return undefined;
  }
}

function describeParamChanges(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const changes: string[] = [];
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const a = canonicalJson(before[key]), b = canonicalJson(after[key]);
    if (a !== b) changes.push(`${key} ${a ?? "unset"} -> ${b ?? "unset"}`);
  }
  const shown = changes.slice(0, 3).join(", ");
  return changes.length > 3 ? `${shown}, ... (${changes.length} changes)` : shown;
}

/** Why an instance must run, or undefined when its stored outputs can be reused. */
function reasonToRun(
  instance: StageInstance,
  identity: InputIdentity,
  previous: LockEntry | undefined,
  seed: number,
) {
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
  if (previous.codeHash !== identity.codeHash) reasons.push("code changed");
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
    version: 1,
    pipeline: definition.name,
    title: definition.title,
    description: definition.description,
    claims: definition.claims,
    file: definition.file,
    preset: plan.preset,
    overrides: plan.overrides,
    seed: plan.seed,
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
  const hasher = options.codeHasher ?? new CodeHasher(projectRoot);
  const resources = options.resources ?? new Map<string, unknown>();
  const pipelineDir = join(options.resultsDir, definition.name);
  const lockPath = lockfilePath(options.resultsDir, definition.name);
  const previousLock = await readLockfile(lockPath);
  const lock: Lockfile = {
    ...emptyLockfile(plan),
    stages: { ...(previousLock?.stages ?? {}) },
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
    },
    preset: plan.preset,
    overrides: plan.overrides,
    seed: plan.seed,
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
  };
  const unavailable = new Set<string>(); // failed or blocked instance ids
  const willRun = new Set<string>(); // dry run: ids that would run, so their output hash is unknown
  const say = (id: string, text: string) => log(`[${definition.name}] ${id}: ${text}`);
  const decide = (id: string, action: Action, reason: string) => {
    summary.decisions.push({ id, action, reason });
    if (options.dryRun) say(id, `${action === "run" ? "would run" : action} (${reason})`);
  };

  for (const instance of plan.instances) {
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
    const previous = lock.stages[instance.id];
    let identity: InputIdentity;
    try {
      identity = await computeIdentity(instance, plan.seed, completed, hasher, resources, projectRoot);
    } catch (error) {
      const message = (error as Error).message;
      unavailable.add(instance.id);
      summary.failed.push({ id: instance.id, error: message });
      decide(instance.id, "blocked", `cannot compute its identity: ${message}`);
      if (!options.dryRun) say(instance.id, `FAILED before running: ${message}`);
      continue;
    }
    let reason = forced(instance) ? "forced" : reasonToRun(instance, identity, previous, plan.seed);
    let stored: Awaited<ReturnType<typeof loadStoredOutputs>>;
    if (reason === undefined) {
      stored = await loadStoredOutputs(outDir, previous!.outputHash);
      if (!stored) reason = "outputs missing or changed on disk";
    }
    if (reason === undefined && stored) {
      const result = toResult(instance, outDir, stored.outputs, stored.outputHash, previous!, true);
      completed.set(instance.id, result);
      summary.cached.push(instance.id);
      decide(instance.id, "cached", `inputs unchanged since ${previous!.finishedAt ?? "an earlier run"}`);
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
    const ok = await runInstance(instance, identity, {
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
  }

  if (!options.dryRun) {
    // Entries for stages or arms the pipeline no longer has would otherwise linger forever.
    const current = new Set(plan.instances.map((instance) => instance.id));
    for (const id of Object.keys(lock.stages)) if (!current.has(id)) delete lock.stages[id];
    // A rerun that changed nothing leaves the lockfile (and so a clean checkout) untouched.
    if (!previousLock || !sameLock(previousLock, lock)) await saveLock();
  }
  summary.ok = summary.failed.length === 0 && summary.blocked.length === 0;
  summary.durationMs = performance.now() - started;
  const counts = options.dryRun
    ? `${
      summary.decisions.filter((d) => d.action === "run").length
    } would run, ${summary.cached.length} cached`
    : `${summary.ran.length} ran, ${summary.cached.length} cached, ${summary.failed.length} failed, ` +
      `${summary.blocked.length} skipped`;
  log(`[${definition.name}] ${counts} (preset ${plan.preset}) in ${seconds(summary.durationMs)}`);
  return summary;
}

async function computeIdentity(
  instance: StageInstance,
  seed: number,
  completed: Map<string, StageResult>,
  hasher: CodeHasher,
  resources: Map<string, unknown>,
  projectRoot: string,
): Promise<InputIdentity> {
  const upstream: Record<string, string> = {};
  for (const id of instance.needs.flatMap((need) => need.ids)) upstream[id] = completed.get(id)!.outputHash;
  const codeHash = await hasher.hashPaths(instance.kind.codeFiles ?? []);
  const datasets = await instance.kind.datasetChecksums?.(instance.params, { resources, projectRoot }) ?? {};
  const inputHash = sha256(canonicalJson({
    kind: instance.kind.name,
    params: instance.params,
    matrix: instance.matrix ?? null,
    seed,
    upstream,
    codeHash,
    datasets,
  }));
  return { inputHash, upstream, codeHash, datasets };
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
    seed: run.plan.seed,
    upstream: identity.upstream,
    codeHash: identity.codeHash,
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
  const ctx: StageContext = {
    pipeline: run.plan.definition.name,
    stage: instance.stage,
    id: instance.id,
    params: structuredClone(instance.params),
    inputs: gatherInputs(instance, run.runInfo.completed),
    outDir,
    resuming,
    preset: run.plan.preset,
    seed: run.plan.seed,
    matrix: instance.matrix,
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
  };
  try {
    const outputs = await instance.kind.run(ctx);
    checkOutputFiles(outputs);
    const text = serializeOutputs(outputs);
    const stored = JSON.parse(text) as StageOutputs;
    const outputHash = await hashOutputs(outDir, text, stored);
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
