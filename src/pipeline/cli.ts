import { basename, extname, fromFileUrl, isAbsolute, join, relative, SEPARATOR } from "@std/path";
import { parseCommandLine } from "../util/args.ts";
import type { PipelineDefinition } from "./definition.ts";
import { collectEnvironment } from "./environment.ts";
import { formatIssue, PipelineValidationError } from "./errors.ts";
import type { PipelineIssue } from "./errors.ts";
import { type LoadOptions, loadPipelineFile } from "./parse.ts";
import { parseSetArgument, planPipeline } from "./plan.ts";
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
  type JobSplit,
  MergeError,
  mergeJobRecords,
  splitJobs,
  stageLocker,
} from "./jobs.ts";
import { shellQuote, SlurmError, slurmScripts, submitSlurm, writeSlurmScripts } from "./slurm.ts";
import { didYouMean } from "../util/suggest.ts";
import { FETCH_INPUTS, type MissingInput, type PipelineInfo, type StageKind } from "./types.ts";
import { checkForceNames, makeForcePredicate, normaliseForceArgs } from "./cli_force.ts";
import { listPipeline, listStageKinds } from "./cli_list.ts";
import { DamagedRecordError, describeDamagedRecord } from "./records.ts";
import { OUTPUTS_FILE } from "./outputs.ts";
import { scanRecords } from "./record_scan.ts";
import { RunIndex } from "./run_index.ts";
import { DEFAULT_HOME_PRESET, variantName, variantResultsDir, VARIANTS_DIR } from "./variants.ts";

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
  /**
   * The preset whose results live in the results folder itself (default `cpu`, the committed results'); any
   * other preset, and any `--set`, writes to `<results>/_presets/<name>/` instead (variants.ts).
   */
  homePreset?: string;
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

/** The exit codes of `reproduce`. */
export const EXIT = {
  ok: 0,
  /** A stage failed. */
  failed: 1,
  /** Usage, pipeline files, presets, `--set` or `--force` are wrong; nothing ran. */
  usage: 2,
  /** Another run holds the results folder. */
  locked: 3,
  /** A pipeline needs data that is not on this machine. */
  needsData: 4,
  /** A record (lockfile, job record, outputs.json) is damaged; nothing ran. */
  damaged: 5,
} as const;

const USAGE = `Usage: deno task reproduce [pipeline ...] [options]

Runs the named pipelines (default: every pipelines/*.yaml, in file-name order), reusing every stage whose
inputs are unchanged, then writes results/index.html.

Options:
  --preset P          smoke | cpu | full (or a preset the pipeline declares); default depends on the GPU adapter.
                      Results of presets other than cpu, and of any --set, go to results/_presets/<name>/
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
  --time T            with --slurm: each job's time limit (Slurm's format, e.g. 04:00:00)

Exit codes: 0 done, 1 a stage failed, 2 usage or validation problems, 3 another run holds the results
folder, 4 a pipeline needs data not on this machine, 5 a record is damaged (nothing ran).`;

const OPTIONS = {
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
} as const;

type Values = {
  preset?: string;
  set?: string[];
  "dry-run"?: boolean;
  fetch?: boolean;
  force?: string[];
  results?: string;
  pipelines?: string;
  list?: boolean;
  help?: boolean;
} & JobValues;

/** What every step of the command needs: options, where things are, how to print. */
interface Cli {
  opts: ReproduceCliOptions;
  log: (line: string) => void;
  projectRoot: string;
  pipelinesDir: string;
  /** Every pipeline file, sorted. */
  files: string[];
  registry: StageKindRegistry;
  loadOptions: (file: string) => LoadOptions;
  /** Paths inside the project relative to it (as users type them); others in full. */
  display: (path: string) => string;
  fromRoot: (path: string) => string;
}

