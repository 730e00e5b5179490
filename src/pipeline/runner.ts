// Runs one planned pipeline: each instance, in dependency order, reuses its own record (same inputs, same
// numerics, outputs intact), reuses another record's run of the same computation (run_index.ts), or runs.
// A failure skips only the instances that depend on it.

import { join } from "@std/path";
import type { RunEnvironment } from "./environment.ts";
import { compareFingerprints, describeMatch } from "./fingerprint.ts";
import { canonicalJson } from "./hash.ts";
import { computeIdentity, identityParams, type InputIdentity, runKey } from "./identity.ts";
import type { LockEntry, Lockfile } from "./lockfile.ts";
import { LOCKFILE_VERSION, lockfilePath, readLockfile, writeJsonAtomic } from "./lockfile.ts";
import { hashOutputs, OUTPUTS_FILE, readStoredOutputs } from "./outputs.ts";
import { describeParamChanges } from "./param_changes.ts";
import type { PipelinePlan, StageInstance } from "./plan.ts";
import { formatFlop, type PlannedCompute, plannedCompute } from "./planned_compute.ts";
import { DamagedRecordError } from "./records.ts";
import { adoptOutputs, intactOutputs, linkRun } from "./reuse.ts";
import { type RecordedRun, reusedFromLabel, type RunIndex } from "./run_index.ts";
import { fingerprintOf, gatherInputs, PREVIOUS_DIR, runInstance, seconds, toResult } from "./stage_run.ts";
import type { Fingerprint, MissingInput, RunInfo, StageOutputs, StageResult } from "./types.ts";
import { FETCH_INPUTS, missingInputOf } from "./types.ts";

export { OUTPUTS_FILE } from "./outputs.ts";
export { inputHash } from "./identity.ts";
export { formatFlop, type PlannedCompute, plannedCompute } from "./planned_compute.ts";

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
  /**
   * Every run recorded in the project (all pipelines and presets), so that an instance whose computation ran
   * elsewhere reuses that run instead of running again; absent: only the pipeline's own record is reused.
   */
  runIndex?: RunIndex;
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
  /** Every instance that did not run: its own record reused, or another record's run (`reused`). */
  cached: string[];
  /** The cached instances whose outputs are another instance's run of the same computation, and where from. */
  reused: { id: string; from: string }[];
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

/**
 * Runs one planned pipeline. Its record (and the outputs.json of every finished stage it lists) is read
 * first: a damaged one throws DamagedRecordError before anything runs, unless every stage is forced.
 */
export async function runPipeline(plan: PipelinePlan, options: RunnerOptions): Promise<PipelineRunSummary> {
  const run = await PipelineRun.open(plan, options);
  for (const instance of plan.instances) await run.visit(instance);
  await run.saveRecord();
  return run.finish();
}

/** What an instance's own record says: why it must run (undefined: it can be reused) and what was checked. */
interface OwnRecordCheck {
  reason?: string;
  stored?: { outputs: StageOutputs; outputHash: string };
  /** The probe's result, when it ran. */
  fingerprint?: Fingerprint;
  /** The code identity the record is now known to agree with. */
  verifiedCode?: string;
  /** `, numerics bit-identical` and the like, for the decision line. */
  numerics: string;
}

/** An instance's identity, and the input that is not on this machine when its record's checksum stood in. */
interface ResolvedIdentity {
  identity: InputIdentity;
  absent?: MissingInput;
}

/** The state of one pipeline's run, and the steps each instance goes through. */
class PipelineRun {
  readonly log: (line: string) => void;
  readonly projectRoot: string;
  readonly resources: Map<string, unknown>;
  readonly pipelineDir: string;
  readonly lockPath: string;
  readonly lock: Lockfile;
  readonly runInfo: RunInfo;
  readonly summary: PipelineRunSummary;
  readonly environment: RunEnvironment;
  /** Every instance finished so far (ran or reused): what downstream stages get as inputs. */
  readonly completed = new Map<string, StageResult>();
  readonly #started = performance.now();
  /** Failed or blocked instance ids. */
  readonly #unavailable = new Set<string>();
  /** Dry run: ids that would run, so their output hash is unknown. */
  readonly #willRun = new Set<string>();
  /** Datasets whose other build has been said. */
  readonly #reportedChanges = new Set<string>();
  /** One probe per instance, shared by the checks of its own record and of another's run. */
  readonly #probes = new Map<string, Promise<Fingerprint | undefined>>();

