// `deno task bench`: per-layer GFLOP/s and whole-model images/s on this machine's adapter, with TensorFlow.js
// (same CIFAR net, same adapter), PyTorch on the CPU (same CIFAR net and paper AlexNet, one and two
// towers) and ONNX Runtime Web on the same adapter (the same nets exported to ONNX, inference) as peers,
// side by side in one run. Writes bench/results/<date>.json; `deno task bench --help` lists
// the options.
//
// Convolutions run as the engine picks them (Winograd for stride-1 3x3/5x5 layers with enough channels); the
// "im2col" part reruns the headline cases alternately with every convolution forced to im2col + GEMM, so the
// algorithm's gain is measured side by side. GFLOP/s are "effective": the direct convolution's FLOPs over the
// time taken, whichever algorithm ran. Whole-model times are medians of 5 runs (1 with --quick) after a
// warm-up run; PyTorch's and ORT's are medians of as many runs after as many warm-ups (bench/torch_peer.py,
// bench/ort_peer.ts).

import { Gpu } from "../src/gpu/runtime.ts";
import { Network } from "../src/nn/network.ts";
import type { ConvAlgorithm } from "../src/nn/ops/conv2d.ts";
import { macsPerImage, type ModelSpec, resolveModel } from "../src/nn/spec.ts";
import { alexnet } from "../src/models/alexnet.ts";
import { cifarAlexnet } from "../src/models/cifar.ts";
import { buildModel, type ModelOptions } from "../src/models/index.ts";
import { softmax, softmaxCrossEntropy } from "../src/nn/ops/loss.ts";
import { benchGemm } from "./gemm.ts";
import { benchHeader, describeHeader } from "./header.ts";
import {
  comparisonRows,
  describeTorchFailure,
  formatComparison,
  runTorchPeer,
  SGD,
  type TorchPeerResult,
  type Workload,
} from "./peers.ts";
import { describeOrtFailure, type OrtPeerResult, runOrtPeer } from "./ort_peer.ts";
import { median, seededInput } from "./samples.ts";
import { type BenchArgs, parseBenchArgs, USAGE } from "./cli.ts";
import type { KernelTiming, LayerTiming } from "./layer_timing.ts";
import { UsageError } from "../src/util/args.ts";

let flags: BenchArgs;
try {
  flags = parseBenchArgs(Deno.args);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`bench: ${e.message}\nRun \`deno task bench --help\` for the options.`);
  Deno.exit(2);
}
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const only = flags.only;
const reps = flags.reps;
const projectRoot = decodeURIComponent(new URL("..", import.meta.url).pathname);

const gpu = await Gpu.create();
const header = await benchHeader(gpu.adapter, projectRoot, reps);
const report: Record<string, unknown> = { ...header };
for (const line of describeHeader(header)) console.log(line);

function randomInput(n: number, spec: ModelSpec) {
  const [c, h, w] = spec.input;
  return gpu.fromArray([n, c, h, w], seededInput(n * c * h * w));
}

function labelsTensor(n: number, classes: number) {
  const t = gpu.tensor([n], "labels");
  gpu.writeU32(t, Uint32Array.from({ length: n }, (_, i) => i % classes));
  return t;
}

/** One synchronised run of `fn`, wall-clock milliseconds. */
async function timeOnce(fn: () => void | Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  await gpu.sync();
  return performance.now() - t0;
}

/**
 * Median wall time of `fn` over `repeats` synchronised runs, after one warm-up that also compiles every
 * pipeline. The median, not the mean: other tenants of a shared CPU add time in bursts.
 */
async function timeIt(fn: () => void | Promise<void>, repeats = reps): Promise<number> {
  await timeOnce(fn);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await timeOnce(fn));
  return median(times);
}

/**
 * The same workload under two conv algorithms, run alternately (A, B, A, B, ...) so that a slow spell of a
 * shared machine hits both alike; medians of each.
 */
async function sideBySide(a: () => Promise<void>, b: () => Promise<void>, repeats = reps) {
  await timeOnce(a);
  await timeOnce(b);
  const ta: number[] = [], tb: number[] = [];
  for (let i = 0; i < repeats; i++) {
    ta.push(await timeOnce(a));
    tb.push(await timeOnce(b));
  }
  return { a: median(ta), b: median(tb), aRuns: ta, bRuns: tb };
}