/** Where this invocation's records go: the results folder, and the folder of its preset and `--set`. */
interface ResultsFolder {
  /** `--results` (default results/): the home configuration's folder, and the root of every other's. */
  root: string;
  /** Where this configuration's records and pages go (`root`, or `root/_presets/<variant>`). */
  dir: string;
}

/** The plans of this invocation, with the settings they were made from. */
interface Planned {
  plans: PipelinePlan[];
  preset: string;
  sets: SetOverride[];
  force: (pipeline: string, instance: StageInstance) => boolean;
}

/**
 * Parses the command line and runs; returns the exit code (EXIT: 0 ok, 1 a stage failed, 2 usage or
 * validation, 3 another run holds the results folder, 4 a pipeline needs data that is not on this machine,
 * 5 a record is damaged).
 */
export async function runReproduceCli(args: string[], opts: ReproduceCliOptions): Promise<number> {
  const cli = await openCli(args, opts);
  const values = parseArguments(cli, args);
  if (typeof values === "number") return values;
  if (values.values.help) {
    cli.log(USAGE);
    return EXIT.ok;
  }
  const definitions = await loadDefinitions(cli, values.positionals, values.values.list === true);
  if (typeof definitions === "number") return definitions;
  const planned = await planFromArguments(cli, definitions, values.values);
  if (typeof planned === "number") return planned;
  const jobMode = checkJobOptions(values.values, planned.plans);
  if (typeof jobMode === "string") {
    cli.log(jobMode);
    return EXIT.usage;
  }
  const split = jobMode ? splitJobs(planned.plans[0]) : undefined;
  if (values.values.jobs) {
    for (const line of describeJobs(planned.plans[0].definition.name, split!)) cli.log(line);
    return EXIT.ok;
  }
  const folder = resultsFolderOf(cli, values.values, planned);
  if (values.values.slurm) return await submitToSlurm(cli, values.values, planned, folder, split!);
  const jobIndex = jobIndexOf(cli, values.values, planned.plans[0], split);
  if (jobIndex === "bad") return EXIT.usage;
  try {
    return await runInFolder(cli, values.values, planned, folder, split, jobIndex);
  } catch (error) {
    if (!(error instanceof DamagedRecordError)) throw error;
    cli.log(describeDamagedRecord(error, cli.display));
    cli.log("stopped at a damaged record.");
    return EXIT.damaged;
  }
}

async function openCli(args: string[], opts: ReproduceCliOptions): Promise<Cli> {
  const projectRoot = opts.projectRoot ?? Deno.cwd();
  const fromRoot = (path: string) => (isAbsolute(path) ? path : join(projectRoot, path));
  const pipelinesDir = fromRoot(findOptionValue(args, "pipelines") ?? opts.pipelinesDir ?? "pipelines");
  const display = (file: string) => {
    const path = relative(projectRoot, file);
    return path && !path.startsWith("..") ? path : file;
  };
  return {
    opts,
    log: opts.log ?? ((line: string) => console.log(line)),
    projectRoot,
    pipelinesDir,
    files: await listPipelineFiles(pipelinesDir),
    registry: toRegistry(opts.stageKinds),
    loadOptions: (file: string) => ({ displayName: display(file), knownClaimIds: opts.knownClaimIds }),
    display,
    fromRoot,
  };
}