  private constructor(
    readonly plan: PipelinePlan,
    readonly options: RunnerOptions,
    readonly previousLock: Lockfile | undefined,
  ) {
    const { definition } = plan;
    this.log = options.log ?? ((line: string) => console.log(line));
    this.projectRoot = options.projectRoot ?? Deno.cwd();
    this.resources = options.resources ?? new Map<string, unknown>();
    this.pipelineDir = join(options.resultsDir, definition.name);
    this.lockPath = options.lockPath ?? lockfilePath(options.resultsDir, definition.name);
    this.lock = {
      ...emptyLockfile(plan),
      stages: { ...(options.previousStages ?? previousLock?.stages ?? {}) },
    };
    this.environment = options.environment ??
      { adapter: "unknown", host: { cpu: "unknown" }, denoVersion: Deno.version.deno, gitCommit: "" };
    const completed = this.completed;
    this.runInfo = {
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
      ...this.environment,
      startedAt: new Date().toISOString(),
      resultsDir: options.resultsDir,
      completed,
    };
    this.summary = {
      pipeline: definition.name,
      preset: plan.preset,
      decisions: [],
      ran: [],
      cached: [],
      reused: [],
      failed: [],
      blocked: [],
      ok: true,
      durationMs: 0,
      results: completed,
      needsData: [],
      absentInputs: [],
    };
  }

  /** Reads the record; a damaged one stops here (before anything runs) unless every instance is forced. */
  static async open(plan: PipelinePlan, options: RunnerOptions): Promise<PipelineRun> {
    const lockPath = options.lockPath ?? lockfilePath(options.resultsDir, plan.definition.name);
    const everyStageForced = plan.instances.every((instance) => isForced(options, instance));
    let previousLock: Lockfile | undefined;
    try {
      previousLock = await readLockfile(lockPath);
    } catch (error) {
      if (!(error instanceof DamagedRecordError) || !everyStageForced) throw error;
      (options.log ?? console.log)(
        `[${plan.definition.name}] ${error.message}; every stage is forced, so it is rewritten`,
      );
    }
    const run = new PipelineRun(plan, options, previousLock);
    await run.checkStoredOutputs();
    return run;
  }

  /** Every outputs.json the record lists for an instance that is not forced must be readable. */
  async checkStoredOutputs(): Promise<void> {
    for (const instance of this.plan.instances) {
      const entry = this.lock.stages[instance.id];
      if (entry?.status !== "done" || this.forced(instance)) continue;
      await readStoredOutputs(join(this.pipelineDir, entry.outDir, OUTPUTS_FILE));
    }
  }

  forced(instance: StageInstance): boolean {
    return isForced(this.options, instance);
  }

  get dryRun(): boolean {
    return this.options.dryRun === true;
  }

  say(id: string, text: string): void {
    this.log(`[${this.plan.definition.name}] ${id}: ${text}`);
  }

  decide(id: string, action: "run" | "cached" | "blocked", reason: string): void {
    this.summary.decisions.push({ id, action, reason });
    if (this.dryRun) this.say(id, `${action === "run" ? "would run" : action} (${reason})`);
  }

  /** Ends an instance that cannot run or be reused: it failed, or needs data; its dependants are skipped. */
  fail(id: string, error: string, decision?: string, line?: string): void {
    this.#unavailable.add(id);
    this.summary.failed.push({ id, error });
    if (decision !== undefined) this.decide(id, "blocked", decision);
    if (!this.dryRun && line !== undefined) this.say(id, line);
  }

  needsData(id: string, input: MissingInput, why: string): void {
    this.#unavailable.add(id);
    this.summary.needsData.push({ id, input });
    this.decide(id, "blocked", `needs data (${why}): ${input.remedy}`);
    if (!this.dryRun) this.say(id, `needs data (${why}): ${input.remedy}`);
  }

