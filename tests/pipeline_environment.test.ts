import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { collectEnvironment } from "../src/pipeline/environment.ts";
import { cpuModelOf, describeHost, formatHost, gpuModelsOf } from "../src/pipeline/host.ts";
import { lockfilePath, readLockfile } from "../src/pipeline/lockfile.ts";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { planPipeline } from "../src/pipeline/plan.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { runPipeline } from "../src/pipeline/runner.ts";
import type { StageKind } from "../src/pipeline/types.ts";
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

Deno.test("the host: the CPU model from /proc/cpuinfo, the GPU model from the NVIDIA driver where there is one", async () => {
  assertStrictEquals(
    cpuModelOf("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n"),
    "AMD EPYC 7B13 64-Core Processor",
  );
  assertStrictEquals(
    cpuModelOf("processor : 0\nBogoMIPS : 48.00\nHardware : BCM2835\nModel : Raspberry Pi 4\n"),
    "BCM2835",
  );
  assertStrictEquals(cpuModelOf("processor : 0\n"), undefined);
  assertStrictEquals(gpuModelsOf([]), undefined);
  assertStrictEquals(gpuModelsOf(["NVIDIA A100", "NVIDIA A100"]), "2x NVIDIA A100");
  assertStrictEquals(formatHost({ cpu: "AMD EPYC", cores: 2 }), "AMD EPYC, 2 cores");
  assertStrictEquals(
    formatHost({ cpu: "Intel Xeon", cores: 16, gpu: "NVIDIA H100" }),
    "Intel Xeon, 16 cores, GPU NVIDIA H100",
  );

  const host = await describeHost();
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  assertStrictEquals(host.cpu, cpuModelOf(cpuinfo) ?? host.cpu);
  assert(host.cpu.length > 0 && (host.cores ?? 0) >= 1);
  assertEquals(
    (await collectEnvironment(".", "adapter")).host,
    host,
    "provenance names the host beside the adapter",
  );
});

Deno.test("a stage that runs records the host beside the adapter in its lock entry; its hashes do not change", async () => {
  const root = await Deno.makeTempDir({ prefix: "env-host-" });
  try {
    const kind: StageKind = {
      name: "constant",
      description: "one number",
      params: {},
      run: () => Promise.resolve({ value: 1 }),
    };
    const registry = new StageKindRegistry([kind]);
    const text = "title: Host\nstages:\n  one: {kind: constant}\n";
    const plan = planPipeline(parsePipeline("pipelines/host.yaml", text, registry), registry, {
      preset: "cpu",
    });
    const results = join(root, "results");
    const environment = await collectEnvironment(root, "Test adapter");
    await runPipeline(plan, { resultsDir: results, projectRoot: root, environment, log: () => {} });
    const entry = (await readLockfile(lockfilePath(results, "host")))!.stages.one;
    assertEquals(entry.host, { adapter: "Test adapter", ...environment.host });
    // The same stage recorded on another machine: the same input and output hashes.
    await runPipeline(plan, {
      resultsDir: join(root, "elsewhere"),
      projectRoot: root,
      environment: { ...environment, adapter: "Other", host: { cpu: "Other CPU" } },
      log: () => {},
    });
    const other = (await readLockfile(lockfilePath(join(root, "elsewhere"), "host")))!.stages.one;
    assertStrictEquals(other.host?.cpu, "Other CPU");
    assertStrictEquals(other.inputHash, entry.inputHash);
    assertStrictEquals(other.outputHash, entry.outputHash);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