function parseArguments(cli: Cli, args: string[]): { values: Values; positionals: string[] } | number {
  try {
    const parsed = parseCommandLine(normaliseForceArgs(args, cli.files.map(stem)), OPTIONS, true);
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    cli.log(`${(error as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
}

/** The selected pipeline files, validated (all problems at once); `--list` prints them and ends here. */
async function loadDefinitions(
  cli: Cli,
  positionals: string[],
  list: boolean,
): Promise<PipelineDefinition[] | number> {
  const unknown = positionals.filter((name) => !cli.files.some((file) => stem(file) === name));
  for (const name of unknown) {
    const known = cli.files.map(stem);
    cli.log(
      `unknown pipeline "${name}"${didYouMean(name, known)} (looked in ${cli.display(cli.pipelinesDir)})`,
    );
  }
  if (unknown.length) return EXIT.usage;
  const selected = positionals.length
    ? cli.files.filter((file) => positionals.includes(stem(file)))
    : cli.files;
  if (selected.length === 0) {
    cli.log(`no pipeline files in ${cli.display(cli.pipelinesDir)}`);
    return EXIT.usage;
  }
  const definitions: PipelineDefinition[] = [];
  const problems: string[] = [];
  for (const file of selected) {
    try {
      definitions.push(await loadPipelineFile(file, cli.registry, cli.loadOptions(file)));
    } catch (error) {
      if (!(error instanceof PipelineValidationError)) throw error;
      problems.push(...error.issues.map(formatIssue));
    }
  }
  if (list) {
    for (const definition of definitions) listPipeline(definition, cli.registry, cli.log);
    listStageKinds(cli.registry, cli.log);
    for (const problem of problems) cli.log(problem);
    return problems.length ? EXIT.usage : EXIT.ok;
  }
  if (problems.length) {
    for (const problem of problems) cli.log(problem);
    cli.log(`${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was run.`);
    return EXIT.usage;
  }
  return definitions;
}

/** The preset (asked for when not given), `--set` and `--force`, checked and planned for every pipeline. */
async function planFromArguments(
  cli: Cli,
  definitions: PipelineDefinition[],
  values: Values,
): Promise<Planned | number> {
  try {
    const sets = (values.set ?? []).map(parseSetArgument);
    const preset = values.preset ?? await cli.opts.chooseDefaultPreset();
    if (!values.preset) cli.log(`preset: ${preset} (default for this machine; --preset to choose)`);
    const plans = planAll(definitions, cli.registry, preset, sets);
    checkForceNames(values.force ?? [], plans);
    return { plans, preset, sets, force: makeForcePredicate(values.force ?? []) };
  } catch (error) {
    if (!(error instanceof PipelineValidationError)) throw error;
    for (const issue of error.issues) cli.log(formatIssue(issue));
    cli.log("nothing was run.");
    return EXIT.usage;
  }
}

/** The folder of this preset and `--set` (variants.ts); said when it is not the results folder itself. */
function resultsFolderOf(cli: Cli, values: Values, planned: Planned): ResultsFolder {
  const root = cli.fromRoot(values.results ?? "results");
  const home = cli.opts.homePreset ?? DEFAULT_HOME_PRESET;
  const variant = variantName(planned.preset, planned.sets, home);
  const dir = variantResultsDir(root, variant);
  if (variant !== undefined && !values.jobs) {
    const settings = `preset ${planned.preset}${planned.sets.length ? ` with --set` : ""}`;
    cli.log(
      `${settings}: results in ${cli.display(dir)}${SEPARATOR} (${cli.display(root)}${SEPARATOR} keeps the ` +
        `${home} preset's; stages they share are reused, not rerun)`,
    );
  }
  return { root, dir };
}

async function submitToSlurm(
  cli: Cli,
  values: Values,
  planned: Planned,
  folder: ResultsFolder,
  split: JobSplit,
): Promise<number> {
  const plan = planned.plans[0];
  const command = [
    ...(cli.opts.selfCommand ?? [Deno.execPath(), "run", "-A", fromFileUrl(Deno.mainModule)]),
    plan.definition.name,
    "--preset",
    plan.preset,
    ...(values.set ?? []).flatMap((set) => ["--set", set]),
    ...(values.force ?? []).map((name) => `--force=${name}`),
    // The root: every job works out the same preset folder from the same arguments.
    "--results",
    folder.root,
    "--pipelines",
    cli.pipelinesDir,
  ];
  const scripts = slurmScripts({
    pipeline: plan.definition.name,
    jobCount: split.jobs.length,
    resultsDir: folder.dir,
    projectRoot: cli.projectRoot,
    command,
    partition: values.partition,
    gpusPerJob: values["gpus-per-job"] === undefined ? undefined : Number(values["gpus-per-job"]),
    time: values.time,
  });
  await writeSlurmScripts(scripts);
  if (values.print) {
    cli.log(
      `# ${cli.display(scripts.arrayPath)}\n${scripts.array}\n# ${
        cli.display(scripts.mergePath)
      }\n${scripts.merge}`,
    );
    cli.log(
      `submit with: sbatch ${cli.display(scripts.arrayPath)}, then sbatch --dependency=afterok:<array id> ` +
        cli.display(scripts.mergePath),
    );
    return EXIT.ok;
  }
  try {
    const { arrayId, mergeId } = await submitSlurm(scripts);
    cli.log(
      `submitted job array ${arrayId} (${split.jobs.length} tasks) and merge job ${mergeId} ` +
        `(after every task succeeded); logs in ${cli.display(jobsDir(folder.dir, plan.definition.name))}/`,
    );
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof SlurmError)) throw error;
    cli.log(error.message);
    return EXIT.failed;
  }
}

