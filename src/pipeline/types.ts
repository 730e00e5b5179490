import type { HostInfo } from "./host.ts";
import type { RecordedHost } from "./lockfile.ts";

/**
 * The contract between the pipeline runner and the code that does the work (stage kinds).
 *
 * A stage kind is registered in code; pipeline files (pipelines/*.yaml) only name it and give it parameters.
 * The runner decides whether a stage must run, hands it a context, and stores what it returns.
 */

/** Types a stage parameter can declare. `enum` needs `values`; `object`/`object[]` are free-form maps. */
export type ParamType =
  | "number"
  | "integer"
  | "string"
  | "boolean"
  | "enum"
  | "string[]"
  | "number[]"
  | "object"
  | "object[]";

export interface ParamSpec {
  type: ParamType;
  /** One line shown by `--list` and in error messages. */
  doc: string;
  /** Allowed values of an `enum` parameter. */
  values?: readonly string[];
  /** Used when neither the pipeline file, the preset nor `--set` gives a value. */
  default?: unknown;
  /** A parameter without a default that must be given. */
  required?: boolean;
  /** Inclusive bounds for `number`/`integer` (and every element of `number[]`). */
  min?: number;
  max?: number;
  /**
   * Added after records of its kind exist: at its default it stays out of the stage's identity, so those
   * records stay valid (a changed computation is still caught by the numerics probe).
   */
  addedLater?: boolean;
}

/** Declarative parameter schema: checked before anything runs, so typos fail in seconds, not after training. */
export type ParamSchema = Record<string, ParamSpec>;

export type ParamValues = Record<string, unknown>;

/**
 * What a stage returns: a JSON-serialisable object (metrics, curves, file names relative to outDir).
 * Files listed under `files` (name -> path relative to outDir) are hashed into the output hash and must exist
 * for the stage to count as cached.
 */
export type StageOutputs = Record<string, unknown> & {
  files?: Record<string, string>;
  /**
   * Files the stage writes outside its outDir (name -> path relative to the project root, e.g. a published
   * model): hashed like `files`, so a changed byte there is noticed.
   */
  published?: Record<string, string>;
};

/**
 * The results of a stage kind's probe. `exact` digests must match bit for bit; `measures` are float results
 * compared within a relative tolerance, so float32 rounding that differs between adapters (or summation
 * orders) does not count as changed code, while any change in what is computed does.
 */
export interface Fingerprint {
  /** Named digests (hex): data order, augmentation draws, learning rates, initial weights, rendered bytes. */
  exact: Record<string, string>;
  /** Named vectors of float results: losses, weight updates, evaluation scores. */
  measures: Record<string, number[]>;
  /** Each vector matches when max |a_i - b_i| <= tolerance * max |a_i| (default 1e-4). */
  tolerance?: number;
}

/** The stored result of one stage instance (one arm of a matrix stage, or the stage itself). */
export interface StageResult {
  /** Stage name in the pipeline file. */
  stage: string;
  /** Instance id: `train`, or `train[lrn=on,pooling=overlap]` for one arm of a matrix stage. */
  id: string;
  kind: string;
  /** The matrix combination of this arm (absent for stages without `foreach: matrix`). */
  matrix?: Record<string, string>;
  /** The seed the instance ran with (set by the runner; one per instance when a pipeline has several seeds). */
  seed?: number;
  params: ParamValues;
  /** Absolute directory the outputs live in: results/<pipeline>/<stage>[/<arm>]/. */
  outDir: string;
  outputs: StageOutputs;
  /** SHA-256 over outputs.json and the files it lists; downstream identities build on it. */
  outputHash: string;
  /** Wall time of the run that produced these outputs (also when they are reused from the cache). */
  durationMs: number;
  /** True when this invocation reused the outputs instead of running the stage. */
  cached: boolean;
  /** Preset in force when the outputs were produced. */
  preset: string;
  /** Dataset checksums the stage kind reported (name -> checksum). */
  datasets: Record<string, string>;
  /** When the outputs were produced (ISO 8601). */
  finishedAt: string;
  /** The machine that produced them, where the record names it. */
  host?: RecordedHost;
  /**
   * Set when the outputs are another instance's run of the same computation, reused instead of run again:
   * that instance, as `pipeline/id` (prefixed by its preset folder when it is another preset's).
   */
  reusedFrom?: string;
}

