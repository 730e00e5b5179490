// The library surface (mod.ts) is documented and publishable: `deno doc --lint` finds nothing (every export
// has JSDoc, no private type in a public signature), and deno.json names the package and its entry point.

import { assert, assertMatch, assertStrictEquals } from "@std/assert";
import { runDeno } from "./helpers/run.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

Deno.test("deno doc --lint mod.ts reports no errors", async () => {
  const { code, text } = await runDeno(["doc", "--lint", "mod.ts"], { env: { NO_COLOR: "1" }, cwd: ROOT });
  assertStrictEquals(code, 0, text);
  // Warnings from dependencies' declaration files are not ours; lint findings print as "error[...]".
  assert(!/error\[/.test(text), text);
});

Deno.test("deno.json names the package, its version and its entry point", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assertMatch(config.name, /^@[a-z0-9-]+\/[a-z0-9-]+$/);
  assertMatch(config.version, /^\d+\.\d+\.\d+$/);
  assertStrictEquals(config.exports, "./mod.ts");
  assert((await Deno.stat(`${ROOT}/mod.ts`)).isFile);
});