/** `--job I`: the index, undefined without it, "bad" (said) when out of range. */
function jobIndexOf(
  cli: Cli,
  values: Values,
  plan: PipelinePlan,
  split: JobSplit | undefined,
): number | undefined | "bad" {
  if (values.job === undefined) return undefined;
  const index = Number(values.job);
  const count = split!.jobs.length;
  if (/^\d+$/.test(values.job) && index < count) return index;
  cli.log(
    `--job ${values.job}: pipeline ${plan.definition.name} has ${count} job${count === 1 ? "" : "s"} ` +
      `(0-${count - 1}); --jobs lists them`,
  );
  return "bad";
}

/** Checks every record, takes the folder's lock (not for a dry run), runs the plans, releases the lock. */
async function runInFolder(
  cli: Cli,
  values: Values,
  planned: Planned,
  folder: ResultsFolder,
  split: JobSplit | undefined,
  jobIndex: number | undefined,
): Promise<number> {
  const index = await checkRecords(cli, planned, folder);
  if (typeof index === "number") return index;
  const dryRun = values["dry-run"] ?? false;
  const runLock = dryRun ? undefined : await lockResults(cli, planned.plans, folder, jobIndex);
  if (typeof runLock === "number") return runLock;
  try {
    const runner = await jobRunnerOptions(cli, values, planned, folder, split, jobIndex);
    if (typeof runner === "number") return runner;
    const resources = cli.opts.resources ?? new Map<string, unknown>();
    if (values.fetch) resources.set(FETCH_INPUTS, true);
    const plans = jobIndex === undefined ? planned.plans : [jobPlan(planned.plans[0], split!.jobs[jobIndex])];
    return await runPlans(plans, {
      cli,
      folder,
      dryRun,
      force: planned.force,
      resources,
      runIndex: index,
      runner: typeof runner === "function" ? runner : undefined,
      writeIndex: jobIndex === undefined,
      adapter: dryRun ? "not probed (dry run)" : undefined,
    });
  } finally {
    await runLock?.release();
  }
}

/**
 * Reads every record under the results folder before anything runs: a damaged one (that no `--force` is about
 * to replace) stops the command, one line per file. Returns the index of every recorded run.
 */
async function checkRecords(cli: Cli, planned: Planned, folder: ResultsFolder): Promise<RunIndex | number> {
  const scan = await scanRecords(folder.root, replacedOnPurpose(planned, folder.dir));
  if (scan.damaged.length === 0) return new RunIndex(folder.root, scan.locks);
  for (const error of scan.damaged) {
    const results = folder.root === cli.fromRoot("results") ? "" : ` --results ${cli.display(folder.root)}`;
    cli.log(describeDamagedRecord(error, cli.display, rerunCommand(folder, error) + results));
  }
  cli.log(
    `${scan.damaged.length} damaged record${scan.damaged.length === 1 ? "" : "s"}; nothing was run ` +
      "(a damaged record is never taken for a missing one: that would rerun its stages and overwrite them).",
  );
  return EXIT.damaged;
}