/** Facts about the whole invocation, for provenance blocks. */
export interface RunInfo {
  pipeline: PipelineInfo;
  preset: string;
  /** `--set` overrides as given on the command line (key -> parsed value). */
  overrides: Record<string, unknown>;
  /** The first of `seeds` (the seed of stages that do not depend on randomness). */
  seed: number;
  /** Every seed the seeded stages run with. */
  seeds: number[];
  adapter: string;
  /** The machine: CPU model (and GPU model where there is one). */
  host: HostInfo;
  denoVersion: string;
  gitCommit: string;
  startedAt: string;
  resultsDir: string;
  /** Every stage instance finished (ran or cached) so far in this pipeline, by instance id. */
  completed: ReadonlyMap<string, StageResult>;
}

export interface PipelineInfo {
  name: string;
  title: string;
  description: string;
  claims: string[];
  file: string;
  /** `budget:` of the pipeline file: the compute it is meant to take, in the file author's words. */
  budget?: string;
  /** `design:` of the pipeline file: the rule by which its settings were fixed before it ran. */
  design?: string;
}

export interface StageContext<P = ParamValues> {
  pipeline: string;
  /** Stage name in the pipeline file. */
  stage: string;
  /** Instance id (`stage` or `stage[axis=value,...]`). */
  id: string;
  /** Resolved parameters: schema defaults < pipeline file < preset < --set; matrix references substituted. */
  params: P;
  /**
   * Outputs of the stages named in `needs`, by stage name. A matrix stage needed by a matrix stage gives the
   * matching arm; a matrix stage needed by a non-matrix stage gives every arm as an array (in matrix order).
   */
  inputs: Record<string, StageResult | StageResult[]>;
  /**
   * Absolute output directory, results/<pipeline>/<stage>[/<arm>]/. It is emptied before a fresh run, but kept
   * when the previous attempt with the same input hash failed or was killed (`resuming` is then true), so a
   * long stage can resume from checkpoints it wrote there. For `fingerprint`, an empty scratch folder.
   */
  outDir: string;
  resuming: boolean;
  preset: string;
  /** This instance's seed: the pipeline's, or for a seeded stage of a pipeline with several seeds, its own. */
  seed: number;
  matrix?: Record<string, string>;
  /** Shared by every stage of one invocation (all pipelines), so a dataset is decoded once. */
  resources: Map<string, unknown>;
  /** Project root: relative data paths and `published` files resolve against it. */
  projectRoot: string;
  run: RunInfo;
  log(message: string): void;
  /** Report progress; the runner prints throttled lines with elapsed time. */
  progress(done: number, total: number, note?: string): void;
}

/** A problem found by a stage kind's own parameter check; `path` is relative to the stage's `params`. */
export interface ParamIssue {
  path: (string | number)[];
  message: string;
  /** Point at the key (e.g. an unknown key) or at its value (default). */
  at?: "key" | "value";
}

/** What a stage kind's `validateParams` sees of the pipeline around the stage. */
export interface StageValidationInfo {
  stage: string;
  needs: string[];
  /**
   * Every stage of the pipeline: its kind, whether it expands over the matrix and whether it runs once per
   * seed (only when the pipeline has several seeds).
   */
  stages: Record<string, { kind: string; foreach: boolean; perSeed: boolean }>;
  /** Matrix axes and their values (as strings). */
  matrix: Record<string, string[]>;
  /** The seeds of the run (one unless `seeds:` lists several). */
  seeds: number[];
}

export interface DatasetChecksumContext {
  resources: Map<string, unknown>;
  projectRoot: string;
}

/** `resources` key set by `reproduce --fetch`: stages may fetch inputs that are not on this machine. */
export const FETCH_INPUTS = "pipeline:fetch-inputs";

/**
 * An input that is not on this machine (a dataset not fetched yet), as a stage kind reports it: an error with
 * `missingInput`. The runner then reuses a record that stands without it, or ends the pipeline "needs data"
 * instead of failing.
 */
export interface MissingInput {
  name: string;
  /** The one command (and its size) that gets it. */
  remedy: string;
}

export function missingInputOf(error: unknown): MissingInput | undefined {
  const m = (error as { missingInput?: MissingInput } | null)?.missingInput;
  return m && typeof m.name === "string" && typeof m.remedy === "string" ? m : undefined;
}