/** GPU-timestamped time per layer (all its kernels) for one run of `fn`, and GFLOP/s where MACs are known. */
async function perLayer(spec: ModelSpec, n: number, fn: () => void, passes: number): Promise<LayerTiming[]> {
  if (!flags.layers || !gpu.startProfiling()) return [];
  fn();
  const prof = await gpu.stopProfiling();
  const resolved = resolveModel(spec);
  const macs = new Map(resolved.map((l) => ["name" in l.spec ? l.spec.name : "", l.macs]));
  const first = resolved.find((l) => l.params.length)?.spec;
  const firstName = first && "name" in first ? first.name : "";
  const byLayer = new Map<string, number>();
  const kernels = new Map<string, KernelTiming[]>();
  for (const [label, v] of prof) {
    const [layer, kernel] = label.includes(" | ") ? label.split(" | ") : ["other", label];
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + v.ms);
    kernels.set(layer, [...kernels.get(layer) ?? [], { kernel, ...v }]);
  }
  return [...byLayer].map(([layer, ms]) => {
    // A fused run ("conv1 + relu 2") does its first layer's multiplies.
    const name = layer.replace(/ (forward|backward)$/, "").replace(/ \+ .*$/, "");
    const m = macs.get(name);
    // Forward is one GEMM's worth of FLOPs; backward two (input and weight gradients), one for the first layer.
    const work = layer.endsWith("backward") && name !== firstName ? 2 : 1;
    return {
      layer,
      ms,
      gflops: m ? (2 * m * n * work * passes) / ms / 1e6 : null,
      ...(flags.kernels ? { kernels: kernels.get(layer) } : {}),
    };
  });
}

function printLayers(rows: LayerTiming[]) {
  for (const r of rows) {
    console.log(
      `    ${r.layer.padEnd(22)} ${r.ms.toFixed(1).padStart(9)} ms${
        r.gflops ? `  ${r.gflops.toFixed(2).padStart(6)} GFLOP/s` : ""
      }`,
    );
    for (const k of r.kernels ?? []) {
      console.log(
        `      ${k.kernel.padEnd(40)} ${k.ms.toFixed(1).padStart(9)} ms${
          k.count > 1 ? ` (${k.count}x)` : ""
        }`,
      );
    }
  }
}

async function forwardBench(spec: ModelSpec, n: number, label: string) {
  const net = new Network(gpu, spec);
  const x = randomInput(n, spec);
  const run = () => {
    const logits = net.forward(x, { training: false });
    logits.release();
  };
  const ms = await timeIt(run);
  const gflops = (2 * macsPerImage(spec) * n) / ms / 1e6;
  console.log(
    `  ${label}: ${ms.toFixed(0)} ms/batch, ${(n / ms * 1000).toFixed(2)} images/s, ${
      gflops.toFixed(2)
    } GFLOP/s`,
  );
  const layers = await perLayer(spec, n, run, 1);
  printLayers(layers);
  net.destroy();
  x.release();
  return { batch: n, msPerBatch: ms, imagesPerSec: (n / ms) * 1000, gflops, layers };
}

async function trainBench(spec: ModelSpec, n: number, label: string) {
  const net = new Network(gpu, spec);
  const x = randomInput(n, spec);
  const labels = labelsTensor(n, spec.classes);
  let step = 0;
  const record = () => {
    const logits = net.forward(x, { training: true, seed: 1, step: step++ });
    const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, spec.classes);
    net.backward(dlogits);
    net.sgdStep(SGD);
    gpu.release(dlogits, logits);
    return stats;
  };
  // Each step reads its loss back, as a training loop that logs does.
  const ms = await timeIt(async () => {
    const stats = record();
    await gpu.read(stats, 1);
    stats.release();
  });
  const gflops = (3 * 2 * macsPerImage(spec) * n) / ms / 1e6;
  console.log(
    `  ${label}: ${ms.toFixed(0)} ms/step, ${(n / ms * 1000).toFixed(1)} images/s, ~${
      gflops.toFixed(2)
    } GFLOP/s (3x forward FLOPs)`,
  );
  const layers = await perLayer(spec, n, () => record().release(), 1);
  printLayers(layers);
  net.destroy();
  gpu.release(x, labels);
  return { batch: n, msPerStep: ms, imagesPerSec: (n / ms) * 1000, gflops, layers };
}

