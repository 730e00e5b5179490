// `deno task bench` (bench/main.ts): --help and bad options answer before any GPU work; the quick bench times
// PyTorch (Debian's python3-torch, /usr/bin/python3) beside every workload and writes its images/s and our
// ratio to the JSON; without torch it says how to install it and carries on. No wall-clock assertions: the
// numbers only have to exist and be positive.
//
// The PyTorch test needs python3-torch and fails, saying so, when it is missing; ALEXNET_TEST_WITHOUT=torch
// leaves it out on purpose (reported as ignored), as tests/helpers/needs.ts does for its needs.
import assert from "node:assert/strict";
import { parseBenchArgs, PARTS } from "../bench/cli.ts";

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

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function hasTorch(): Promise<boolean> {
  try {
    return (await new Deno.Command(PYTHON, { args: ["-c", "import torch"], stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const torchLeftOut = (Deno.env.get("ALEXNET_TEST_WITHOUT") ?? "").split(",").map((s) => s.trim())
  .includes("torch");

Deno.test("bench CLI: --help prints the usage and exits 0, before touching the GPU", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await bench([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: deno task bench/);
    assert.match(r.stdout, /--quick/);
    assert.match(r.stdout, /apt-get install -y python3-torch/);
    assert.doesNotMatch(r.stdout, /adapter:/);
  }
});

Deno.test("bench CLI: an unknown option, part or stray argument is a clear message and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /bench: Unknown option '--bogus'\nRun `deno task bench --help`/],
    [["--only", "gemm,nope"], /--only: unknown part "nope"; known: gemm, alexnet/],
    [["stray"], /Unexpected argument 'stray'/],
    [["--torch-threads", "0"], /--torch-threads: "0" is not a positive integer/],
  ];
  for (const [args, message] of cases) {
    const r = await bench(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "", "nothing ran");
  }
});

Deno.test("bench CLI: option parsing (parts, skips, repetitions)", () => {
  const all = parseBenchArgs([]);
  assert.deepEqual([...all.only], [...PARTS]);
  assert.equal(all.reps, 5);
  assert.equal(all.layers, true);
  assert.equal(all.python, PYTHON);
  assert.equal(all.torchThreads, navigator.hardwareConcurrency);
  const quick = parseBenchArgs([
    "--quick",
    "--skip-torch",
    "--skip-tfjs",
    "--no-layers",
    "--torch-threads",
    "3",
  ]);
  assert.equal(quick.reps, 1);
  assert.equal(quick.layers, false);
  assert.equal(quick.torchThreads, 3);
  assert.ok(!quick.only.has("torch") && !quick.only.has("tfjs") && quick.only.has("cifar"));
  assert.deepEqual([...parseBenchArgs(["--only", "cifar, torch"]).only], ["cifar", "torch"]);
});

Deno.test({
  name: "bench: the quick bench times PyTorch beside every workload, with images/s and our ratio in the JSON",
  ignore: torchLeftOut,
  fn: async () => {
    if (!(await hasTorch())) {
      throw new Error(
        `this test needs PyTorch for ${PYTHON}, which is missing: apt-get install -y python3-torch. ` +
          "To leave it out on purpose, set ALEXNET_TEST_WITHOUT=torch",
      );
    }
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
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(await Deno.readTextFile(out));
      assert.match(report.commit, /^[0-9a-f]{40}( \(modified\))?$/);
      assert.equal(typeof report.adapterName, "string");
      assert.ok(report.adapterName.startsWith(report.adapter.description), report.adapterName);
      assert.deepEqual(report.repetitions, { warmup: 1, timed: 1 });
      assert.equal(report.pytorch.ok, true, JSON.stringify(report.pytorch));
      assert.equal(report.pytorch.reps, 1);
      assert.equal(report.pytorch.threads, navigator.hardwareConcurrency);
      assert.deepEqual(Object.keys(report.pytorch.workloads).sort(), [...WORKLOAD_IDS].sort());
      for (const id of WORKLOAD_IDS) {
        const t = report.pytorch.workloads[id];
        assert.equal(t.ok, true, `${id}: ${JSON.stringify(t)}`);
        assert.ok(t.imagesPerSec > 0 && Number.isFinite(t.imagesPerSec), `${id}: ${t.imagesPerSec}`);
        assert.ok(t.oursImagesPerSec > 0, `${id}: ${t.oursImagesPerSec}`);
        assert.ok(
          Math.abs(t.oursOverPytorch - t.oursImagesPerSec / t.imagesPerSec) < 1e-9 * t.oursOverPytorch,
        );
        assert.equal(t.ms.length, 1);
        if (id.includes("train")) assert.ok(Number.isFinite(t.firstLoss), `${id}: loss ${t.firstLoss}`);
      }
      assert.deepEqual(report.comparison.map((c: { id: string }) => c.id), WORKLOAD_IDS);
      for (const c of report.comparison) {
        assert.ok(c.pytorchImagesPerSec > 0 && c.oursOverPytorch > 0, JSON.stringify(c));
        assert.equal(c.tfjsImagesPerSec, null);
      }
      // The table beside the JSON: every workload with PyTorch's images/s and the ratio.
      for (const c of report.comparison) {
        const label = c.workload.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        assert.match(r.stdout, new RegExp(`${label}\\s.*\\(ours \\d+\\.\\d\\dx\\)`));
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
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /PyTorch is not available .*install it with `apt-get install -y python3-torch`/);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.pytorch.ok, false);
    assert.equal(report.pytorch.install, "apt-get install -y python3-torch");
    assert.ok(report.cifar.size32.imagesPerSec > 0, "our own numbers are still there");
    assert.deepEqual(report.comparison.map((c: { pytorchImagesPerSec: null }) => c.pytorchImagesPerSec), [
      null,
      null,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