  async saveLock(): Promise<void> {
    this.lock.updatedAt = new Date().toISOString();
    await writeJsonAtomic(this.lockPath, this.lock);
  }

  /** Puts an entry into the record and the project's run index (so later pipelines find it). */
  note(id: string, entry: LockEntry): void {
    this.lock.stages[id] = entry;
    this.options.runIndex?.note(this.options.resultsDir, this.plan.definition.name, id, entry);
  }

  // ---- the steps of one instance ---------------------------------------------------------------------------

  async visit(instance: StageInstance): Promise<void> {
    const release = this.dryRun ? undefined : await this.options.stageLock?.(instance);
    try {
      await this.decideInstance(instance);
    } finally {
      await release?.();
    }
  }

  async decideInstance(instance: StageInstance): Promise<void> {
    if (this.blockedByUpstream(instance) || this.waitsForUpstream(instance)) return;
    const resolved = await this.resolveIdentity(instance);
    if (!resolved) return;
    const { identity, absent } = resolved;
    let previous: LockEntry | undefined = this.lock.stages[instance.id];
    if (this.options.findPrevious) {
      previous = await this.options.findPrevious(instance.id, identity.inputHash, previous);
    }
    await this.reportDatasetChange(instance, identity, previous);
    const key = runKey(instance, identity, gatherInputs(instance, this.runInfo.completed));
    const own = await this.checkOwnRecord(instance, identity, previous);
    // A run of the same computation elsewhere comes first, unless this record is itself a reuse: one run per
    // computation in the project. Stable: of two records of one computation, one ends up reusing the other,
    // which then has no other run to take.
    if (!(own.reason === undefined && previous?.reusedFrom)) {
      if (await this.reuseOtherRun(instance, identity, key, own, absent)) return;
    }
    const checked = await this.checkNumerics(instance, own, previous, absent);
    if (!checked) return;
    if (checked.reason === undefined) this.reuseOwnRecord(instance, checked, previous!, key, absent);
    else await this.runStage(instance, identity, previous, checked, key);
  }

