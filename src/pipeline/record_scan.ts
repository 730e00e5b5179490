// Reads every record under a results folder before anything runs (every configuration's lockfiles, the jobs'
// records, the outputs.json of every finished stage), so that a damaged one stops the run at once, naming the
// file, instead of being taken for "not run yet" halfway through.

import { join } from "@std/path";
import { JOBS_DIR } from "./jobs.ts";
import type { Lockfile } from "./lockfile.ts";
import { LOCKFILE_NAME, readLockfile } from "./lockfile.ts";
import { OUTPUTS_FILE, readStoredOutputs } from "./outputs.ts";
import { DamagedRecordError } from "./records.ts";
import { variantFolders, VARIANTS_DIR } from "./variants.ts";

/** A readable lockfile and the configuration's folder it is in. */
export interface FolderLock {
  /** The results folder of its configuration (the root, or `_presets/<variant>`). */
  folder: string;
  lock: Lockfile;
}

export interface RecordScan {
  /** Every readable lockfile, home folder first. */
  locks: FolderLock[];
  /** Every damaged record that `tolerate` did not accept, in the order they were found. */
  damaged: DamagedRecordError[];
}

async function subfolders(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isDirectory) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

async function jobRecordFiles(pipelineDir: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(pipelineDir, JOBS_DIR))) {
      if (entry.isFile && /^\d+\.lock\.json$/.test(entry.name)) {
        files.push(join(pipelineDir, JOBS_DIR, entry.name));
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return files.sort();
}

/**
 * Reads every record under `root`. `tolerate(file)` accepts a damaged record the run is about to replace on
 * purpose (`--force`); every other damaged one is listed.
 */
export async function scanRecords(
  root: string,
  tolerate: (file: string) => boolean = () => false,
): Promise<RecordScan> {
  const scan: RecordScan = { locks: [], damaged: [] };
  const attempt = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof DamagedRecordError)) throw error;
      if (!tolerate(error.file)) scan.damaged.push(error);
      return undefined;
    }
  };
  const checkOutputs = async (pipelineDir: string, lock: Lockfile) => {
    for (const [id, entry] of Object.entries(lock.stages)) {
      if (entry.status !== "done") continue;
      await attempt(() =>
        named(readStoredOutputs(join(pipelineDir, entry.outDir, OUTPUTS_FILE)), `${lock.pipeline}/${id}`)
      );
    }
  };
  for (const folder of await variantFolders(root)) {
    for (const name of (await subfolders(folder)).filter((name) => name !== VARIANTS_DIR)) {
      const pipelineDir = join(folder, name);
      const lock = await attempt(() => named(readLockfile(join(pipelineDir, LOCKFILE_NAME)), name));
      if (lock) {
        scan.locks.push({ folder, lock });
        await checkOutputs(pipelineDir, lock);
      }
      for (const file of await jobRecordFiles(pipelineDir)) {
        const record = await attempt(() => named(readLockfile(file), name));
        if (record) await checkOutputs(pipelineDir, record);
      }
    }
  }
  // One error per file: a job record and the lockfile may list the same damaged outputs.json.
  const seen = new Set<string>();
  scan.damaged = scan.damaged.filter((error) => !seen.has(error.file) && seen.add(error.file));
  return scan;
}

/** Tags a damaged record with the `--force` name that reruns what it records. */
async function named<T>(read: Promise<T>, forceName: string): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof DamagedRecordError) error.forceName = forceName;
    throw error;
  }
}
