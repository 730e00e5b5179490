import { join } from "@std/path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * The chart.js UMD bundle, read at generation time and inlined so a page opens offline. Resolved through the
 * import map (chart.js's main file sits next to the UMD build); falls back to ./node_modules for callers
 * running outside this project's import map.
 */
export async function chartJsSource(): Promise<string> {
  if (cached !== undefined) return cached;
  const candidates: string[] = [];
  try {
    candidates.push(fileURLToPath(new URL("./chart.umd.js", import.meta.resolve("chart.js"))));
  } catch {
    // not resolvable here; try the fallback below
  }
  candidates.push(join(Deno.cwd(), "node_modules/chart.js/dist/chart.umd.js"));
  for (const path of candidates) {
    try {
      cached = await Deno.readTextFile(path);
      return cached;
    } catch {
      // next candidate
    }
  }
  throw new Error(`chart.js UMD bundle not found (tried ${candidates.join(", ")}); run \`deno install\``);
}
