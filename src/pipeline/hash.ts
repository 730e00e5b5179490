import { createHash } from "node:crypto";
import { join, relative } from "node:path";

/** JSON with sorted keys, so equal values always hash equally regardless of key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return value;
}

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Streams the file, so multi-hundred-megabyte checkpoints do not need to fit in memory twice. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

const SKIPPED_DIRECTORIES = new Set([".git", "node_modules", ".cache", ".gpu"]);

async function listFilesSorted(dir: string): Promise<string[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) files.push(...await listFilesSorted(path));
    } else if (entry.isFile) files.push(path);
  }
  return files;
}

/**
 * Content hashes of the code a stage kind declares (files or directories, repo-relative). Memoised per path
 * for the life of one invocation: a run hashes kernels/ once, not once per stage.
 */
export class CodeHasher {
  readonly #memo = new Map<string, Promise<string>>();

  constructor(readonly projectRoot: string) {}

  hashPaths(paths: readonly string[]): Promise<string> {
    if (paths.length === 0) return Promise.resolve("");
    return Promise.all(paths.map((path) => this.#hashPath(path)))
      .then((hashes) => sha256(paths.map((path, i) => `${path}\0${hashes[i]}\n`).join("")));
  }

  #hashPath(path: string): Promise<string> {
    let hash = this.#memo.get(path);
    if (!hash) {
      hash = this.#computePathHash(path);
      this.#memo.set(path, hash);
    }
    return hash;
  }

  async #computePathHash(path: string): Promise<string> {
    const absolute = join(this.projectRoot, path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(absolute);
    } catch {
      throw new Error(`code file "${path}" does not exist under ${this.projectRoot}`);
    }
    const files = info.isDirectory ? await listFilesSorted(absolute) : [absolute];
    const lines: string[] = [];
    for (const file of files) lines.push(`${relative(this.projectRoot, file)}\0${await hashFile(file)}\n`);
    return sha256(lines.join(""));
  }
}
