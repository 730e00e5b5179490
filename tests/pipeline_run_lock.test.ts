import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { acquireRunLock, describeTakeover, RUN_LOCK_FILE, RunLockError } from "../src/pipeline/run_lock.ts";
import { runDeno } from "./helpers/run.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("a second lock on the same results folder is refused, naming the holder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run-lock-" });
  const first = await acquireRunLock(dir, ["a"]);
  const error = await acquireRunLock(dir, ["b"]).catch((e) => e);
  assert(error instanceof RunLockError);
  assertMatch(error.message, new RegExp(`pid ${Deno.pid} on ${Deno.hostname()}, started .*pipelines a`));
  await first.release();
  const again = await acquireRunLock(dir, ["b"]);
  assertStrictEquals(again.tookOver, undefined);
  await again.release();
  await assertRejects(() => Deno.stat(join(dir, RUN_LOCK_FILE)), Deno.errors.NotFound);
});

Deno.test("a lock left by a process that is gone is taken over with a message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run-lock-" });
  // A pid above Linux's maximum (4194304) cannot be alive.
  const dead = {
    pid: 9_999_999,
    host: Deno.hostname(),
    startedAt: "2026-01-01T00:00:00.000Z",
    pipelines: ["x"],
  };
  await Deno.writeTextFile(join(dir, RUN_LOCK_FILE), JSON.stringify(dead));
  const lock = await acquireRunLock(dir, ["y"]);
  assertMatch(describeTakeover(lock)!, /stale lock .*pid 9999999/);
  assertStrictEquals(JSON.parse(await Deno.readTextFile(join(dir, RUN_LOCK_FILE))).pid, Deno.pid);
  await lock.release();
});

Deno.test("deno task reproduce refuses at once while another run holds the results folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run-lock-" });
  // The holder: a live process with the lock, standing in for a long run.
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { acquireRunLock } from "${ROOT}src/pipeline/run_lock.ts";
       await acquireRunLock(${JSON.stringify(dir)}, ["lrn-cifar"]); console.log("locked");
       await new Promise((r) => setTimeout(r, 60000));`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = holder.stdout.getReader();
    const { value } = await reader.read();
    assertStrictEquals(new TextDecoder().decode(value).trim(), "locked");
    const { code, text } = await runDeno(
      ["run", "-A", "src/cli/reproduce.ts", "dropout", "--preset", "smoke", "--results", dir],
      { cwd: ROOT },
    );
    assertStrictEquals(code, 3, text);
    assertMatch(text, new RegExp(`another run holds this results folder \\(pid ${holder.pid} on `));
    assertMatch(text, /pipelines lrn-cifar/);
    // Nothing was written for the refused run.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [RUN_LOCK_FILE]);
    reader.releaseLock();
  } finally {
    holder.kill();
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
  }
});
