// `deno task bench` (bench/main.ts): --help and bad options answer before any GPU work; the quick bench times
// PyTorch (Debian's python3-torch, /usr/bin/python3) beside every workload and writes its images/s and our
// ratio to the JSON; without torch it says how to install it and carries on. No wall-clock assertions: the
// numbers only have to exist and be positive.
//
// The PyTorch test needs python3-torch and fails, saying so, when it is missing; ALEXNET_TEST_WITHOUT=torch
// leaves it out on purpose (reported as ignored), as tests/helpers/needs.ts does for its needs.
import { leftOut, requireTorch } from "./helpers/needs.ts";
import { assert, assertEquals, assertMatch, assertNotMatch, assertStrictEquals } from "@std/assert";
import { parseBenchArgs, PARTS } from "../bench/cli.ts";
import { runTorchPeer } from "../bench/peers.ts";
import { buildModel } from "../src/models/index.ts";
import { runDeno, type RunResult } from "./helpers/run.ts";

const BENCH = decodeURIComponent(new URL("../bench/main.ts", import.meta.url).pathname);
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
const PYTHON = "/usr/bin/python3";

/** The workloads the PyTorch peer runs beside ours (bench/main.ts WORKLOADS). */
const WORKLOAD_IDS = [
  "alexnet-forward16",
  "alexnet-train16",
  "alexnet-one-tower-forward16",
  "alexnet-one-tower-train16",
  "cifar32-train128",
  "cifar24-train128",
];

function bench(args: string[]): Promise<RunResult> {
  return runDeno(["run", "-A", BENCH, ...args], { cwd: ROOT });
}

Deno.test("bench CLI: --help prints the usage and exits 0, before touching the GPU", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await bench([flag]);
    assertStrictEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^Usage: deno task bench/);
    assertMatch(r.stdout, /--quick/);
    assertMatch(r.stdout, /apt-get install -y\s+python3-torch libopenblas0-pthread/);
    assertNotMatch(r.stdout, /adapter:/);
  }
});

Deno.test("bench CLI: an unknown option, part or stray argument is a clear message and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /bench: unknown option --bogus\nRun `deno task bench --help`/],
    [["--only", "gemm,nope"], /--only: unknown part "nope"; known: gemm, alexnet/],
    [["stray"], /unexpected argument "stray"/],
    [["--torch-threads", "0"], /--torch-threads: "0" is not a positive integer/],
  ];
  for (const [args, message] of cases) {
    const r = await bench(args);
    assertStrictEquals(r.code, 2, `${args.join(" ")}: ${r.text}`);
    assertMatch(r.stderr, message);
    assertStrictEquals(r.stdout, "", "nothing ran");
  }
});

Deno.test("bench CLI: option parsing (parts, skips, repetitions)", () => {
  const all = parseBenchArgs([]);
  assertEquals([...all.only], [...PARTS]);
  assertStrictEquals(all.reps, 5);
  assertStrictEquals(all.layers, true);
  assertStrictEquals(all.python, PYTHON);
  assertStrictEquals(all.torchThreads, navigator.hardwareConcurrency);
  const quick = parseBenchArgs([
    "--quick",
    "--skip-torch",
    "--skip-tfjs",
    "--no-layers",
    "--torch-threads",
    "3",
  ]);
  assertStrictEquals(quick.reps, 1);
  assertStrictEquals(quick.layers, false);
  assertStrictEquals(quick.torchThreads, 3);
  assert(!quick.only.has("torch") && !quick.only.has("tfjs") && quick.only.has("cifar"));
  assertEquals([...parseBenchArgs(["--only", "cifar, torch"]).only], ["cifar", "torch"]);
});

