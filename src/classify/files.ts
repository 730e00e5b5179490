// The Deno side of classification: which files the arguments name, where checkpoints are, reading them.

import type { Checkpoint, CheckpointMeta } from "../io/checkpoint.ts";
import { PROJECT_ROOT } from "../data/util.ts";
import { loadClassifierCheckpoint, peekCheckpointMeta } from "./checkpoint.ts";
import { readWholeFile } from "../io/read_file.ts";

/** The model `classify` and `gui` use without --model, relative to the project root. */
export const DEFAULT_MODEL = "models/default-cifar10.safetensors";

export function defaultModelPath(): string {
  return `${PROJECT_ROOT}/${DEFAULT_MODEL}`;
}

const IMAGE_FILE = /\.(jpe?g|png)$/i;

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What walks have visited: the Deno.realPath of each folder and image file; `met` counts images met again too. */
interface Visited {
  seen: Set<string>;
  met: number;
}

/**
 * Collects the image files below `dir` into `out`, following symlinks but entering each real folder and taking
 * each real file once, so link cycles end and linked images are not repeated.
 */
async function walk(dir: string, out: string[], v: Visited): Promise<void> {
  const real = await Deno.realPath(dir);
  if (v.seen.has(real)) {
    v.met++; // (a folder already walked: its images, if any, are listed already)
    return;
  }
  v.seen.add(real);
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = `${dir.replace(/\/$/, "")}/${entry.name}`;
    let isDir = entry.isDirectory, isFile = entry.isFile;
    if (entry.isSymlink) {
      try {
        const s = await Deno.stat(path);
        isDir = s.isDirectory;
        isFile = s.isFile;
      } catch {
        continue; // a dangling link is not an image the user meant
      }
    }
    if (isDir) await walk(path, out, v);
    else if (isFile && IMAGE_FILE.test(entry.name)) {
      v.met++;
      const file = entry.isSymlink ? await Deno.realPath(path) : `${real}/${entry.name}`;
      if (v.seen.has(file)) continue;
      v.seen.add(file);
      out.push(path);
    }
  }
}

export type InputItem = { path: string } | { path: string; error: string };

/**
 * Files to classify, in argument order: a file is taken as named (whatever its extension, so a wrong file
 * gets a clear decode error); a folder contributes its .jpg/.jpeg/.png files, recursively, sorted. Symlinks are
 * followed, but each real folder and file is visited once over all folder arguments (an image is listed under
 * the first path that reaches it, in sorted depth-first order).
 */
export async function expandInputs(args: string[]): Promise<InputItem[]> {
  const items: InputItem[] = [];
  const visited: Visited = { seen: new Set(), met: 0 };
  for (const arg of args) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(arg);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file or folder" : describeError(e);
      items.push({ path: arg, error: `${arg}: ${why}` });
      continue;
    }
    if (!info.isDirectory) {
      items.push({ path: arg });
      continue;
    }
    const found: string[] = [];
    visited.met = 0;
    try {
      await walk(arg, found, visited);
    } catch (e) {
      items.push({ path: arg, error: `${arg}: cannot list folder: ${describeError(e)}` });
      continue;
    }
    if (visited.met === 0) {
      items.push({ path: arg, error: `${arg}: folder holds no .jpg, .jpeg or .png files` });
    }
    for (const path of found) items.push({ path });
  }
  return items;
}

/** Reads and validates a checkpoint; errors name the file and what it is instead. */
export async function readCheckpointFile(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(path); // (seconds faster than Deno.readFile for a 244 MB ImageNet model)
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: no such checkpoint file`);
    if (e instanceof Deno.errors.IsADirectory) throw new Error(`${path}: is a folder, not a checkpoint`);
    throw new Error(`${path}: cannot read checkpoint: ${describeError(e)}`);
  }
  return loadClassifierCheckpoint(bytes, path);
}

/** A checkpoint's metadata from its header only (listing many large files stays cheap). */
export async function readCheckpointMeta(path: string): Promise<CheckpointMeta> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: no such checkpoint file`);
    throw new Error(`${path}: cannot read checkpoint: ${describeError(e)}`);
  }
  using _file = file;
  const head = new Uint8Array(8);
  if ((await file.read(head)) !== 8) return peekCheckpointMeta(head.subarray(0, 0), path);
  const length = Number(new DataView(head.buffer).getBigUint64(0, true));
  if (length > 100 * 2 ** 20) return peekCheckpointMeta(head, path); // reports "not a safetensors file"
  const bytes = new Uint8Array(8 + length);
  bytes.set(head);
  let filled = 8;
  while (filled < bytes.length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return peekCheckpointMeta(bytes.subarray(0, filled), path);
}

export interface CheckpointEntry {
  /** A fetched model's name, else the path relative to the project root when inside it, else absolute. */
  id: string;
  path: string;
  meta: CheckpointMeta;
  bytes: number;
}

async function safetensorsUnder(dir: string, out: string[], depth = 0): Promise<void> {
  if (depth > 8) return;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return; // models/ or results/ may not exist yet
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) await safetensorsUnder(path, out, depth + 1);
    else if (e.isFile && e.name.endsWith(".safetensors")) out.push(path);
  }
}

export function checkpointId(path: string, root = PROJECT_ROOT): string {
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

/**
 * Checkpoints under models/ and results/ (recursively), plus `extra` paths, plus `named` ones (fetched models,
 * listed under their names); files that are not usable checkpoints are reported in `problems` rather than
 * listed.
 */
export async function findCheckpoints(
  root = PROJECT_ROOT,
  extra: string[] = [],
  named: { id: string; path: string }[] = [],
): Promise<{ entries: CheckpointEntry[]; problems: string[] }> {
  const paths: string[] = [];
  for (const p of extra) paths.push(p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
  await safetensorsUnder(`${root}/models`, paths);
  for (const n of named) paths.push(n.path);
  await safetensorsUnder(`${root}/results`, paths);
  const ids = new Map(named.map((n) => [n.path, n.id]));
  const entries: CheckpointEntry[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      const meta = await readCheckpointMeta(path);
      const id = ids.get(path) ?? checkpointId(path, root);
      entries.push({ id, path, meta, bytes: (await Deno.stat(path)).size });
    } catch (e) {
      problems.push(describeError(e));
    }
  }
  return { entries, problems };
}