/** The workloads the peers run beside us, shapes from the project's model definitions. */
const alexnet2 = alexnet({ classes: 1000 }), alexnet1 = alexnet({ classes: 1000, towers: 1 });
const WORKLOADS: Workload[] = [
  {
    id: "alexnet-forward16",
    label: "paper AlexNet (two towers) forward, batch 16",
    spec: alexnet2,
    batch: 16,
    mode: "forward",
  },
  {
    id: "alexnet-train16",
    label: "paper AlexNet (two towers) training step, batch 16",
    spec: alexnet2,
    batch: 16,
    mode: "train",
  },
  {
    id: "alexnet-one-tower-forward1",
    label: "one-tower AlexNet forward, batch 1",
    spec: alexnet1,
    batch: 1,
    mode: "forward",
  },
  {
    id: "alexnet-one-tower-forward16",
    label: "one-tower AlexNet forward, batch 16",
    spec: alexnet1,
    batch: 16,
    mode: "forward",
  },
  {
    id: "alexnet-one-tower-train16",
    label: "one-tower AlexNet training step, batch 16",
    spec: alexnet1,
    batch: 16,
    mode: "train",
  },
  ...[32, 24].map((size): Workload => ({
    id: `cifar${size}-train128`,
    label: `CIFAR net training step, batch 128, ${size}x${size}`,
    spec: cifarAlexnet({ inputSize: size }),
    batch: 128,
    mode: "train",
  })),
  {
    id: "cifar32-forward128",
    label: "CIFAR net forward, batch 128, 32x32",
    spec: cifarAlexnet({ inputSize: 32 }),
    batch: 128,
    mode: "forward",
  },
];
/**
 * Inference workloads timed only when the ort part runs (ours, ORT's and PyTorch's);
 * alexnet-one-tower-forward16 is timed anyway.
 */
const ORT_ONLY = new Set(["alexnet-one-tower-forward1", "cifar32-forward128"]);
/**
 * The nets the pipelines' `cpu` preset trains (batch and input as there), so the claims' CPU budget can be
 * read off the bench: the Imagenette ablations and Figure 3 (alexnet-mini), Figure 1, and the LRN page.
 */
const PIPELINE_WORKLOADS: Workload[] = [
  ["alexnet-mini", 55, 64, {}],
  ["alexnet-mini-one-tower", 55, 64, {}],
  ["fig1-four-layer", 32, 128, { activation: "relu" as const }],
  ["conv-local-13pct", 24, 128, {}],
].map(([name, size, batch, options]) => ({
  id: `${name}-train${batch}`,
  label: `${name} training step, batch ${batch}, ${size}x${size}`,
  spec: buildModel(name as string, { classes: 10, inputSize: size as number, ...(options as ModelOptions) }),
  batch: batch as number,
  mode: "train" as const,
}));
/** The paper's AlexNets, which the `alexnet` part times (taken before the pipelines' nets join the list). */
const ALEXNET_WORKLOADS = WORKLOADS.filter((w) => w.id.startsWith("alexnet") && !ORT_ONLY.has(w.id));
/** What ORT runs beside the `alexnet` part: the one-tower net's inference, batch 1 and 16. */
const ORT_ALEXNET_WORKLOADS = WORKLOADS.filter((w) => w.id.startsWith("alexnet-one-tower-forward"));
WORKLOADS.push(...PIPELINE_WORKLOADS);
const workload = (id: string) => WORKLOADS.find((w) => w.id === id)!;

/** Images/s per workload id: ours, TF.js's, PyTorch's and ORT's, for the side-by-side table. */
const oursById = new Map<string, number>(), tfjsById = new Map<string, number>();
const torchById = new Map<string, number>(), ortById = new Map<string, number>();
/** What a peer's results look like to the table: per workload, its images/s or why it could not run. */
type PeerResult =
  | {
    ok: true;
    workloads: Record<string, { ok: boolean; reason?: string; imagesPerSec?: number; [k: string]: unknown }>;
  }
  | { ok: false; reason: string };

/** A peer the bench runs beside us as a subprocess (PyTorch, ONNX Runtime Web), and what it gave so far. */
interface Peer<R extends PeerResult> {
  part: "torch" | "ort";
  /** The line above its results: what runs it. */
  heading: string;
  name: string;
  script: string;
  /** The key of ours over its images/s in each workload's result. */
  ratioKey: string;
  byId: Map<string, number>;
  run(ws: Workload[]): Promise<R>;
  describeFailure(r: Extract<R, { ok: false }>): string;
  /** Its version and settings, in each result line. */
  describeRun(r: Extract<R, { ok: true }>): string;
  /** Every workload's result so far; a failure to start at all is kept (and said) once. */
  report?: R;
}

