import { dirname, join } from "@std/path";
import type { Fingerprint, ParamValues } from "./types.ts";

export type StageStatus = "running" | "done" | "failed";

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

export async function readLockfile(path: string): Promise<Lockfile | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const lock = JSON.parse(text) as Lockfile;
    return lock.version === LOCKFILE_VERSION && typeof lock.stages === "object" ? lock : undefined;
  } catch {
    // A corrupt lockfile only costs a rerun; do not refuse to run.
    return undefined;
  }
}

/** Writes through a temporary file and a rename, so a kill mid-write never leaves half a lockfile. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(temporary, path);
}
