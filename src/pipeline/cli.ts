import { basename, extname, fromFileUrl, isAbsolute, join, relative } from "@std/path";
import { parseCommandLine } from "../util/args.ts";
import type { PipelineDefinition } from "./definition.ts";
import { collectEnvironment } from "./environment.ts";
import { formatIssue, PipelineValidationError } from "./errors.ts";
import type { PipelineIssue } from "./errors.ts";
import { type LoadOptions, loadPipelineFile } from "./parse.ts";
import { parseSetArgument, planPipeline, presetNames } from "./plan.ts";
import type { PipelinePlan, SetOverride, StageInstance } from "./plan.ts";
import { type StageKindRegistry, toRegistry } from "./registry.ts";
import { formatFlop, runPipeline } from "./runner.ts";
import {
  acquireRunLock,
  describeTakeover,
  folderLockHolder,
  liveJobLocks,
  type RunLock,
  RunLockError,
} from "./run_lock.ts";
import type { PipelineRunSummary, RunnerOptions } from "./runner.ts";
import {
  describeJobs,
  jobPlan,
  jobPreviousFinder,
  jobRecordPath,
  jobsDir,
  MergeError,
  mergeJobRecords,
  splitJobs,
  stageLocker,
} from "./jobs.ts";
import { SlurmError, slurmScripts, submitSlurm, writeSlurmScripts } from "./slurm.ts";
import { describeParamType } from "./schema.ts";
import { didYouMean } from "../util/suggest.ts";
import { FETCH_INPUTS, type MissingInput, type PipelineInfo, type StageKind } from "./types.ts";

export interface ReproduceCliOptions {
  /** Every stage kind pipelines may name. */
  stageKinds: StageKindRegistry | Iterable<StageKind>;
  /** Claim ids a pipeline's `claims:` may name (default: any). */
  knownClaimIds?: readonly string[];
  /**
   * Called after a run that was not a dry run, with every pipeline file's title and claims (also those not
   * selected): writes the overview page and returns its path.
   */
  writeIndex?: (resultsDir: string, pipelines: PipelineInfo[]) => Promise<string>;
  /**
   * Picks the preset when `--preset` is absent; called only then. Typically probes the GPU adapter and returns
   * `defaultPresetForAdapter(adapter.isSoftware)`.
   */
  chooseDefaultPreset: () => string | Promise<string>;
  /** One line describing the GPU adapter, for provenance; called once before the first stage runs. */
  describeAdapter?: () => string | Promise<string>;
  /** What decides the stages' numbers besides their inputs (RunnerOptions.codeIdentity); called once at most. */
  codeIdentity?: () => Promise<string>;
  /** Repository root: pipelines/, results/ and codeFiles resolve against it. Default: the working directory. */
  projectRoot?: string;
  /** Default `<projectRoot>/pipelines`. */
  pipelinesDir?: string;
  log?: (line: string) => void;
  /** Resources shared by all stages of this invocation (pass one to share with other code). */
  resources?: Map<string, unknown>;
  /**
   * How a Slurm job runs this CLI again (default: this Deno, `run -A`, the main module); the pipeline, preset,
   * `--set`, `--force`, `--results` and `--pipelines` arguments are appended.
   */
  selfCommand?: string[];
}

/** A software adapter (e.g. SwiftShader, llvmpipe) gets the CPU-sized preset; a real GPU the full one. */
export function defaultPresetForAdapter(adapterIsSoftware: boolean): "cpu" | "full" {
  return adapterIsSoftware ? "cpu" : "full";
}