const torchPeer: Peer<TorchPeerResult> = {
  part: "torch",
  heading: `PyTorch (${flags.python}, bench/torch_peer.py)`,
  name: "PyTorch",
  script: "bench/torch_peer.py",
  ratioKey: "oursOverPytorch",
  byId: torchById,
  run: (ws) => runTorchPeer(ws, { python: flags.python, threads: flags.torchThreads, reps }),
  describeFailure: describeTorchFailure,
  describeRun: (r) => `torch ${r.torch}, ${r.threads} threads`,
};
const ortPeer: Peer<OrtPeerResult> = {
  part: "ort",
  heading: "ONNX Runtime Web (WebGPU EP, bench/ort_peer.ts)",
  name: "ONNX Runtime Web",
  script: "bench/ort_peer.ts",
  ratioKey: "oursOverOrt",
  byId: ortById,
  run: (ws) => runOrtPeer(ws, { python: flags.python, reps }),
  describeFailure: describeOrtFailure,
  describeRun: (r) => `onnxruntime-web ${r.ort}, ${r.executionProvider}`,
};

/** A peer beside us for workloads we have just timed; one subprocess, a line per workload. */
async function peerBeside<R extends PeerResult>(peer: Peer<R>, ws: Workload[]) {
  if (!only.has(peer.part) || ws.length === 0) return;
  if (peer.report && !peer.report.ok) return; // said once already
  console.log(`  ${peer.heading}, the same ${ws.length} workloads:`);
  const r = await peer.run(ws);
  if (!r.ok) {
    console.log(`    ${peer.describeFailure(r as Extract<R, { ok: false }>)}`);
    const kept = peer.report;
    if (kept?.ok) { for (const w of ws) kept.workloads[w.id] = { ok: false, reason: r.reason }; }
    else peer.report = r;
    return;
  }
  peer.report ??= { ...r, workloads: {} };
  const report = peer.report as Extract<R, { ok: true }>;
  for (const w of ws) {
    const t = r.workloads[w.id] ?? { ok: false, reason: `no result from ${peer.script}` };
    const mine = oursById.get(w.id);
    if (t.ok && t.imagesPerSec && t.imagesPerSec > 0 && mine) {
      t.oursImagesPerSec = mine;
      t[peer.ratioKey] = mine / t.imagesPerSec;
      peer.byId.set(w.id, t.imagesPerSec);
      console.log(
        `    ${w.label}: ${t.imagesPerSec.toFixed(2)} images/s (${
          peer.describeRun(r as Extract<R, { ok: true }>)
        }${typeof t.setup === "string" ? `, ${t.setup}` : ""}) -> ours is ${
          (mine / t.imagesPerSec).toFixed(2)
        }x`,
      );
    } else {
      console.log(`    ${w.label}: ${peer.name} could not run it: ${t.reason ?? "no images/s"}`);
    }
    report.workloads[w.id] = { label: w.label, ...t };
  }
}

const torchBeside = (ws: Workload[]) => peerBeside(torchPeer, ws);
const ortBeside = (ws: Workload[]) => peerBeside(ortPeer, ws);

if (only.has("gemm")) {
  console.log("GEMM (register-blocked vec4 kernels, kernels/matmul.wgsl):");
  const rows = [];
  for (const layout of ["nn", "nt", "tn"] as const) {
    const r = await benchGemm(gpu, layout, 1024, 1024, 1024, reps);
    console.log(`  ${layout} 1024^3: ${r.ms.toFixed(1)} ms, ${r.gflops.toFixed(2)} GFLOP/s`);
    rows.push(r);
  }
  report.gemm = rows;
}

