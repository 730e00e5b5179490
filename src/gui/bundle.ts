// Builds the GUI's browser bundle (src/gui/app.ts and the TypeScript core it imports) with `deno bundle`.
// Node-only imports of the shared code are mapped to browser shims through a generated import map, so the
// core files run unchanged. Output goes to the cache folder (gitignored), never into the source tree.

import { defaultCacheDir } from "../data/util.ts";

export interface GuiBundle {
  code: string;
  /** The last build kept on disk for inspection. */
  path: string;
  ms: number;
}

const ENTRY = new URL("./app.ts", import.meta.url);
const SHIMS: Record<string, URL> = {
  "imagescript": new URL("./shims/imagescript.ts", import.meta.url),
  "node:crypto": new URL("./shims/node_crypto.ts", import.meta.url),
};

export async function buildGuiBundle(cacheDir = `${defaultCacheDir()}/gui`): Promise<GuiBundle> {
  const t0 = performance.now();
  await Deno.mkdir(cacheDir, { recursive: true });
  // A private build folder: servers started in parallel (tests) must not read each other's half-written files.
  const work = await Deno.makeTempDir({ dir: cacheDir, prefix: "build-" });
  try {
    const importMap = `${work}/import_map.json`;
    const imports = Object.fromEntries(Object.entries(SHIMS).map(([k, v]) => [k, v.href]));
    await Deno.writeTextFile(importMap, JSON.stringify({ imports }, null, 2));
    const out = `${work}/app.js`;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--no-config",
        "--import-map",
        importMap,
        "--platform",
        "browser",
        "--format",
        "esm",
        "--output",
        out,
        decodeURIComponent(ENTRY.pathname),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`deno bundle of the GUI failed (exit ${code}):\n${new TextDecoder().decode(stderr)}`);
    }
    const text = await Deno.readTextFile(out);
    const kept = `${cacheDir}/app.js`;
    await Deno.rename(out, kept);
    return { code: text, path: kept, ms: performance.now() - t0 };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