export interface StageKind<P = ParamValues> {
  name: string;
  description: string;
  params: ParamSchema;
  /**
   * How the kind relates to a pipeline's several seeds. `each`: its outputs depend on the seed (training), so
   * it runs once per seed. `all`: it aggregates over seeds (a report) and gets every seed's instances of the
   * stages it needs. Unset: it runs once per seed exactly when a stage it needs does (an evaluation of a
   * trained net), and once otherwise.
   */
  seeds?: "each" | "all";
  /**
   * What the stage's code computes on a cheap, deterministic probe of this instance's own configuration
   * (docs/caching.md). It stands for the code in the stage's identity: a change that leaves the probe's
   * results as they were keeps the stage cached, one that changes them reruns it. Called with `outDir` set to
   * a scratch folder; without it, a kind is keyed by its parameters, inputs and datasets alone.
   */
  fingerprint?(ctx: StageContext<P>): Promise<Fingerprint>;
  /**
   * Checksums of the datasets the stage will read, computed BEFORE it runs (they are part of its identity, so
   * a changed dataset reruns it). Keep it cheap: cache in `resources` or next to the data.
   */
  datasetChecksums?(params: P, ctx: DatasetChecksumContext): Promise<Record<string, string>>;
  /**
   * One line on a dataset whose checksum differs from the record's ("recorded on build A, here build B"), from
   * what the kind knows of its datasets' builds; undefined to say nothing beyond "datasets changed".
   */
  describeDatasetChange?(
    name: string,
    recorded: string | undefined,
    current: string,
  ): Promise<string | undefined>;
  /**
   * Gets the inputs \`datasetChecksums\` found missing (a dataset download), when the run was asked to fetch
   * (\`FETCH_INPUTS\`) and the stage's record cannot stand in for them.
   */
  fetchMissing?(params: P, ctx: DatasetChecksumContext): Promise<void>;
  /**
   * What the instance's outputs are a function of, besides its seed, upstream outputs and datasets: its
   * configuration with defaults resolved and display-only parameters (a label) left out, and whatever its
   * matrix arm changes (a value looked up by it). Declaring it promises that the run reads nothing else of its
   * context (not the pipeline, preset or provenance): two instances, in any pipeline, arm or preset, whose
   * resolved configurations, seeds, upstream outputs and datasets are equal compute the same, so one run
   * serves both (identity.ts runKey). Undefined (or no such method): the instance's own record is the only one
   * it reuses.
   */
  resolvedConfig?(ctx: ResolveContext<P>): unknown;
  /**
   * The outputs of another instance's run of the same computation (equal runKey) as this instance presents
   * them: its own display-only values (its label) in place of the other's. Default: unchanged.
   */
  adoptOutputs?(outputs: StageOutputs, params: P): StageOutputs;
  /**
   * Files its outputs name outside `files` (kept out of the output hash, e.g. a checkpoint) that stages which
   * `readsUpstreamFiles` open from its folder. A run of the same computation recorded elsewhere is preferred
   * where they are on disk, and reused without them only where nothing that needs them would run on it.
   */
  keptFiles?(outputs: StageOutputs): string[];
  /** Opens its upstream stages' `keptFiles` (a trained net's checkpoint) when it runs. */
  readsUpstreamFiles?: boolean;
  /**
   * Its outputs show the pipeline file's title, description, budget and design (a page): they are then part of
   * its identity, so editing that text rewrites the page instead of leaving it stale.
   */
  readsPipelineText?: boolean;
  /** Extra static checks beyond the schema (e.g. references to other stages). Runs before anything runs. */
  validateParams?(params: P, info: StageValidationInfo): ParamIssue[];
  /**
   * The work the instance would do, for the dry run's compute statement, from its parameters and those of the
   * planned instances it needs (their results may not exist yet). Undefined where the kind cannot say or its
   * work is negligible; an upper bound where the stage may stop early.
   */
  estimate?(params: P, upstream: Record<string, PlannedUpstream[]>): StageEstimate | undefined;
  run(ctx: StageContext<P>): Promise<StageOutputs>;
}

/** What `resolvedConfig` sees of an instance: its parameters, arm, seed and the outputs of what it needs. */
export interface ResolveContext<P = ParamValues> {
  params: P;
  matrix?: Record<string, string>;
  seed: number;
  inputs: Record<string, StageResult | StageResult[]>;
}

/** A planned instance a stage needs, as `estimate` sees it: its kind and parameters. */
export interface PlannedUpstream {
  kind: string;
  params: ParamValues;
  matrix?: Record<string, string>;
}

/** What a stage would compute: floating-point operations, and the images it would process, in words. */
export interface StageEstimate {
  flop: number;
  what: string;
}

/** Helper that keeps the parameter type of a stage kind while registering it with the untyped registry. */
export function defineStageKind<P = ParamValues>(kind: StageKind<P>): StageKind {
  return kind as unknown as StageKind;
}