const USAGE = `Usage: deno task reproduce [pipeline ...] [options]

Runs the named pipelines (default: every pipelines/*.yaml, in file-name order), reusing every stage whose
inputs are unchanged, then writes results/index.html.

Options:
  --preset P          smoke | cpu | full (or a preset the pipeline declares); default depends on the GPU adapter
  --set K=V           override a parameter, K = <stage>.<param>, seed or seeds; V is read as YAML (repeatable)
  --dry-run           print what would run and why; run nothing
  --fetch             fetch data that is not on this machine from its sources instead of stopping at it
  --force [STAGE]     rerun every stage, or only STAGE (stage, stage[arm] or pipeline/stage; repeatable).
                      A word after a bare --force that names a pipeline is taken as the pipeline;
                      write --force=STAGE when a stage and a pipeline share a name.
  --results DIR       results directory (default results/)
  --pipelines DIR     pipeline files directory (default pipelines/)
  --list              list pipelines and stage kinds, then exit
  -h, --help          this text

Jobs and clusters (one pipeline; docs/pipelines.md, "Jobs and clusters"):
  --jobs              list the pipeline's independent jobs (one per matrix arm, with its upstream stages)
  --job I             run job I only (0-based); its record goes to results/<pipeline>/jobs/I.lock.json
  --merge             merge the jobs' records into pipeline.lock.json, run the rest (reports), write pages
  --slurm             submit the jobs as a Slurm job array and the merge as a job depending on it
  --print             with --slurm: write the sbatch scripts to results/<pipeline>/jobs/ and print them
  --partition P       with --slurm: the partition
  --gpus-per-job N    with --slurm: GPUs per job (--gres=gpu:N); 1 gives each job its own GPU
  --time T            with --slurm: each job's time limit (Slurm's format, e.g. 04:00:00)`;

const FORCE_ALL = "*";

/** Turns `--force` (bare) and `--force stage` into `--force=...` so parseArgs can read both forms. */
function normaliseForceArgs(args: string[], pipelineNames: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== "--force") {
      out.push(args[i]);
      continue;
    }
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith("-") && !pipelineNames.includes(next)) {
      out.push(`--force=${next}`);
      i++;
    } else out.push(`--force=${FORCE_ALL}`);
  }
  return out;
}

function findOptionValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

