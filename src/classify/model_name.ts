// What `--model` (classify) and `--checkpoint` (evaluate) name: a checkpoint file, or a fetchable model by its
// registry name (models/registry.yaml), whose checkpoint `deno task model fetch NAME` put in the cache.

import { defaultCacheDir, entryExists } from "../data/util.ts";
import { fetchedPath, modelFetchCommand } from "../io/fetched_models.ts";
import { findFetchable, loadModelRegistry, MODEL_NAME, sizeNote } from "../io/model_registry.ts";

/** A known model that is not on this machine; the message is one line naming the fetch command. */
export class ModelNotFetchedError extends Error {
  constructor(readonly model: string, readonly command: string, message: string) {
    super(message);
  }
}

/**
 * The checkpoint path `arg` stands for. A file of that name wins; an argument that looks like a model name
 * (lower-case letters, digits and -) and is in the registry is its fetched checkpoint, or a
 * ModelNotFetchedError when it has not been fetched; anything else is returned as it is (a file path, whose
 * absence the checkpoint reader reports).
 */
export async function resolveModelArgument(arg: string, cacheDir = defaultCacheDir()): Promise<string> {
  if (!MODEL_NAME.test(arg) || await entryExists(arg)) return arg;
  const entry = findFetchable(await loadModelRegistry(), arg);
  if (!entry) return arg;
  const path = await fetchedPath(entry, cacheDir);
  if (path) return path;
  const command = modelFetchCommand(entry);
  throw new ModelNotFetchedError(
    entry.name,
    command,
    `${entry.name} is not on this machine: fetch it with \`${command}\`${sizeNote(entry)}`,
  );
}
