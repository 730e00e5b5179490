// One run at a time per results folder: two runs would resume each other's live stages, duplicate metrics and
// overwrite each other's lockfiles. The lock is a file created exclusively; a lock whose process is gone (same
// host, no such pid) is stale and is taken over.

import { dirname, join } from "@std/path";

export const RUN_LOCK_FILE = ".reproduce.lock";

export interface RunLockHolder {
  pid: number;
  host: string;
  startedAt: string;
  pipelines: string[];
}

export class RunLockError extends Error {}

export interface RunLock {
  holder: RunLockHolder;
  /** Set when a stale lock was taken over: the holder it replaced. */
  tookOver?: RunLockHolder;
  release(): Promise<void>;
}

function describeHolder(h: RunLockHolder): string {
  return `pid ${h.pid} on ${h.host}, started ${h.startedAt}, pipelines ${h.pipelines.join(", ") || "(none)"}`;
}

/** Whether `pid` is a live process of this machine (Linux /proc; elsewhere, assume it is). */
async function processAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return Deno.build.os !== "linux";
    return true;
  }
}

/**
 * Creates the lock file exclusively (throws AlreadyExists when it is held) with the holder in it; the returned
 * release removes it only while it is still ours: a takeover by someone else must not be undone.
 */
async function createLockFile(path: string, holder: RunLockHolder): Promise<() => Promise<void>> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  } finally {
    file.close();
  }
  return async () => {
    if ((await readHolder(path))?.pid === holder.pid) await Deno.remove(path).catch(() => {});
  };
}

async function readHolder(path: string): Promise<RunLockHolder | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as RunLockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Takes the results folder's lock or throws RunLockError naming the holder. A lock left by a killed run on
 * this host is taken over (`tookOver` says whose it was); one from another host is never taken: its process
 * cannot be checked from here.
 */
export async function acquireRunLock(
  resultsDir: string,
  pipelines: string[],
  fileName = RUN_LOCK_FILE,
): Promise<RunLock> {
  await Deno.mkdir(resultsDir, { recursive: true });
  const path = join(resultsDir, fileName);
  const holder: RunLockHolder = {
    pid: Deno.pid,
    host: Deno.hostname(),
    startedAt: new Date().toISOString(),
    pipelines,
  };
  let tookOver: RunLockHolder | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const release = await createLockFile(path, holder);
      return {
        holder,
        tookOver,
        release,
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const other = await readHolder(path);
    if (other && (other.host !== holder.host || await processAlive(other.pid))) {
      throw new RunLockError(
        `${path}: another run holds this ${fileName === RUN_LOCK_FILE ? "results folder" : "lock"} (${
          describeHolder(other)
        }); wait for it to finish, ` +
          `or use another --results folder` +
          (other.host !== holder.host ? ` (if that run is dead, delete ${path})` : ""),
      );
    }
    // Stale (its process is gone) or unreadable (killed mid-write): remove and try again.
    tookOver = other ?? { pid: 0, host: "unknown", startedAt: "unknown", pipelines: [] };
    await Deno.remove(path).catch(() => {});
  }
  throw new RunLockError(`${path}: could not take the lock (it keeps reappearing)`);
}

export function describeTakeover(lock: RunLock): string | undefined {
  return lock.tookOver
    ? `took over a stale lock left by a run that is no longer alive (${describeHolder(lock.tookOver)})`
    : undefined;
}

/** Whether a live run (this host, or any run on another host) holds the results folder's lock. */
export async function folderLockHolder(resultsDir: string): Promise<string | undefined> {
  const other = await readHolder(join(resultsDir, RUN_LOCK_FILE));
  if (!other || (other.host === Deno.hostname() && !await processAlive(other.pid))) return undefined;
  return describeHolder(other);
}

/** Holders of `*.run.lock` files in `dir` (a pipeline's jobs) whose run is alive, described. */
export async function liveJobLocks(dir: string): Promise<string[]> {
  const live: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".run.lock")) continue;
      const other = await readHolder(join(dir, entry.name));
      if (other && (other.host !== Deno.hostname() || await processAlive(other.pid))) {
        live.push(`${entry.name}: ${describeHolder(other)}`);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return live;
}

/**
 * A lock on one stage's output folder, shared by the jobs of a pipeline: taken by creating `path`
 * exclusively, waited for while another live process holds it, taken over when its holder is gone (same
 * host). Returns the release function.
 */
export async function acquireStageLock(
  path: string,
  label: string,
  say: (text: string) => void,
  pollMs = 500,
): Promise<() => Promise<void>> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const holder: RunLockHolder = {
    pid: Deno.pid,
    host: Deno.hostname(),
    startedAt: new Date().toISOString(),
    pipelines: [label],
  };
  let waiting = false;
  for (;;) {
    try {
      return await createLockFile(path, holder);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const other = await readHolder(path);
    if (other && other.host === holder.host && !await processAlive(other.pid)) {
      say(`took over the stage lock of a run that is no longer alive (${describeHolder(other)})`);
      await Deno.remove(path).catch(() => {});
      continue;
    }
    if (!waiting && other) say(`waiting for ${describeHolder(other)}, which holds it`);
    waiting = true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