if (only.has("alexnet")) {
  for (const [spec, what] of [[alexnet2, "Paper AlexNet"], [alexnet1, "One-tower AlexNet"]] as const) {
    console.log(`\n${what} (${spec.description}), ${(macsPerImage(spec) / 1e9).toFixed(3)} GMAC/image:`);
    const key = spec === alexnet2 ? "alexnet" : "alexnetOneTower";
    const id = spec === alexnet2 ? "alexnet" : "alexnet-one-tower";
    if (spec === alexnet2) report.alexnetForward1 = await forwardBench(spec, 1, "forward, batch 1");
    if (spec === alexnet1 && only.has("ort")) {
      const forward1 = await forwardBench(spec, 1, "forward, batch 1");
      report.alexnetOneTowerForward1 = forward1;
      oursById.set("alexnet-one-tower-forward1", forward1.imagesPerSec);
    }
    const forward = await forwardBench(spec, 16, "forward, batch 16");
    const train = await trainBench(spec, 16, "training step, batch 16");
    report[`${key}Forward16`] = forward;
    report[`${key}Train16`] = train;
    oursById.set(`${id}-forward16`, forward.imagesPerSec);
    oursById.set(`${id}-train16`, train.imagesPerSec);
  }
  // PyTorch runs ORT's extra inference workload too, so each row has every peer.
  await torchBeside(
    only.has("ort") ? [...ALEXNET_WORKLOADS, workload("alexnet-one-tower-forward1")] : ALEXNET_WORKLOADS,
  );
  await ortBeside(ORT_ALEXNET_WORKLOADS);
}

if (only.has("infer")) {
  const spec = alexnet({ classes: 1000 });
  const net = new Network(gpu, spec);
  console.log("\nClassification latency, paper AlexNet, one image (227x227), logits -> softmax read back:");
  const out: Record<string, number> = {};
  for (const [label, n] of [["single crop", 1], ["ten crops", 10]] as const) {
    const x = randomInput(n, spec);
    const ms = await timeIt(async () => {
      const logits = net.forward(x, { training: false });
      const probs = softmax(gpu, logits, spec.classes);
      await gpu.read(probs);
      gpu.release(logits, probs);
    });
    console.log(`  ${label}: ${ms.toFixed(0)} ms per image`);
    out[label === "single crop" ? "singleCropMs" : "tenCropMs"] = ms;
    x.release();
  }
  net.destroy();
  report.inference = out;
}

const tfjsRuns: Record<string, unknown> = {};
async function tfjs(size: number): Promise<Record<string, unknown>> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./tfjs_cifar.ts", import.meta.url).pathname,
      "--size",
      String(size),
      "--steps",
      flags.quick ? "1" : "3",
      "--warmup",
      "1",
    ],
    stdout: "piped",
    stderr: "null",
  });
  const { stdout } = await cmd.output();
  const line = new TextDecoder().decode(stdout).trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, reason: `no JSON from bench/tfjs_cifar.ts: ${line.slice(0, 200)}` };
  }
}

if (only.has("cifar")) {
  const cifar: Record<string, unknown> = {};
  const ws: Workload[] = [];
  for (const size of [32, 24]) {
    const w = workload(`cifar${size}-train128`);
    console.log(`\nCIFAR-10 AlexNet-style net (${w.spec.description}):`);
    const ours = await trainBench(w.spec, w.batch, `training step, batch ${w.batch}, ${size}x${size}`);
    cifar[`size${size}`] = ours;
    oursById.set(w.id, ours.imagesPerSec);
    ws.push(w);
    if (only.has("tfjs")) {
      const t = await tfjs(size);
      tfjsRuns[`size${size}`] = t;
      if (t.ok) {
        const ratio = ours.imagesPerSec / (t.imagesPerSec as number);
        console.log(
          `  TF.js ${t.backend} on ${t.adapter}: ${
            (t.imagesPerSec as number).toFixed(2)
          } images/s -> ours is ${ratio.toFixed(1)}x`,
        );
        (t as Record<string, unknown>).oursOverTfjs = ratio;
        tfjsById.set(w.id, t.imagesPerSec as number);
      } else {
        console.log(`  TF.js could not run: ${t.reason}`);
      }
    }
  }
  if (only.has("ort")) {
    const w = workload("cifar32-forward128");
    console.log(`\nCIFAR-10 AlexNet-style net, inference (${w.spec.description}):`);
    const ours = await forwardBench(w.spec, w.batch, `forward, batch ${w.batch}, 32x32`);
    cifar.size32Forward128 = ours;
    oursById.set(w.id, ours.imagesPerSec);
  }
  report.cifar = cifar;
  if (only.has("tfjs")) report.tfjs = tfjsRuns;
  console.log("");
  await torchBeside(only.has("ort") ? [...ws, workload("cifar32-forward128")] : ws);
  await ortBeside([workload("cifar32-forward128")]);
}

