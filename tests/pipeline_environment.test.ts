import { assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { collectEnvironment } from "../src/pipeline/environment.ts";
import { run } from "./helpers/run.ts";

Deno.test("provenance commit: an edited tracked file is '(modified)'; edits under the results folder are not", async () => {
  const root = await Deno.makeTempDir({ prefix: "env-git-" });
  try {
    const git = async (...args: string[]) => {
      const r = await run("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...args], { cwd: root });
      assertStrictEquals(r.code, 0, r.text);
    };
    await Deno.mkdir(join(root, "results", "p"), { recursive: true });
    await Deno.writeTextFile(join(root, "code.ts"), "1");
    await Deno.writeTextFile(join(root, "results", "p", "pipeline.lock.json"), "{}");
    await git("init", "-q");
    await git("add", ".");
    await git("commit", "-q", "-m", "start");
    const commit = async () => (await collectEnvironment(root, "adapter", join(root, "results"))).gitCommit;

    assertMatch(await commit(), /^[0-9a-f]{40}$/);
    // A run in progress rewrites its lockfile: the code is still the commit's.
    await Deno.writeTextFile(join(root, "results", "p", "pipeline.lock.json"), '{"running": true}');
    assertMatch(await commit(), /^[0-9a-f]{40}$/);
    await Deno.writeTextFile(join(root, "code.ts"), "2");
    assertMatch(await commit(), /^[0-9a-f]{40} \(modified\)$/);
    // Without a results folder inside the checkout every tracked change counts.
    await Deno.writeTextFile(join(root, "code.ts"), "1");
    assertMatch((await collectEnvironment(root, "adapter")).gitCommit, /^[0-9a-f]{40} \(modified\)$/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
