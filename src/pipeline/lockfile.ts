import { dirname, join } from "@std/path";
import type { HostInfo } from "./host.ts";
import type { Fingerprint, ParamValues } from "./types.ts";
import {
  checkFields,
  DamagedRecordError,
  isNumber,
  isObject,
  isString,
  isStringMap,
  readJsonRecord,
} from "./records.ts";

export type StageStatus = "running" | "done" | "failed";

/** The machine a stage ran on, recorded beside its outputs (provenance only: no part of any hash). */
export type RecordedHost = HostInfo & {
  /** The GPU adapter the run used, as the CLI describes it. */
  adapter: string;
};

/** Where a reused run was recorded: the instance whose outputs this entry's folder holds a copy of. */
export interface ReusedFrom {
  pipeline: string;
  id: string;
  /** Its folder relative to the results folder (`_presets/<variant>/...` for another preset's). */
  outDir: string;
}

/** One stage instance in results/<pipeline>/pipeline.lock.json. */
export interface LockEntry {
  kind: string;
  /** `running` stays behind when the process is killed; only `done` entries are reused. */
  status: StageStatus;
  /** SHA-256 over kind, params, matrix arm, seed, upstream output hashes and dataset checksums. */
  inputHash: string;
  outputHash?: string;
  /** The parts of the input hash, kept so `--dry-run` can say what changed. */
  params: ParamValues;
  matrix?: Record<string, string>;
  seed: number;
  upstream: Record<string, string>;
  /** What the stage's code computed on its probe when these outputs were made (docs/caching.md). */
  fingerprint?: Fingerprint;
  /**
   * The code identity (RunnerOptions.codeIdentity) under which the fingerprint was last computed or
   * confirmed: while it is unchanged, the probe need not run again.
   */
  verifiedCode?: string;
  /**
   * What the instance computes, wherever it is (identity.ts runKey): equal keys in two records are the same
   * computation, so one run serves both.
   */
  runKey?: string;
  /** Set when the outputs are another instance's run (same runKey), reused instead of run again. */
  reusedFrom?: ReusedFrom;
  /** The machine the outputs were made on (absent in records made before it was recorded). */
  host?: RecordedHost;
  datasets: Record<string, string>;
  preset: string;
  /** Relative to results/<pipeline>/. */
  outDir: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  error?: string;
}

export interface Lockfile {
  version: typeof LOCKFILE_VERSION;
  pipeline: string;
  title: string;
  description: string;
  claims: string[];
  file: string;
  /** Preset and `--set` overrides of the latest run. */
  preset: string;
  overrides: Record<string, unknown>;
  seed: number;
  /** Every seed of the latest run; present only when there were several. */
  seeds?: number[];
  updatedAt: string;
  stages: Record<string, LockEntry>;
}

export const LOCKFILE_NAME = "pipeline.lock.json";
/** 2: stages keyed by numerics fingerprints instead of hashes of source files. */
export const LOCKFILE_VERSION = 2;

export function lockfilePath(resultsDir: string, pipeline: string): string {
  return join(resultsDir, pipeline, LOCKFILE_NAME);
}

const STATUSES: readonly string[] = ["running", "done", "failed"];

/** The first thing wrong with a parsed lockfile (or job record), as a field path; undefined when it is valid. */
export function lockfileProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "not a lockfile (not a JSON object)";
  const lock = value as Record<string, unknown>;
  if (lock.version !== LOCKFILE_VERSION) {
    return `lockfile version ${JSON.stringify(lock.version)}; this code reads version ${LOCKFILE_VERSION}`;
  }
  const top = checkFields(lock, "", {
    pipeline: isString,
    preset: isString,
    overrides: isObject,
    seed: isNumber,
    stages: isObject,
  });
  if (top) return top;
  for (const [id, entry] of Object.entries(lock.stages as Record<string, unknown>)) {
    const where = `stages[${JSON.stringify(id)}]`;
    if (!isObject(entry)) return `${where} is not an object`;
    const e = entry as Record<string, unknown>;
    const problem = checkFields(e, where, {
      kind: isString,
      status: isString,
      inputHash: isString,
      params: isObject,
      seed: isNumber,
      upstream: isStringMap,
      datasets: isStringMap,
      preset: isString,
      outDir: isString,
    }, {
      matrix: isStringMap,
      fingerprint: isObject,
      verifiedCode: isString,
      runKey: isString,
      reusedFrom: isObject,
      host: isObject,
      finishedAt: isString,
      durationMs: isNumber,
    });
    if (problem) return problem;
    if (!STATUSES.includes(e.status as string)) return `${where}.status is ${JSON.stringify(e.status)}`;
    if (e.status === "done" && !isString(e.outputHash)) return `${where}.outputHash is missing`;
  }
  return undefined;
}

/**
 * The lockfile at `path`, or undefined when there is none. A damaged one (not JSON, or not a lockfile of this
 * version) throws DamagedRecordError: read as absent, it would rerun every stage and overwrite the outputs.
 */
export async function readLockfile(path: string): Promise<Lockfile | undefined> {
  const record = await readJsonRecord(path);
  if (!record) return undefined;
  const problem = lockfileProblem(record.value);
  if (problem) throw new DamagedRecordError(path, problem);
  return record.value as Lockfile;
}

/** Writes through a temporary file and a rename, so a kill mid-write never leaves half a lockfile. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(temporary, path);
}

/**
 * The recorded run time of one results folder's lockfiles with every run counted once: an entry reusing
 * another's run (`reusedFrom`) counts only when that run is not among them (e.g. it was another preset's).
 */
export function recordedComputeMs(locks: readonly Lockfile[]): number {
  // Folders relative to the results folder, as `reusedFrom.outDir` names them.
  const own = new Set<string>();
  for (const lock of locks) {
    for (const entry of Object.values(lock.stages)) {
      if (!entry.reusedFrom) own.add(`${lock.pipeline}/${entry.outDir}`);
    }
  }
  let total = 0;
  const counted = new Set<string>();
  for (const lock of locks) {
    for (const entry of Object.values(lock.stages)) {
      const source = entry.reusedFrom?.outDir;
      if (source !== undefined) {
        if (own.has(source) || counted.has(source)) continue;
        counted.add(source);
      }
      total += entry.durationMs ?? 0;
    }
  }
  return total;
}