if (only.has("pipelines")) {
  console.log("\nThe nets the pipelines' cpu preset trains:");
  const pipelines: Record<string, unknown> = {};
  for (const w of PIPELINE_WORKLOADS) {
    console.log(`\n${w.spec.name} (${w.spec.description}):`);
    const ours = await trainBench(w.spec, w.batch, `training step, batch ${w.batch}`);
    pipelines[w.id] = ours;
    oursById.set(w.id, ours.imagesPerSec);
  }
  report.pipelines = pipelines;
  console.log("");
  await torchBeside(PIPELINE_WORKLOADS);
}

if (only.has("im2col")) {
  console.log(
    "\nConvolution algorithm side by side (alternating runs, medians): the engine's choice (Winograd for stride-1 3x3/5x5 layers) vs every conv as im2col + GEMM:",
  );
  const cases = [
    { label: "paper AlexNet forward, batch 16", spec: alexnet({ classes: 1000 }), n: 16, train: false },
    {
      label: "CIFAR net training step, batch 128, 32x32",
      spec: cifarAlexnet({ inputSize: 32 }),
      n: 128,
      train: true,
    },
    {
      label: "alexnet-mini training step, batch 64, 55x55",
      spec: workload("alexnet-mini-train64").spec,
      n: 64,
      train: true,
    },
  ];
  const rows = [];
  for (const c of cases) {
    const x = randomInput(c.n, c.spec);
    const labels = labelsTensor(c.n, c.spec.classes);
    const workload = (convAlgorithm: ConvAlgorithm) => {
      const net = new Network(gpu, c.spec, 1, { convAlgorithm });
      const run = async () => {
        const logits = net.forward(x, { training: c.train, seed: 1, step: 0 });
        if (!c.train) return logits.release();
        const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, c.spec.classes);
        net.backward(dlogits);
        net.sgdStep(SGD);
        gpu.release(dlogits, logits);
        await gpu.read(stats, 1);
        stats.release();
      };
      return { net, run };
    };
    const auto = workload("auto"), im2col = workload("im2col");
    const r = await sideBySide(auto.run, im2col.run);
    const perSec = (ms: number) => (c.n / ms) * 1000;
    console.log(
      `  ${c.label}: ${perSec(r.a).toFixed(2)} images/s (Winograd) vs ${perSec(r.b).toFixed(2)} (im2col): ${
        (r.b / r.a).toFixed(2)
      }x`,
    );
    rows.push({
      case: c.label,
      batch: c.n,
      imagesPerSecWinograd: perSec(r.a),
      imagesPerSecIm2col: perSec(r.b),
      msWinograd: r.aRuns,
      msIm2col: r.bRuns,
    });
    auto.net.destroy();
    im2col.net.destroy();
    gpu.release(x, labels);
  }
  report.convAlgorithms = rows;
}

const torchReport = torchPeer.report, ortReport = ortPeer.report;
if (only.has("torch") && torchReport) report.pytorch = torchReport;
if (only.has("ort") && ortReport) report.ort = ortReport;
const comparison = comparisonRows(WORKLOADS, oursById, tfjsById, torchById, ortById);
if (comparison.length && (only.has("tfjs") || only.has("torch") || only.has("ort"))) {
  report.comparison = comparison;
  const pytorch = torchReport?.ok
    ? `${torchReport.torch} CPU, ${torchReport.threads} threads${
      torchReport.blas ? `, ${torchReport.blas}` : ""
    }`
    : "(not run)";
  const ort = ortReport?.ok
    ? `${ortReport.ort}, WebGPU EP, ${
      ortReport.adapter === gpu.adapter.description ? "same adapter" : ortReport.adapter
    }`
    : "(not run)";
  console.log(`\nSide by side, images/s (ours / peer), ours on ${gpu.adapter.description}:`);
  console.log(
    formatComparison(comparison, {
      tfjs: only.has("tfjs") ? "WebGPU, same adapter" : "(not run)",
      pytorch: only.has("torch") ? pytorch : "(not run)",
      ort: only.has("ort") ? ort : "(not run)",
    }),
  );
}

const out = flags.out ?? `bench/results/${new Date().toISOString().slice(0, 10)}.json`;
await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${out}`).pathname, { recursive: true });
await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
console.log(`\nwrote ${out}`);
gpu.destroy();