  blockedByUpstream(instance: StageInstance): boolean {
    const missing = instance.needs.flatMap((need) => need.ids).filter((id) => this.#unavailable.has(id));
    if (!missing.length) return false;
    this.#unavailable.add(instance.id);
    this.summary.blocked.push(instance.id);
    this.decide(instance.id, "blocked", `upstream did not finish: ${missing.join(", ")}`);
    if (!this.dryRun) this.say(instance.id, `skipped, upstream did not finish: ${missing.join(", ")}`);
    return true;
  }

  waitsForUpstream(instance: StageInstance): boolean {
    const pending = instance.needs.flatMap((need) => need.ids).filter((id) => this.#willRun.has(id));
    if (!pending.length) return false;
    this.#willRun.add(instance.id);
    this.decide(instance.id, "run", `upstream will run: ${pending.join(", ")}`);
    return true;
  }

  /**
   * The instance's input identity. An input not on this machine: fetched when asked and the record cannot do
   * without it, else the record's checksum stands in for it where there is a record; otherwise the instance
   * ends here (needs data, or failed) and undefined is returned.
   */
  async resolveIdentity(instance: StageInstance): Promise<ResolvedIdentity | undefined> {
    const context = { resources: this.resources, projectRoot: this.projectRoot };
    const compute = (standIn?: Record<string, string>) =>
      computeIdentity(instance, this.runInfo.completed, context, standIn);
    const previous = this.lock.stages[instance.id];
    try {
      return { identity: await compute() };
    } catch (error) {
      const absent = missingInputOf(error);
      const message = (error as Error).message;
      if (
        absent && !(await this.recordStandsIn(instance, previous)) &&
        this.resources.get(FETCH_INPUTS) === true
      ) {
        // Asked to fetch, and the record cannot do without the data: get it, then decide as usual.
        await instance.kind.fetchMissing?.(instance.params, context);
        return { identity: await compute() };
      }
      if (absent && previous?.datasets) return { identity: await compute(previous.datasets), absent };
      if (absent) {
        this.#unavailable.add(instance.id);
        this.summary.needsData.push({ id: instance.id, input: absent });
        this.decide(instance.id, "blocked", `needs data (no record to stand on): ${absent.remedy}`);
        if (!this.dryRun) this.say(instance.id, `needs data: ${message}`);
        return undefined;
      }
      this.fail(
        instance.id,
        message,
        `cannot compute its identity: ${message}`,
        `FAILED before running: ${message}`,
      );
      return undefined;
    }
  }

  /** Whether the record alone decides the instance: same inputs with its datasets, same code, not forced. */
  async recordStandsIn(instance: StageInstance, previous: LockEntry | undefined): Promise<boolean> {
    if (!previous?.datasets || previous.status !== "done" || !previous.fingerprint || this.forced(instance)) {
      return false;
    }
    const code = instance.kind.fingerprint ? await this.options.codeIdentity?.() : undefined;
    if (code === undefined || previous.verifiedCode !== code) return false;
    const standIn = await computeIdentity(
      instance,
      this.runInfo.completed,
      { resources: this.resources, projectRoot: this.projectRoot },
      previous.datasets,
    );
    return reasonToRun(instance, standIn, previous) === undefined;
  }

  /** Another build of a dataset than the record's: said once per dataset, with what it would cost. */
  async reportDatasetChange(
    instance: StageInstance,
    identity: InputIdentity,
    previous: LockEntry | undefined,
  ): Promise<void> {
    if (!previous?.datasets || !instance.kind.describeDatasetChange) return;
    for (const [name, current] of Object.entries(identity.datasets)) {
      const recorded = previous.datasets[name];
      if (recorded === undefined || recorded === current || this.#reportedChanges.has(name)) continue;
      this.#reportedChanges.add(name);
      const what = await instance.kind.describeDatasetChange(name, recorded, current);
      if (!what) continue;
      const affected = dependants(this.plan, instance.id);
      const ms = affected.reduce((sum, id) => sum + (this.lock.stages[id]?.durationMs ?? 0), 0);
      this.log(
        `[${this.plan.definition.name}] ${what}: ${affected.length} stage${
          affected.length === 1 ? "" : "s"
        } ` +
          `would rerun, about ${(ms / 3.6e6).toFixed(1)} CPU-hours (their recorded time)`,
      );
    }
  }

  /** Why the own record cannot be reused as far as inputs and files go (forced, changed inputs, altered outputs). */
  async checkOwnRecord(
    instance: StageInstance,
    identity: InputIdentity,
    previous: LockEntry | undefined,
  ): Promise<OwnRecordCheck> {
    const reason = this.forced(instance) ? "forced" : reasonToRun(instance, identity, previous);
    if (reason !== undefined) return { reason, numerics: "" };
    const outDir = join(this.pipelineDir, instance.outDirRel);
    const stored = await loadStoredOutputs(outDir, previous!.outputHash, this.projectRoot);
    return stored ? { stored, numerics: "" } : { reason: "outputs missing or changed on disk", numerics: "" };
  }

  /** The instance's probe, run at most once; "failed" when it threw (the instance has then been ended). */
  async probe(instance: StageInstance, whenDeciding: boolean): Promise<Fingerprint | undefined | "failed"> {
    let probe = this.#probes.get(instance.id);
    if (!probe) {
      probe = fingerprintOf(instance, {
        plan: this.plan,
        runInfo: this.runInfo,
        resources: this.resources,
        projectRoot: this.projectRoot,
        say: (id, text) => this.say(id, text),
      });
      this.#probes.set(instance.id, probe);
    }
    try {
      return await probe;
    } catch (error) {
      const message = (error as Error).message;
      const missing = missingInputOf(error);
      if (missing) this.needsData(instance.id, missing, "its probe reads it");
      else {
        this.fail(
          instance.id,
          message,
          whenDeciding ? `its probe failed: ${message}` : undefined,
          `FAILED before running: probe: ${message}`,
        );
      }
      return "failed";
    }
  }

  /**
   * The own record's numerics: not probed when it was checked under the same code, else probed and compared.
   * Undefined when the instance ended here (it needs data it does not have, or its probe failed).
   */
  async checkNumerics(
    instance: StageInstance,
    own: OwnRecordCheck,
    previous: LockEntry | undefined,
    absent: MissingInput | undefined,
  ): Promise<OwnRecordCheck | undefined> {
    const code = instance.kind.fingerprint ? await this.options.codeIdentity?.() : undefined;
    if (
      own.reason === undefined && code !== undefined && previous!.fingerprint &&
      previous!.verifiedCode === code
    ) {
      const standIn = absent ? `; ${absent.name} is not here, the record's checksum stands in` : "";
      return {
        ...own,
        numerics: `, not probed: same code and adapter as when its numerics were last checked${standIn}`,
      };
    }
    if (absent) {
      this.needsData(
        instance.id,
        absent,
        own.reason ?? "its record was checked under other code, so it must be probed",
      );
      return undefined;
    }
    if (own.reason !== undefined) return own;
    const fingerprint = await this.probe(instance, true);
    if (fingerprint === "failed") return undefined;
    if (!fingerprint) return own;
    if (!previous!.fingerprint) return { ...own, fingerprint, reason: "no numerics fingerprint recorded" };
    const match = compareFingerprints(previous!.fingerprint, fingerprint);
    const numerics = `, ${describeMatch(match)}`;
    if (!match.same) return { ...own, fingerprint, numerics, reason: describeMatch(match) };
    return { ...own, fingerprint, numerics, verifiedCode: code };
  }

  /** Reuses the own record: same inputs, numerics and outputs. It learns the code just checked and its run key. */
  reuseOwnRecord(
    instance: StageInstance,
    checked: OwnRecordCheck,
    previous: LockEntry,
    key: string | undefined,
    absent: MissingInput | undefined,
  ): void {
    const outDir = join(this.pipelineDir, instance.outDirRel);
    const { outputs, outputHash } = checked.stored!;
    const reusedFrom = previous.reusedFrom && reusedFromLabel(previous.reusedFrom);
    this.completed.set(
      instance.id,
      toResult(instance, outDir, outputs, outputHash, previous, true, reusedFrom),
    );
    this.summary.cached.push(instance.id);
    if (absent && !this.summary.absentInputs.some((input) => input.name === absent.name)) {
      this.summary.absentInputs.push(absent);
    }
    // The record keeps the fingerprint of the code that made the outputs; it learns the code just checked and
    // its run key. Reused from another record (a job reusing a stage another job ran): this record names it too.
    const verifiedCode = checked.verifiedCode ?? previous.verifiedCode;
    const learnt = verifiedCode !== previous.verifiedCode || (key !== undefined && previous.runKey !== key);
    const entry = { ...previous, ...(key ? { runKey: key } : {}), ...(verifiedCode ? { verifiedCode } : {}) };
    this.note(instance.id, learnt ? entry : previous);
    this.decide(
      instance.id,
      "cached",
      `inputs unchanged since ${previous.finishedAt ?? "an earlier run"}${checked.numerics}`,
    );
    if (!this.dryRun) this.say(instance.id, `cached (took ${seconds(previous.durationMs ?? 0)} when it ran)`);
  }

  /**
   * Reuses a run of the same computation recorded elsewhere (another pipeline, arm or preset), when its
   * outputs are intact and its numerics agree with this code: its files are linked into this instance's
   * folder and its outputs adopted. False when there is none (or it cannot be trusted without data not here).
   */
  async reuseOtherRun(
    instance: StageInstance,
    identity: InputIdentity,
    key: string | undefined,
    own: OwnRecordCheck,
    absent: MissingInput | undefined,
  ): Promise<boolean> {
    const index = this.options.runIndex;
    if (!index || key === undefined || this.forced(instance)) return false;
    const self = { folder: this.options.resultsDir, pipeline: this.plan.definition.name, id: instance.id };
    const candidates: { candidate: RecordedRun; outputs: StageOutputs; complete: boolean }[] = [];
    for (const candidate of index.runsOf(key, self)) {
      const outputs = await intactOutputs(candidate, this.projectRoot);
      if (!outputs) continue;
      const complete = (await missingKeptFiles(instance, outputs, candidate.outDir)).length === 0;
      if (complete || await this.canDoWithoutKeptFiles(instance, own)) {
        candidates.push({ candidate, outputs, complete });
      }
    }
    // Runs whose checkpoints are on this machine first: a stage reading them may run later.
    candidates.sort((a, b) => Number(b.complete) - Number(a.complete));
    for (const { candidate, outputs } of candidates) {
      const numerics = await this.agreesWith(instance, candidate, absent);
      if (numerics === "failed") return true;
      if (numerics === undefined) continue;
      await this.adopt(instance, identity, key, candidate, outputs, numerics);
      return true;
    }
    return false;
  }

  /**
   * Whether a run whose kept files (a checkpoint) are not on this machine may stand for this instance: when
   * its own record, reusable as it is, lacks them too (nothing is lost), or when no stage of the plan that
   * opens them needs this one (a fresh run would have made them for it).
   */
  async canDoWithoutKeptFiles(instance: StageInstance, own: OwnRecordCheck): Promise<boolean> {
    if (own.reason === undefined && own.stored) {
      const outDir = join(this.pipelineDir, instance.outDirRel);
      return (await missingKeptFiles(instance, own.stored.outputs, outDir)).length > 0;
    }
    return !this.plan.instances.some((other) =>
      other.kind.readsUpstreamFiles && other.needs.some((need) => need.ids.includes(instance.id))
    );
  }

  /**
   * Whether another run's numerics hold under this code: its record was checked under it, or this instance's
   * probe agrees with its fingerprint. The decision text, or undefined when they differ or cannot be checked.
   */
  async agreesWith(
    instance: StageInstance,
    candidate: RecordedRun,
    absent: MissingInput | undefined,
  ): Promise<{ text: string; verifiedCode?: string } | undefined | "failed"> {
    const code = instance.kind.fingerprint ? await this.options.codeIdentity?.() : undefined;
    const recorded = candidate.entry.fingerprint;
    if (!instance.kind.fingerprint) return { text: "" };
    if (code !== undefined && recorded && candidate.entry.verifiedCode === code) {
      return { text: ", not probed: checked under the same code and adapter", verifiedCode: code };
    }
    if (absent || !recorded) return undefined;
    const fingerprint = await this.probe(instance, true);
    if (fingerprint === "failed") return "failed";
    if (!fingerprint) return undefined;
    const match = compareFingerprints(recorded, fingerprint);
    return match.same ? { text: `, ${describeMatch(match)}`, verifiedCode: code } : undefined;
  }

  async adopt(
    instance: StageInstance,
    identity: InputIdentity,
    key: string,
    candidate: RecordedRun,
    outputs: StageOutputs,
    numerics: { text: string; verifiedCode?: string },
  ): Promise<void> {
    const index = this.options.runIndex!;
    const reusedFrom = index.reusedFrom(candidate);
    const from = reusedFromLabel(reusedFrom);
    const source = candidate.entry;
    const adopted = await adoptOutputs(instance, outputs, candidate.outDir, this.projectRoot);
    const entry: LockEntry = {
      kind: instance.kind.name,
      status: "done",
      inputHash: identity.inputHash,
      outputHash: adopted.outputHash,
      params: instance.params,
      ...(instance.matrix ? { matrix: instance.matrix } : {}),
      seed: instance.seed,
      upstream: identity.upstream,
      ...(source.fingerprint ? { fingerprint: source.fingerprint } : {}),
      ...(numerics.verifiedCode !== undefined ? { verifiedCode: numerics.verifiedCode } : {}),
      runKey: key,
      reusedFrom,
      ...(source.host ? { host: source.host } : {}),
      datasets: identity.datasets,
      preset: source.preset,
      outDir: instance.outDirRel,
      startedAt: source.startedAt,
      ...(source.finishedAt ? { finishedAt: source.finishedAt } : {}),
      ...(source.durationMs !== undefined ? { durationMs: source.durationMs } : {}),
    };
    this.decide(
      instance.id,
      "cached",
      `same computation as ${from}, finished ${source.finishedAt ?? "earlier"}${numerics.text}`,
    );
    const outDir = join(this.pipelineDir, instance.outDirRel);
    if (!this.dryRun) {
      await linkRun(candidate.outDir, outDir, adopted.text);
      this.note(instance.id, entry);
      await this.saveLock();
      this.say(instance.id, `reused ${from}'s run (took ${seconds(source.durationMs ?? 0)} there)`);
    } else this.note(instance.id, entry);
    // A dry run leaves the files where they are: downstream probes read them there.
    const resultDir = this.dryRun ? candidate.outDir : outDir;
    this.completed.set(
      instance.id,
      toResult(instance, resultDir, adopted.outputs, adopted.outputHash, entry, true, from),
    );
    this.summary.cached.push(instance.id);
    this.summary.reused.push({ id: instance.id, from });
  }

  /** Runs the instance (a dry run only says so), probing first so the record keeps the code's numerics. */
  async runStage(
    instance: StageInstance,
    identity: InputIdentity,
    previous: LockEntry | undefined,
    checked: OwnRecordCheck,
    key: string | undefined,
  ): Promise<void> {
    this.decide(instance.id, "run", checked.reason!);
    if (this.dryRun) {
      this.#willRun.add(instance.id);
      return;
    }
    const probed = checked.fingerprint ?? await this.probe(instance, false);
    if (probed === "failed") return;
    const code = probed ? await this.options.codeIdentity?.() : undefined;
    const entry: LockEntry = {
      kind: instance.kind.name,
      status: "running",
      inputHash: identity.inputHash,
      params: instance.params,
      matrix: instance.matrix,
      seed: instance.seed,
      upstream: identity.upstream,
      ...(probed ? { fingerprint: probed } : {}),
      ...(probed && code !== undefined ? { verifiedCode: code } : {}),
      ...(key ? { runKey: key } : {}),
      host: { adapter: this.environment.adapter, ...this.environment.host },
      datasets: identity.datasets,
      preset: this.plan.preset,
      outDir: instance.outDirRel,
      startedAt: new Date().toISOString(),
    };
    const outcome = await runInstance(instance, identity, entry, {
      reason: checked.reason!,
      outDir: join(this.pipelineDir, instance.outDirRel),
      asideDir: join(this.pipelineDir, PREVIOUS_DIR, instance.outDirRel),
      previous,
      forced: this.forced(instance),
      plan: this.plan,
      runInfo: this.runInfo,
      resources: this.resources,
      projectRoot: this.projectRoot,
      say: (id, text) => this.say(id, text),
      record: async (recorded) => {
        this.note(instance.id, recorded);
        await this.saveLock();
      },
      progressIntervalMs: this.options.progressIntervalMs ?? 5000,
    });
    if (outcome.result) {
      this.completed.set(instance.id, outcome.result);
      this.summary.ran.push(instance.id);
    } else {
      this.#unavailable.add(instance.id);
      this.summary.failed.push({ id: instance.id, error: outcome.error! });
    }
  }

  // ---- after the last instance ------------------------------------------------------------------------------

  /** Writes the record, without entries of stages the pipeline no longer has; untouched when nothing changed. */
  async saveRecord(): Promise<void> {
    if (this.dryRun) return;
    const current = new Set(this.plan.instances.map((instance) => instance.id));
    for (const id of Object.keys(this.lock.stages)) if (!current.has(id)) delete this.lock.stages[id];
    // A rerun that changed nothing leaves the lockfile (and so a clean checkout) untouched.
    if (!this.previousLock || !sameLock(this.previousLock, this.lock)) await this.saveLock();
  }

  /** The summary, its counts line and, for a dry run, the compute statement. */
  finish(): PipelineRunSummary {
    const { summary } = this;
    const name = this.plan.definition.name;
    summary.ok = summary.failed.length === 0 && summary.blocked.length === 0 &&
      summary.needsData.length === 0;
    summary.durationMs = performance.now() - this.#started;
    const reused = summary.reused.length ? ` (${summary.reused.length} reusing another record's run)` : "";
    const counts = this.dryRun
      ? `${summary.decisions.filter((d) => d.action === "run").length} would run, ` +
        `${summary.cached.length} cached${reused}`
      : `${summary.ran.length} ran, ${summary.cached.length} cached${reused}, ${summary.failed.length} failed, ` +
        `${summary.blocked.length} skipped` +
        (summary.needsData.length ? `, ${summary.needsData.length} need data` : "");
    this.log(`[${name}] ${counts} (preset ${this.plan.preset}) in ${seconds(summary.durationMs)}`);
    if (this.dryRun) this.stateCompute();
    return summary;
  }

  stateCompute(): void {
    const compute = plannedCompute(this.plan, new Set(this.#willRun));
    this.summary.compute = compute;
    for (const line of compute.lines) this.say(line.id, `about ${formatFlop(line.flop)} (${line.what})`);
    if (compute.stages === 0) return;
    const stages = (n: number) => `${n} stage${n === 1 ? "" : "s"}`;
    this.log(
      `[${this.plan.definition.name}] compute: about ${formatFlop(compute.flop)} in all (the ${
        stages(compute.stages)
      } whose kind estimates its work), ${formatFlop(compute.flopToRun)} of it in the ${
        stages(compute.stagesToRun)
      } that would run`,
    );
  }
}

function isForced(options: RunnerOptions, instance: StageInstance): boolean {
  return options.force === true || (typeof options.force === "function" && options.force(instance));
}

/** The files an instance's outputs keep beside them (StageKind.keptFiles) that are not in `outDir`. */
async function missingKeptFiles(
  instance: StageInstance,
  outputs: StageOutputs,
  outDir: string,
): Promise<string[]> {
  const missing: string[] = [];
  for (const file of instance.kind.keptFiles?.(outputs) ?? []) {
    if (!(await Deno.stat(join(outDir, file)).then((info) => info.isFile, () => false))) missing.push(file);
  }
  return missing;
}

/**
 * Stored outputs if they still match the lockfile's output hash; undefined when missing or altered. A stored
 * outputs.json that is not JSON is damaged, not missing: DamagedRecordError.
 */
async function loadStoredOutputs(
  outDir: string,
  expectedHash: string | undefined,
  projectRoot: string,
): Promise<{ outputs: StageOutputs; outputHash: string } | undefined> {
  const stored = await readStoredOutputs(join(outDir, OUTPUTS_FILE));
  if (!stored) return undefined;
  const outputHash = await hashOutputs(outDir, stored.text, stored.outputs, projectRoot).catch(() =>
    undefined
  );
  return outputHash !== undefined && outputHash === expectedHash
    ? { outputs: stored.outputs, outputHash }
    : undefined;
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
  const paramChanges = describeParamChanges(
    identityParams(previous.params ?? {}, instance.kind),
    identityParams(instance.params, instance.kind),
  );
  if (paramChanges) reasons.push(`params changed: ${paramChanges}`);
  if (previous.seed !== seed) reasons.push(`seed changed (${previous.seed} -> ${seed})`);
  const upstream = Object.keys(identity.upstream).filter((id) =>
    previous.upstream?.[id] !== identity.upstream[id]
  );
  if (upstream.length) reasons.push(`upstream changed: ${upstream.join(", ")}`);
  const datasets = [...new Set([...Object.keys(previous.datasets ?? {}), ...Object.keys(identity.datasets)])]
    .filter((name) => previous.datasets?.[name] !== identity.datasets[name]);
  if (datasets.length) reasons.push(`datasets changed: ${datasets.join(", ")}`);
  // What else enters such a kind's identity: the pipeline text its page shows.
  if (!reasons.length && instance.pipelineText) {
    return "the pipeline's title, description, budget or design changed";
  }
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

/** `id` and every instance that needs it, directly or through others. */
function dependants(plan: PipelinePlan, id: string): string[] {
  const out = new Set([id]);
  for (const instance of plan.instances) {
    if (instance.needs.some((need) => need.ids.some((up) => out.has(up)))) out.add(instance.id);
  }
  return [...out];
}