async function listPipelineFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /\.ya?ml$/.test(entry.name)) files.push(join(dir, entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return files.sort();
}

const stem = (file: string) => basename(file, extname(file));

/**
 * Parses the command line and runs; returns the exit code (0 ok, 1 a stage failed, 2 usage or validation,
 * 3 another run holds the results folder, 4 a pipeline needs data that is not on this machine).
 */
export async function runReproduceCli(args: string[], opts: ReproduceCliOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const projectRoot = opts.projectRoot ?? Deno.cwd();
  const fromRoot = (path: string) => (isAbsolute(path) ? path : join(projectRoot, path));
  const pipelinesDir = fromRoot(findOptionValue(args, "pipelines") ?? opts.pipelinesDir ?? "pipelines");
  const files = await listPipelineFiles(pipelinesDir);
  // Paths inside the project print relative to it (as users type them); others print in full.
  const display = (file: string) => {
    const path = relative(projectRoot, file);
    return path && !path.startsWith("..") ? path : file;
  };

  let parsed;
  try {
    parsed = parseCommandLine(normaliseForceArgs(args, files.map(stem)), {
      preset: { type: "string" },
      set: { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      fetch: { type: "boolean" },
      force: { type: "string", multiple: true },
      results: { type: "string" },
      pipelines: { type: "string" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      jobs: { type: "boolean" },
      job: { type: "string" },
      merge: { type: "boolean" },
      slurm: { type: "boolean" },
      print: { type: "boolean" },
      partition: { type: "string" },
      "gpus-per-job": { type: "string" },
      time: { type: "string" },
    }, true);
  } catch (error) {
    log(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const registry = toRegistry(opts.stageKinds);
  const loadOptions = (file: string) => ({ displayName: display(file), knownClaimIds: opts.knownClaimIds });
  const resultsDir = fromRoot(values.results ?? "results");

  const unknown = positionals.filter((name) => !files.some((file) => stem(file) === name));
  if (unknown.length) {
    for (const name of unknown) {
      log(
        `unknown pipeline "${name}"${didYouMean(name, files.map(stem))} (looked in ${display(pipelinesDir)})`,
      );
    }
    return 2;
  }
  const selected = positionals.length ? files.filter((file) => positionals.includes(stem(file))) : files;
  if (selected.length === 0) {
    log(`no pipeline files in ${display(pipelinesDir)}`);
    return 2;
  }

  const definitions: PipelineDefinition[] = [];
  const problems: string[] = [];
  for (const file of selected) {
    try {
      definitions.push(await loadPipelineFile(file, registry, loadOptions(file)));
    } catch (error) {
      if (!(error instanceof PipelineValidationError)) throw error;
      problems.push(...error.issues.map(formatIssue));
    }
  }
  if (values.list) {
    for (const definition of definitions) listPipeline(definition, registry, log);
    listStageKinds(registry, log);
    for (const problem of problems) log(problem);
    return problems.length ? 2 : 0;
  }
  if (problems.length) {
    for (const problem of problems) log(problem);
    log(`${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was run.`);
    return 2;
  }

  let plans: PipelinePlan[];
  try {
    const sets = (values.set ?? []).map(parseSetArgument);
    const preset = values.preset ?? await opts.chooseDefaultPreset();
    if (!values.preset) log(`preset: ${preset} (default for this machine; --preset to choose)`);
    plans = planAll(definitions, registry, preset, sets);
    checkForceNames(values.force ?? [], plans);
  } catch (error) {
    if (!(error instanceof PipelineValidationError)) throw error;
    for (const issue of error.issues) log(formatIssue(issue));
    log("nothing was run.");
    return 2;
  }

  const force = makeForcePredicate(values.force ?? []);
  const dryRun = values["dry-run"] ?? false;
  const resources = opts.resources ?? new Map<string, unknown>();
  if (values.fetch) resources.set(FETCH_INPUTS, true);
  const jobMode = checkJobOptions(values, plans);
  if (typeof jobMode === "string") {
    log(jobMode);
    return 2;
  }
  const plan = plans[0];
  const split = jobMode ? splitJobs(plan) : undefined;
  if (values.jobs) {
    for (const line of describeJobs(plan.definition.name, split!)) log(line);
    return 0;
  }
  if (values.slurm) {
    const command = [
      ...(opts.selfCommand ?? [Deno.execPath(), "run", "-A", fromFileUrl(Deno.mainModule)]),
      plan.definition.name,
      "--preset",
      plan.preset,
      ...(values.set ?? []).flatMap((set) => ["--set", set]),
      ...(values.force ?? []).map((name) => `--force=${name}`),
      "--results",
      resultsDir,
      "--pipelines",
      pipelinesDir,
    ];
    const scripts = slurmScripts({
      pipeline: plan.definition.name,
      jobCount: split!.jobs.length,
      resultsDir,
      projectRoot,
      command,
      partition: values.partition,
      gpusPerJob: values["gpus-per-job"] === undefined ? undefined : Number(values["gpus-per-job"]),
      time: values.time,
    });
    await writeSlurmScripts(scripts);
    if (values.print) {
      log(
        `# ${display(scripts.arrayPath)}\n${scripts.array}\n# ${
          display(scripts.mergePath)
        }\n${scripts.merge}`,
      );
      log(
        `submit with: sbatch ${display(scripts.arrayPath)}, then sbatch --dependency=afterok:<array id> ` +
          display(scripts.mergePath),
      );
      return 0;
    }
    try {
      const { arrayId, mergeId } = await submitSlurm(scripts);
      log(
        `submitted job array ${arrayId} (${split!.jobs.length} tasks) and merge job ${mergeId} ` +
          `(after every task succeeded); logs in ${display(jobsDir(resultsDir, plan.definition.name))}/`,
      );
      return 0;
    } catch (error) {
      if (!(error instanceof SlurmError)) throw error;
      log(error.message);
      return 1;
    }
  }
  const jobIndex = values.job === undefined ? undefined : Number(values.job);
  if (jobIndex !== undefined) {
    const count = split!.jobs.length;
    if (!/^\d+$/.test(values.job!) || jobIndex >= count) {
      log(
        `--job ${values.job}: pipeline ${plan.definition.name} has ${count} job${count === 1 ? "" : "s"} ` +
          `(0-${count - 1}); --jobs lists them`,
      );
      return 2;
    }
  }
  let runLock: RunLock | undefined;
  if (!dryRun) {
    try {
      if (jobIndex !== undefined) {
        // Jobs of one pipeline run at once on a shared folder: each locks itself, and waits for a stage
        // another job is writing (stageLocker); a whole-folder run must not be going on.
        const holder = await folderLockHolder(resultsDir);
        if (holder) throw new RunLockError(`another run holds this results folder (${holder}); wait for it`);
        runLock = await acquireRunLock(
          jobsDir(resultsDir, plan.definition.name),
          [plan.definition.name],
          `${jobIndex}.run.lock`,
        );
      } else {
        runLock = await acquireRunLock(resultsDir, plans.map((plan) => plan.definition.name));
        const jobs = (await Promise.all(
          plans.map((plan) => liveJobLocks(jobsDir(resultsDir, plan.definition.name))),
        )).flat();
        if (jobs.length) {
          await runLock.release();
          throw new RunLockError(
            `jobs are running on this results folder (${jobs.join("; ")}); wait for them`,
          );
        }
      }
    } catch (error) {
      if (!(error instanceof RunLockError)) throw error;
      log(error.message);
      return 3;
    }
    const takeover = describeTakeover(runLock);
    if (takeover) log(takeover);
  }
  let runner: ((plan: PipelinePlan) => Partial<RunnerOptions>) | undefined;
  let runPlansFor = plans;
  if (jobIndex !== undefined) {
    const job = split!.jobs[jobIndex];
    const name = plan.definition.name;
    runPlansFor = [jobPlan(plan, job)];
    log(`[${name}] job ${jobIndex} of ${split!.jobs.length}: ${job.label}`);
    runner = () => ({
      lockPath: jobRecordPath(resultsDir, name, jobIndex),
      findPrevious: jobPreviousFinder(resultsDir, name, jobIndex),
      stageLock: stageLocker(resultsDir, name, jobIndex, log),
    });
  } else if (values.merge) {
    try {
      const stages = await mergeJobRecords(plan, split!, resultsDir);
      log(`[${plan.definition.name}] merged the records of ${split!.jobs.length} jobs`);
      runner = () => ({ previousStages: stages });
    } catch (error) {
      await runLock?.release();
      if (!(error instanceof MergeError)) throw error;
      for (const problem of error.problems) log(`[${plan.definition.name}] ${problem}`);
      log(`[${plan.definition.name}] nothing was merged; rerun those jobs with --job I, then --merge again`);
      return 1;
    }
  }
  try {
    return await runPlans(runPlansFor, {
      runner,
      writeIndex: jobIndex === undefined,
      opts,
      resultsDir,
      projectRoot,
      dryRun,
      force,
      resources,
      log,
      files,
      registry,
      loadOptions,
      display,
      adapter: dryRun ? "not probed (dry run)" : undefined,
    });
  } finally {
    await runLock?.release();
  }
}

interface RunPlansContext {
  opts: ReproduceCliOptions;
  resultsDir: string;
  projectRoot: string;
  dryRun: boolean;
  force: (pipeline: string, instance: StageInstance) => boolean;
  resources: Map<string, unknown>;
  log: (line: string) => void;
  files: string[];
  registry: StageKindRegistry;
  loadOptions: (file: string) => LoadOptions;
  display: (file: string) => string;
  adapter?: string;
  /** Extra runner options per plan (a job's record, a merge's starting entries). */
  runner?: (plan: PipelinePlan) => Partial<RunnerOptions>;
  /** Default true; a job leaves the index to the merge. */
  writeIndex?: boolean;
}

async function runPlans(plans: PipelinePlan[], c: RunPlansContext): Promise<number> {
  const { opts, resultsDir, projectRoot, dryRun, force, resources, log } = c;
  const adapter = c.adapter ?? String(await opts.describeAdapter?.() ?? "unknown");
  const environment = await collectEnvironment(projectRoot, adapter, resultsDir);
  let identity: Promise<string> | undefined;
  const codeIdentity = opts.codeIdentity && (() => (identity ??= opts.codeIdentity!()));
  const summaries: PipelineRunSummary[] = [];
  for (const plan of plans) {
    summaries.push(
      await runPipeline(plan, {
        resultsDir,
        projectRoot,
        dryRun,
        force: (instance) => force(plan.definition.name, instance),
        resources,
        environment,
        ...(codeIdentity ? { codeIdentity } : {}),
        log,
        ...c.runner?.(plan),
      }),
    );
  }
  const computed = summaries.filter((summary) => summary.compute?.stages);
  if (dryRun && computed.length > 1) {
    const sum = (f: (s: PipelineRunSummary) => number) => computed.reduce((a, s) => a + f(s), 0);
    log(
      `compute, ${computed.length} pipelines: about ${formatFlop(sum((s) => s.compute!.flop))} in all, ` +
        `${formatFlop(sum((s) => s.compute!.flopToRun))} of it in the stages that would run (divide by the ` +
        "training GFLOP/s `deno task bench` measures on your adapter for the time)",
    );
  }
  if (!dryRun && opts.writeIndex && c.writeIndex !== false) {
    const indexPath = await opts.writeIndex(
      resultsDir,
      await loadAllInfos(c.files, c.registry, c.loadOptions),
    );
    log(`index: ${c.display(indexPath)}`);
  }
  reportAbsentInputs(summaries, log);
  const failed = summaries.filter((summary) => summary.failed.length > 0);
  for (const summary of failed) {
    for (const failure of summary.failed) log(`FAILED ${summary.pipeline}/${failure.id}: ${failure.error}`);
  }
  if (failed.length) return 1;
  return summaries.some((summary) => summary.needsData.length > 0) ? 4 : 0;
}

/**
 * Inputs that are not on this machine, said once: those every stage could do without (their records stood),
 * and per pipeline those it stopped at ("needs data", not a failure).
 */
function reportAbsentInputs(summaries: PipelineRunSummary[], log: (line: string) => void): void {
  const unique = (inputs: MissingInput[]) => [...new Map(inputs.map((i) => [i.name, i])).values()];
  const stood = unique(summaries.flatMap((summary) => summary.absentInputs));
  if (stood.length) {
    log(
      `not on this machine: ${stood.map((i) => i.name).join(", ")}; every stage reading ` +
        `${stood.length === 1 ? "it" : "them"} was reused from its record. To rerun or probe those stages: ` +
        stood.map((i) => i.remedy).join("; "),
    );
  }
  for (const summary of summaries) {
    const needed = unique(summary.needsData.map((n) => n.input));
    if (needed.length) {
      log(`NEEDS DATA ${summary.pipeline}: ${needed.map((i) => `${i.name}: ${i.remedy}`).join("; ")}`);
    }
  }
}

type JobValues = {
  jobs?: boolean;
  job?: string;
  merge?: boolean;
  slurm?: boolean;
  print?: boolean;
  partition?: string;
  "gpus-per-job"?: string;
  time?: string;
  "dry-run"?: boolean;
};

/** True for a job-mode command, false for a plain run, a message for a wrong combination. */
function checkJobOptions(values: JobValues, plans: PipelinePlan[]): boolean | string {
  const modes = (["jobs", "job", "merge", "slurm"] as const).filter((mode) => values[mode] !== undefined);
  const slurmOnly = (["print", "partition", "gpus-per-job", "time"] as const).filter((key) =>
    values[key] !== undefined
  );
  if (modes.length > 1) return `${modes.map((mode) => `--${mode}`).join(" and ")}: choose one`;
  if (slurmOnly.length && !values.slurm) {
    return `${slurmOnly.map((key) => `--${key}`).join(", ")} only go with --slurm`;
  }
  if (modes.length === 0) return false;
  if (plans.length !== 1) {
    return `--${modes[0]} works on one pipeline; name it (${plans.map((p) => p.definition.name).join(", ")})`;
  }
  const gpus = values["gpus-per-job"];
  if (gpus !== undefined && !/^\d+$/.test(gpus)) return `--gpus-per-job ${gpus}: expected a whole number`;
  if (values["dry-run"] && (values.slurm || values.merge)) return `--dry-run does not go with --${modes[0]}`;
  return true;
}

/**
 * Plans every pipeline. With several pipelines, a `--set` only applies where its stage exists, but it must
 * exist somewhere: a typo must not silently do nothing.
 */
function planAll(
  definitions: PipelineDefinition[],
  registry: StageKindRegistry,
  preset: string,
  sets: SetOverride[],
): PipelinePlan[] {
  const several = definitions.length > 1;
  const issues: PipelineIssue[] = [];
  const plans: PipelinePlan[] = [];
  for (const definition of definitions) {
    try {
      plans.push(planPipeline(definition, registry, { preset, sets, skipSetsForMissingStages: several }));
    } catch (error) {
      if (!(error instanceof PipelineValidationError)) throw error;
      issues.push(...error.issues);
    }
  }
  if (several) {
    const stageNames = [...new Set(definitions.flatMap((d) => d.stages.map((stage) => stage.name)))];
    for (const set of sets) {
      const stage = set.key.split(".")[0];
      if (set.key !== "seed" && set.key !== "seeds" && !stageNames.includes(stage)) {
        issues.push({
          where: `--set ${set.raw}`,
          key: set.key,
          message: `no selected pipeline has a stage "${stage}"${didYouMean(stage, stageNames)}`,
        });
      }
    }
  }
  if (issues.length) throw new PipelineValidationError(issues);
  return plans;
}

/** `--force` names: stage, stage[arm] or pipeline/stage(/arm id); `*` is everything. */
function forceMatches(name: string, pipeline: string, instance: StageInstance): boolean {
  if (name === FORCE_ALL) return true;
  const slash = name.indexOf("/");
  const target = slash >= 0 ? name.slice(slash + 1) : name;
  if (slash >= 0 && name.slice(0, slash) !== pipeline) return false;
  return target === instance.stage || target === instance.id;
}

function makeForcePredicate(names: string[]) {
  return (pipeline: string, instance: StageInstance) =>
    names.some((name) => forceMatches(name, pipeline, instance));
}

function checkForceNames(names: string[], plans: PipelinePlan[]): void {
  const issues: PipelineIssue[] = [];
  for (const name of names) {
    const matched = plans.some((plan) =>
      plan.instances.some((instance) => forceMatches(name, plan.definition.name, instance))
    );
    if (!matched) {
      const candidates = [
        ...new Set(plans.flatMap((plan) => plan.instances.flatMap((i) => [i.stage, i.id]))),
      ];
      issues.push({
        where: `--force ${name}`,
        key: "",
        message: `no stage "${name}"${didYouMean(name, candidates)}`,
      });
    }
  }
  if (issues.length) throw new PipelineValidationError(issues);
}

/** Titles and claims of every pipeline file, so the index can list pipelines that have not run yet. */
async function loadAllInfos(
  files: string[],
  registry: StageKindRegistry,
  loadOptions: (file: string) => LoadOptions,
): Promise<PipelineInfo[]> {
  const infos: PipelineInfo[] = [];
  for (const file of files) {
    try {
      const { name, title, description, claims, file: shown } = await loadPipelineFile(
        file,
        registry,
        loadOptions(file),
      );
      infos.push({ name, title, description, claims, file: shown });
    } catch {
      // An invalid pipeline that was not selected must not stop the index from being written.
    }
  }
  return infos;
}

function listPipeline(
  definition: PipelineDefinition,
  registry: StageKindRegistry,
  log: (line: string) => void,
) {
  log(`${definition.name}: ${definition.title}  (${definition.file})`);
  if (definition.claims.length) log(`  claims:  ${definition.claims.join(", ")}`);
  log(`  presets: ${presetNames(definition).join(", ")}`);
  if (definition.seeds.length > 1) log(`  seeds:   ${definition.seeds.join(", ")}`);
  if (definition.matrix.length) {
    log(
      `  matrix:  ${definition.matrix.map((axis) => `${axis.name}: [${axis.values.join(", ")}]`).join("; ")}`,
    );
  }
  for (const stage of definition.stages) {
    const needs = stage.needs.length ? ` <- ${stage.needs.join(", ")}` : "";
    const kind = registry.get(stage.kind);
    log(`  - ${stage.name} (${kind?.name ?? stage.kind}${stage.foreach ? ", foreach matrix" : ""})${needs}`);
  }
}

function listStageKinds(registry: StageKindRegistry, log: (line: string) => void) {
  log("stage kinds:");
  for (const kind of registry.all()) {
    log(`  ${kind.name}: ${kind.description}`);
    for (const [param, spec] of Object.entries(kind.params)) {
      const detail = spec.default !== undefined
        ? `default ${JSON.stringify(spec.default)}`
        : spec.required
        ? "required"
        : "optional";
      log(`      ${param}: ${describeParamType(spec)}, ${detail}. ${spec.doc}`);
    }
  }
}
