import { createHash } from "node:crypto";
import { join, relative } from "@std/path";

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

/**
 * One digest of the files under `paths` (files or folders, relative to `root`; missing ones are skipped):
 * each file's path relative to `root` and its bytes, in sorted order, so the same tree always gives the same
 * digest wherever it is checked out.
 */
export async function hashTree(root: string, paths: readonly string[]): Promise<string> {
  const files: string[] = [];
  const walk = async (path: string) => {
    const info = await Deno.stat(path).catch(() => undefined);
    if (info?.isFile) files.push(path);
    else if (info?.isDirectory) {
      for await (const entry of Deno.readDir(path)) await walk(join(path, entry.name));
    }
  };
  for (const path of paths) await walk(join(root, path));
  const hash = createHash("sha256");
  for (const file of files.map((f) => relative(root, f)).sort()) {
    hash.update(`${file}\0${await hashFile(join(root, file))}\n`);
  }
  return hash.digest("hex");
}

/** The keys of two records together, each once, sorted: what comparing them walks. */
export function keyUnion(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}