/** The records `--force` is about to replace: a fully forced pipeline's, and forced instances' outputs.json. */
function replacedOnPurpose(planned: Planned, dir: string): (file: string) => boolean {
  const files = new Set<string>();
  const folders: string[] = [];
  for (const plan of planned.plans) {
    const name = plan.definition.name;
    const forced = plan.instances.filter((instance) => planned.force(name, instance));
    if (forced.length === plan.instances.length) folders.push(join(dir, name) + SEPARATOR);
    for (const instance of forced) files.add(join(dir, name, instance.outDirRel, OUTPUTS_FILE));
  }
  return (file) => files.has(file) || folders.some((prefix) => file.startsWith(prefix));
}

/**
 * The arguments that rerun a damaged record's stages on purpose: `depth --force` for a lockfile,
 * `depth --force=depth/train[...]` for one stage's outputs.json, with the preset of another preset's folder.
 */
function rerunCommand(folder: ResultsFolder, error: DamagedRecordError): string {
  const parts = relative(folder.root, error.file).split(SEPARATOR);
  const [pipeline, stage] = (error.forceName ?? parts[0]).split("/");
  const [preset, sets] = parts[0] === VARIANTS_DIR ? parts[1].split("+") : [];
  const settings = preset === undefined ? "" : ` --preset ${preset}${sets ? " --set <as when it ran>" : ""}`;
  const force = stage === undefined ? "--force" : `--force=${shellQuote(`${pipeline}/${stage}`)}`;
  return `${pipeline}${settings} ${force}`;
}

/**
 * The results folder's lock (the root's, whichever preset's folder the run writes), or a job's own lock with
 * no whole-folder run going on. A number: refused, said.
 */
async function lockResults(
  cli: Cli,
  plans: PipelinePlan[],
  folder: ResultsFolder,
  jobIndex: number | undefined,
): Promise<RunLock | number> {
  let runLock: RunLock;
  try {
    if (jobIndex !== undefined) {
      // Jobs of one pipeline run at once on a shared folder: each locks itself, and waits for a stage
      // another job is writing (stageLocker); a whole-folder run must not be going on.
      const holder = await folderLockHolder(folder.root);
      if (holder) throw new RunLockError(`another run holds this results folder (${holder}); wait for it`);
      const name = plans[0].definition.name;
      runLock = await acquireRunLock(jobsDir(folder.dir, name), [name], `${jobIndex}.run.lock`);
    } else {
      runLock = await acquireRunLock(folder.root, plans.map((plan) => plan.definition.name));
      const jobs = (await Promise.all(
        plans.map((plan) => liveJobLocks(jobsDir(folder.dir, plan.definition.name))),
      )).flat();
      if (jobs.length) {
        await runLock.release();
        throw new RunLockError(`jobs are running on this results folder (${jobs.join("; ")}); wait for them`);
      }
    }
  } catch (error) {
    if (!(error instanceof RunLockError)) throw error;
    cli.log(error.message);
    return EXIT.locked;
  }
  const takeover = describeTakeover(runLock);
  if (takeover) cli.log(takeover);
  return runLock;
}

