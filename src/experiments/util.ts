// Small helpers shared by the reproduce stage kinds.

import { sha256File } from "../data/index.ts";

/** sha-256 of a file, or "" when it does not exist (a stage that wrote nothing). */
export async function fileSha256(path: string): Promise<string> {
  try {
    return await sha256File(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

/** Percent with one decimal, for log lines. */
export const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
