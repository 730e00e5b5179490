// Every finished run recorded under a results folder (all pipelines, all configurations' folders), by run key
// (identity.ts): where a stage about to run is a computation already recorded elsewhere, that run's outputs are
// reused instead (reuse.ts). The records are the store: nothing is kept twice, a reuse links the files.

import { join, relative } from "@std/path";
import type { LockEntry, ReusedFrom } from "./lockfile.ts";
import type { FolderLock } from "./record_scan.ts";
import { VARIANTS_DIR } from "./variants.ts";

/** One finished instance in some configuration's folder. */
export interface RecordedRun {
  /** The configuration's results folder. */
  folder: string;
  pipeline: string;
  id: string;
  entry: LockEntry;
  /** Its output folder. */
  outDir: string;
}

export class RunIndex {
  readonly #byKey = new Map<string, RecordedRun[]>();

  /** `root`: the results folder; paths in `reusedFrom` and labels are relative to it. */
  constructor(readonly root: string, locks: readonly FolderLock[] = []) {
    for (const { folder, lock } of locks) {
      for (const [id, entry] of Object.entries(lock.stages)) this.note(folder, lock.pipeline, id, entry);
    }
  }

  /** Adds or replaces an instance's record (a run, a reuse, a record that learnt its run key). */
  note(folder: string, pipeline: string, id: string, entry: LockEntry): void {
    for (const [key, runs] of this.#byKey) {
      const kept = runs.filter((run) => !isRun(run, folder, pipeline, id));
      if (kept.length !== runs.length) this.#byKey.set(key, kept);
    }
    if (entry.status !== "done" || !entry.runKey) return;
    const run = { folder, pipeline, id, entry, outDir: join(folder, pipeline, entry.outDir) };
    this.#byKey.set(entry.runKey, [...(this.#byKey.get(entry.runKey) ?? []), run]);
  }

  /**
   * The instances that ran the computation `key` themselves (not reuses of another), other than the one
   * asking; the home folder's first, then in the order they were recorded.
   */
  runsOf(key: string, self: { folder: string; pipeline: string; id: string }): RecordedRun[] {
    return (this.#byKey.get(key) ?? []).filter((run) =>
      !run.entry.reusedFrom && !isRun(run, self.folder, self.pipeline, self.id)
    );
  }

  /** What an entry reusing `run` records. */
  reusedFrom(run: RecordedRun): ReusedFrom {
    return { pipeline: run.pipeline, id: run.id, outDir: relative(this.root, run.outDir) };
  }
}

/** `depth/train[shallower=false,seed=1]`, or `_presets/smoke/depth/train[...]` for another preset's run. */
export function reusedFromLabel(from: ReusedFrom): string {
  const parts = from.outDir.split("/");
  const folder = parts[0] === VARIANTS_DIR ? `${parts[0]}/${parts[1]}/` : "";
  return `${folder}${from.pipeline}/${from.id}`;
}

function isRun(run: RecordedRun, folder: string, pipeline: string, id: string): boolean {
  return run.folder === folder && run.pipeline === pipeline && run.id === id;
}
