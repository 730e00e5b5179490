// A stage's outputs on disk: outputs.json and the files it lists, and the hash downstream stages are keyed by.

import { isAbsolute, join, normalize } from "@std/path";
import { hashFile, sha256 } from "./hash.ts";
import { DamagedRecordError, isObject, isStringMap, readJsonRecord } from "./records.ts";
import type { StageOutputs } from "./types.ts";

export const OUTPUTS_FILE = "outputs.json";

/** JSON with NaN/Infinity kept as strings: a diverged loss must stay visible rather than turn into null. */
export function serializeOutputs(outputs: StageOutputs): string {
  return JSON.stringify(
    outputs,
    (_key, value) => typeof value === "number" && !Number.isFinite(value) ? String(value) : value,
    2,
  ) + "\n";
}

/**
 * Hash of outputs.json plus the content of every file it lists under `files` (in outDir) and `published`
 * (in the project root).
 */
export async function hashOutputs(
  outDir: string,
  outputsText: string,
  outputs: StageOutputs,
  projectRoot: string,
): Promise<string> {
  const parts = [outputsText];
  const lists = [["files", outDir, outputs.files], ["published", projectRoot, outputs.published]] as const;
  for (const [list, base, entries] of lists) {
    for (const [name, file] of Object.entries(entries ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      let hash: string;
      try {
        hash = await hashFile(join(base, file));
      } catch (error) {
        throw new Error(
          `outputs.${list}.${name}: cannot read ${file} in ${base}: ${(error as Error).message}`,
        );
      }
      // Kept as before for `files`, so existing output hashes stay valid.
      parts.push(list === "files" ? `\0${name}\0${file}\0${hash}` : `\0published\0${name}\0${file}\0${hash}`);
    }
  }
  return sha256(parts.join(""));
}

export function checkOutputFiles(outputs: StageOutputs): void {
  if (typeof outputs !== "object" || outputs === null || Array.isArray(outputs)) {
    throw new Error("a stage must return a JSON object of outputs");
  }
  for (const list of ["files", "published"] as const) {
    for (const [name, file] of Object.entries(outputs[list] ?? {})) {
      if (typeof file !== "string" || isAbsolute(file) || normalize(file).startsWith("..")) {
        const base = list === "files" ? "the stage's outDir" : "the project root";
        throw new Error(`outputs.${list}.${name} must be a path relative to ${base}, got ${file}`);
      }
    }
  }
}

/**
 * A stage's stored outputs.json (its text, which the output hash covers, and its value), or undefined when
 * there is none. Throws DamagedRecordError when it is not JSON or not a stage's outputs.
 */
export async function readStoredOutputs(
  path: string,
): Promise<{ text: string; outputs: StageOutputs } | undefined> {
  const record = await readJsonRecord(path);
  if (!record) return undefined;
  const outputs = record.value;
  if (!isObject(outputs)) throw new DamagedRecordError(path, "not a stage's outputs (not a JSON object)");
  for (const list of ["files", "published"] as const) {
    const files = (outputs as StageOutputs)[list];
    if (files !== undefined && !isStringMap(files)) {
      throw new DamagedRecordError(path, `${list} is not an object of file names`);
    }
  }
  return { text: record.text, outputs: outputs as StageOutputs };
}
