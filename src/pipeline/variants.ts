// Presets side by side. A results folder holds the records of one configuration, its home preset without
// `--set` (the committed `cpu` results); any other preset, or any `--set`, gets a folder of its own under
// `_presets/`, so checking the machinery with `--preset smoke` or trying `--set train.epochs=20` never
// overwrites the records of hours of training. Stages those runs share with the home folder are not rerun:
// the run index (run_index.ts) reuses them across folders.

import { join } from "@std/path";
import { canonicalJson, sha256 } from "./hash.ts";

/** Where the folders of other configurations live; no pipeline can be called so (names start with a-z). */
export const VARIANTS_DIR = "_presets";

/** The preset whose results live in the results folder itself, unless the CLI is told otherwise. */
export const DEFAULT_HOME_PRESET = "cpu";

/**
 * The folder name of a configuration, or undefined for the home one: the preset's name, with a digest of the
 * `--set` overrides after it when there are any (`cpu+set-1a2b3c4d`). The same overrides in any order (the
 * last of a repeated key winning, as in planning) give the same folder.
 */
export function variantName(
  preset: string,
  sets: readonly { key: string; value: unknown }[],
  homePreset: string,
): string | undefined {
  if (sets.length === 0) return preset === homePreset ? undefined : preset;
  const overrides = Object.fromEntries(sets.map((set) => [set.key, set.value]));
  return `${preset}+set-${sha256(canonicalJson(overrides)).slice(0, 8)}`;
}

/** The results folder a configuration's records and pages go to. */
export function variantResultsDir(root: string, variant: string | undefined): string {
  return variant === undefined ? root : join(root, VARIANTS_DIR, variant);
}

/** Every configuration's folder under a results folder: the folder itself first, then `_presets/*` sorted. */
export async function variantFolders(root: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(root, VARIANTS_DIR))) {
      if (entry.isDirectory) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return [root, ...names.sort().map((name) => join(root, VARIANTS_DIR, name))];
}