Deno.test({
  name: "bench: the quick bench times PyTorch beside every workload, with images/s and our ratio in the JSON",
  ignore: leftOut("torch"),
  fn: async () => {
    requireTorch(PYTHON);
    const dir = await Deno.makeTempDir({ prefix: "bench-cli-" });
    try {
      const out = `${dir}/bench.json`;
      const r = await bench([
        "--quick",
        "--no-layers",
        "--skip-tfjs",
        "--only",
        "alexnet,cifar,torch",
        "--out",
        out,
      ]);
      assertStrictEquals(r.code, 0, r.text);
      const report = JSON.parse(await Deno.readTextFile(out));
      assertMatch(report.commit, /^[0-9a-f]{40}( \(modified\))?$/);
      assertStrictEquals(typeof report.adapterName, "string");
      assert(report.adapterName.startsWith(report.adapter.description), report.adapterName);
      assertEquals(report.repetitions, { warmup: 1, timed: 1 });
      assertStrictEquals(report.pytorch.ok, true, JSON.stringify(report.pytorch));
      assertStrictEquals(report.pytorch.reps, 1);
      assertStrictEquals(report.pytorch.threads, navigator.hardwareConcurrency);
      assertEquals(Object.keys(report.pytorch.workloads).sort(), [...WORKLOAD_IDS].sort());
      for (const id of WORKLOAD_IDS) {
        const t = report.pytorch.workloads[id];
        assertStrictEquals(t.ok, true, `${id}: ${JSON.stringify(t)}`);
        assert(t.imagesPerSec > 0 && Number.isFinite(t.imagesPerSec), `${id}: ${t.imagesPerSec}`);
        assert(t.oursImagesPerSec > 0, `${id}: ${t.oursImagesPerSec}`);
        assert(
          Math.abs(t.oursOverPytorch - t.oursImagesPerSec / t.imagesPerSec) < 1e-9 * t.oursOverPytorch,
        );
        assertStrictEquals(t.ms.length, 1);
        if (id.includes("train")) assert(Number.isFinite(t.firstLoss), `${id}: loss ${t.firstLoss}`);
      }
      assertEquals(report.comparison.map((c: { id: string }) => c.id), WORKLOAD_IDS);
      for (const c of report.comparison) {
        assert(c.pytorchImagesPerSec > 0 && c.oursOverPytorch > 0, JSON.stringify(c));
        assertStrictEquals(c.tfjsImagesPerSec, null);
      }
      // The table beside the JSON: every workload with PyTorch's images/s and the ratio.
      for (const c of report.comparison) {
        const label = c.workload.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        assertMatch(r.stdout, new RegExp(`${label}\\s.*\\(ours \\d+\\.\\d\\dx\\)`));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("bench: without torch the bench says how to install it, and carries on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-cli-" });
  try {
    const out = `${dir}/bench.json`;
    const r = await bench([
      "--quick",
      "--no-layers",
      "--only",
      "cifar,torch",
      "--python",
      `${dir}/no-such-python3`,
      "--out",
      out,
    ]);
    assertStrictEquals(r.code, 0, r.text);
    assertMatch(
      r.stdout,
      /PyTorch is not available .*install it with `apt-get install -y python3-torch libopenblas0-pthread`/,
    );
    const report = JSON.parse(await Deno.readTextFile(out));
    assertStrictEquals(report.pytorch.ok, false);
    assertStrictEquals(report.pytorch.install, "apt-get install -y python3-torch libopenblas0-pthread");
    assert(report.cifar.size32.imagesPerSec > 0, "our own numbers are still there");
    assertEquals(report.comparison.map((c: { pytorchImagesPerSec: null }) => c.pytorchImagesPerSec), [
      null,
      null,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench: a net PyTorch has no module for is left out of the peer run with the reason, not a crash", async () => {
  const local = buildModel("conv-local-13pct", { classes: 10, inputSize: 24 });
  const r = await runTorchPeer(
    [{ id: "local", label: "conv-local-13pct", spec: local, batch: 2, mode: "train" }],
    { python: "/nonexistent/python3", threads: 1, reps: 1 },
  );
  // Nothing PyTorch could run was left, so Python is not even started.
  assertStrictEquals(r.ok, false);
  assertMatch((r as { reason: string }).reason, /locally connected/);
});
