// Every file under a folder with its bytes' digest, to check that a command left a results folder as it was.

import { join } from "@std/path";
import { hashFile } from "../../src/pipeline/hash.ts";

/** Relative path -> SHA-256 of every file under `dir` (none when it does not exist), leaving out `skip`'s subtrees. */
export async function snapshotTree(dir: string, skip: string[] = []): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(dir, rel)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (skip.includes(path)) continue;
      if (entry.isDirectory) await walk(path);
      else files[path] = await hashFile(join(dir, path));
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
}
