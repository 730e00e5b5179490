/**
 * Where fetched models live: one checkpoint per registry name at <cache>/models/NAME.safetensors, so that a
 * name is all classify, evaluate and the GUI need. Nothing here downloads (src/io/model_fetch.ts does).
 */
import { defaultCacheDir, joinPath } from "../data/util.ts";
import type { FetchableModel, ModelRegistry } from "./model_registry.ts";

/** <cache>/models. */
export function fetchedModelsDir(cacheDir = defaultCacheDir()): string {
  return joinPath(cacheDir, "models");
}

/** The checkpoint a fetch of `name` writes. */
export function fetchedModelPath(name: string, cacheDir = defaultCacheDir()): string {
  return joinPath(fetchedModelsDir(cacheDir), `${name}.safetensors`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The registry's models whose checkpoint is here, with its path. */
export async function fetchedModels(
  registry: ModelRegistry,
  cacheDir = defaultCacheDir(),
): Promise<{ entry: FetchableModel; path: string }[]> {
  const here = [];
  for (const entry of registry.models) {
    const path = fetchedModelPath(entry.name, cacheDir);
    if (await isFile(path)) here.push({ entry, path });
  }
  return here;
}

/** The checkpoint of `entry` when it has been fetched, else null. */
export async function fetchedPath(
  entry: FetchableModel,
  cacheDir = defaultCacheDir(),
): Promise<string | null> {
  const path = fetchedModelPath(entry.name, cacheDir);
  return (await isFile(path)) ? path : null;
}

/** "deno task model fetch torchvision-alexnet". */
export function modelFetchCommand(entry: FetchableModel): string {
  return `deno task model fetch ${entry.name}`;
}