/** A job's record and locks, or a merge's starting entries; none for a plain run. A number: refused. */
async function jobRunnerOptions(
  cli: Cli,
  values: Values,
  planned: Planned,
  folder: ResultsFolder,
  split: JobSplit | undefined,
  jobIndex: number | undefined,
): Promise<((plan: PipelinePlan) => Partial<RunnerOptions>) | number | undefined> {
  const plan = planned.plans[0];
  const name = plan.definition.name;
  if (jobIndex !== undefined) {
    cli.log(`[${name}] job ${jobIndex} of ${split!.jobs.length}: ${split!.jobs[jobIndex].label}`);
    return () => ({
      lockPath: jobRecordPath(folder.dir, name, jobIndex),
      findPrevious: jobPreviousFinder(folder.dir, name, jobIndex),
      stageLock: stageLocker(folder.dir, name, jobIndex, cli.log),
    });
  }
  if (!values.merge) return undefined;
  try {
    const stages = await mergeJobRecords(plan, split!, folder.dir);
    cli.log(`[${name}] merged the records of ${split!.jobs.length} jobs`);
    return () => ({ previousStages: stages });
  } catch (error) {
    if (!(error instanceof MergeError)) throw error;
    for (const problem of error.problems) cli.log(`[${name}] ${problem}`);
    cli.log(`[${name}] nothing was merged; rerun those jobs with --job I, then --merge again`);
    return EXIT.failed;
  }
}

interface RunPlansContext {
  cli: Cli;
  folder: ResultsFolder;
  dryRun: boolean;
  force: (pipeline: string, instance: StageInstance) => boolean;
  resources: Map<string, unknown>;
  runIndex: RunIndex;
  adapter?: string;
  /** Extra runner options per plan (a job's record, a merge's starting entries). */
  runner?: (plan: PipelinePlan) => Partial<RunnerOptions>;
  /** A job leaves the index to the merge. */
  writeIndex: boolean;
}

async function runPlans(plans: PipelinePlan[], c: RunPlansContext): Promise<number> {
  const { cli, folder, dryRun } = c;
  const adapter = c.adapter ?? String(await cli.opts.describeAdapter?.() ?? "unknown");
  const environment = await collectEnvironment(cli.projectRoot, adapter, folder.root);
  let identity: Promise<string> | undefined;
  const codeIdentity = cli.opts.codeIdentity && (() => (identity ??= cli.opts.codeIdentity!()));
  const summaries: PipelineRunSummary[] = [];
  for (const plan of plans) {
    summaries.push(
      await runPipeline(plan, {
        resultsDir: folder.dir,
        projectRoot: cli.projectRoot,
        dryRun,
        force: (instance) => c.force(plan.definition.name, instance),
        resources: c.resources,
        environment,
        ...(codeIdentity ? { codeIdentity } : {}),
        runIndex: c.runIndex,
        log: cli.log,
        ...c.runner?.(plan),
      }),
    );
  }
  if (dryRun) stateComputeOfAll(summaries, cli.log);
  if (!dryRun && cli.opts.writeIndex && c.writeIndex) {
    const indexPath = await cli.opts.writeIndex(
      folder.dir,
      await loadAllInfos(cli.files, cli.registry, cli.loadOptions),
    );
    cli.log(`index: ${cli.display(indexPath)}`);
  }
  reportAbsentInputs(summaries, cli.log);
  const failed = summaries.filter((summary) => summary.failed.length > 0);
  for (const summary of failed) {
    for (const failure of summary.failed) {
      cli.log(`FAILED ${summary.pipeline}/${failure.id}: ${failure.error}`);
    }
  }
  if (failed.length) return EXIT.failed;
  return summaries.some((summary) => summary.needsData.length > 0) ? EXIT.needsData : EXIT.ok;
}

/** A dry run over several pipelines ends with their compute together. */
function stateComputeOfAll(summaries: PipelineRunSummary[], log: (line: string) => void): void {
  const computed = summaries.filter((summary) => summary.compute?.stages);
  if (computed.length <= 1) return;
  const sum = (f: (s: PipelineRunSummary) => number) => computed.reduce((a, s) => a + f(s), 0);
  log(
    `compute, ${computed.length} pipelines: about ${formatFlop(sum((s) => s.compute!.flop))} in all, ` +
      `${formatFlop(sum((s) => s.compute!.flopToRun))} of it in the stages that would run (divide by the ` +
      "training GFLOP/s `deno task bench` measures on your adapter for the time)",
  );
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
