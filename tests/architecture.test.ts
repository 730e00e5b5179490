// Dependency rules of the source tree, checked on the import statements themselves.

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";

const SRC = new URL("../src/", import.meta.url).pathname;

async function importsOf(dir: string): Promise<{ file: string; spec: string }[]> {
  const out: { file: string; spec: string }[] = [];
  for await (const entry of Deno.readDir(join(SRC, dir))) {
    const file = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await importsOf(file));
    else if (entry.name.endsWith(".ts")) {
      const text = await Deno.readTextFile(join(SRC, file));
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g)) {
        out.push({ file, spec: m[1] });
      }
    }
  }
  return out;
}

Deno.test("the pipeline engine imports only itself, src/util and generic packages (it knows no AlexNet)", async () => {
  const imports = await importsOf("pipeline");
  assert(imports.some(({ spec }) => spec === "../util/args.ts"), "the import scan sees multi-line imports");
  const bad = imports.filter(({ spec }) =>
    !(spec.startsWith("./") || spec.startsWith("../util/") ||
      ["@std/path", "yaml", "node:crypto"].includes(spec))
  );
  assertEquals(bad, []);
});

Deno.test("production code does not import the float64 reference (src/reference is the tests' oracle)", async () => {
  const production = [
    "cli",
    "classify",
    "gui",
    "train",
    "models",
    "nn",
    "gpu",
    "data",
    "io",
    "pipeline",
    "experiments",
  ];
  const bad = [];
  for (const dir of production) {
    bad.push(...(await importsOf(dir)).filter(({ spec }) => /(^|\/)reference\//.test(spec)));
  }
  assertEquals(bad, []);
});

Deno.test("src/report renders pages and imports neither the engine nor the experiments", async () => {
  const bad = (await importsOf("report")).filter(({ spec }) => /pipeline\/|experiments\//.test(spec));
  assertEquals(bad, []);
});
