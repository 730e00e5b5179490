// ONNX Runtime Web with its WebGPU execution provider as a peer in `deno task bench`: the PyTorch peer's nets
// (torchModuleSource of the very specs we run) exported to ONNX by bench/onnx_export.py, then timed for
// inference by onnxruntime-web on the same WebGPU adapter as ours.
//
// Two halves: runOrtPeer (imported by bench/main.ts) exports what the cache lacks and starts this file as a
// subprocess, `deno run -A bench/ort_peer.ts CONFIG.json`, which times the sessions and prints ONE JSON line
// on stdout (library chatter goes to stderr). A process of its own, as TF.js has: ORT's wasm heap and WebGPU
// device stay out of the bench's process, and a crash there is a failed peer, not a failed bench.
//
// Under Deno (checked with onnxruntime-web 1.30.0, Deno 2.9, lavapipe):
// - `onnxruntime-web/webgpu` resolves to dist/ort.webgpu.bundle.min.mjs (the package's "." entry would pick
//   its Node build under Deno's "node" condition). That bundle is ORT's native WebGPU EP compiled to wasm; it
//   finds its .wasm beside itself through import.meta.url, a file: URL Deno's fetch reads, so no wasm path
//   has to be set.
// - env.wasm.numThreads = 1: Deno has no `self.crossOriginIsolated`, so ORT would pick 1 anyway; set here so
//   the run does not hang on that detection. Every node runs on the WebGPU EP (see disable_cpu_ep_fallback
//   below), so wasm threads would only compete with llvmpipe's own threads for the cores.
// - The adapter is requested here (navigator.gpu, as ORT would) and handed to ORT in env.webgpu.adapter, so
//   the report names the adapter ORT actually ran on.

import type * as Ort from "onnxruntime-web/webgpu";
import { describeAdapter } from "../src/gpu/device.ts";
import { torchModuleSource } from "../src/io/torchvision.ts";
import { TORCH_INSTALL, type Workload } from "./peers.ts";
import { median, seededInput } from "./samples.ts";
import { sha256Hex } from "../src/data/util.ts";

/** The onnxruntime-web deno.json pins (imports: "onnxruntime-web"). */
export const ORT_VERSION = "1.30.0";
export const ORT_INSTALL = `deno add npm:onnxruntime-web@${ORT_VERSION}`;
/** ONNX opset of the exported nets (torch 1.13 exports up to 17; 13 has every op these nets need). */
export const ONNX_OPSET = 13;
/** Where exported nets are kept between runs (ignored by git), relative to the project root. */
export const ONNX_CACHE_DIR = ".cache/bench-onnx";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
const EXPORT_SCRIPT = decodeURIComponent(new URL("./onnx_export.py", import.meta.url).pathname);
const SELF = decodeURIComponent(new URL("./ort_peer.ts", import.meta.url).pathname);

export interface OrtWorkloadResult {
  ok: boolean;
  reason?: string;
  batch?: number;
  msMedian?: number;
  ms?: number[];
  imagesPerSec?: number;
  /** Session creation (model parse, weights to the GPU), ms: not part of the timed runs. */
  sessionMs?: number;
  /** The exported net the session ran. */
  onnx?: string;
  /** Ours over ORT's images/s for the same workload, set by the bench. */
  oursImagesPerSec?: number;
  oursOverOrt?: number;
  [key: string]: unknown;
}

export type OrtPeerResult =
  | {
    ok: true;
    ort: string;
    executionProvider: "webgpu";
    /** Always "disabled": a net with a node the WebGPU EP cannot run fails instead of running partly on wasm. */
    cpuEpFallback: "disabled";
    adapter: string;
    numThreads: number;
    warmup: number;
    reps: number;
    opset: number;
    workloads: Record<string, OrtWorkloadResult>;
    [key: string]: unknown;
  }
  | { ok: false; reason: string; missing?: "onnxruntime-web" | "torch" | "webgpu"; install?: string };

/** What the timing subprocess is given: the exported files, their shapes and the repetitions. */
export interface OrtRunConfig {
  warmup: number;
  reps: number;
  workloads: { id: string; onnx: string; input: number[]; batch: number }[];
}

const decoder = new TextDecoder();
const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * The cache file of a net's export: `<dir>/<net name>-<key>.onnx`, the key a hash of everything the file
 * depends on (the module source, the input shape, the opset and the export script's own text). Not the batch:
 * the export leaves the batch dimension free and each session fixes it (freeDimensionOverrides), so batch 1
 * and 16 share one file.
 */
export async function onnxCachePath(
  o: { name: string; module: string; input: number[]; opset: number; exporter: string; dir: string },
): Promise<string> {
  const key = await sha256Hex(JSON.stringify([o.module, o.input, o.opset, o.exporter]));
  return `${o.dir}/${o.name.replace(/[^A-Za-z0-9_.-]/g, "_")}-${key.slice(0, 16)}.onnx`;
}

/** The JSON object on the last line of a peer's stdout, or undefined. */
export function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    const v = JSON.parse(line);
    return v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Exports (unless cached) and times `workloads` in ONNX Runtime Web on WebGPU: one warm-up and `reps` timed
 * runs each, medians. Forward workloads only; a training step is left out with its reason. Never throws: a
 * missing torch (the export), package or adapter comes back as {ok: false, reason, missing, install}.
 */
export async function runOrtPeer(
  workloads: Workload[],
  o: { python: string; reps: number; warmup?: number; cacheDir?: string },
): Promise<OrtPeerResult> {
  const skipped: Record<string, OrtWorkloadResult> = {};
  const wanted: { w: Workload; module: string; onnx: string }[] = [];
  const dir = o.cacheDir ?? `${ROOT}${ONNX_CACHE_DIR}`;
  let exporter: string;
  try {
    exporter = await Deno.readTextFile(EXPORT_SCRIPT);
  } catch (e) {
    return { ok: false, reason: `bench/onnx_export.py: ${errorText(e)}` };
  }
  for (const w of workloads) {
    if (w.mode !== "forward") {
      skipped[w.id] = { ok: false, reason: "the ONNX Runtime Web peer times inference only" };
      continue;
    }
    try {
      const module = torchModuleSource(w.spec);
      const onnx = await onnxCachePath({
        name: w.spec.name,
        module,
        input: w.spec.input,
        opset: ONNX_OPSET,
        exporter,
        dir,
      });
      wanted.push({ w, module, onnx });
    } catch (e) {
      skipped[w.id] = { ok: false, reason: (e as Error).message };
    }
  }
  if (wanted.length === 0) {
    return { ok: false, reason: Object.values(skipped).map((s) => s.reason).join("; ") || "no workloads" };
  }

  // Export what the cache lacks, one file per net (batch 1 and 16 of a net share it).
  const exists = async (p: string) => await Deno.stat(p).then(() => true, () => false);
  const toExport = new Map<string, { id: string; module: string; input: number[]; batch: number }>();
  for (const { w, module, onnx } of wanted) {
    if (!toExport.has(onnx) && !(await exists(onnx))) {
      toExport.set(onnx, { id: w.id, module, input: w.spec.input, batch: w.batch });
    }
  }
  if (toExport.size) {
    const exported = await exportOnnx(
      [...toExport].map(([onnx, x]) => ({ ...x, path: onnx })),
      o.python,
    );
    if (!exported.ok) return exported;
    for (const { w, onnx } of wanted) {
      const x = toExport.get(onnx);
      const r = x && exported.workloads[x.id];
      if (r && !r.ok) skipped[w.id] = { ok: false, reason: `ONNX export failed: ${r.reason}` };
    }
  }
  const runnable = wanted.filter(({ w }) => !skipped[w.id]);
  if (runnable.length === 0) {
    return { ok: false, reason: Object.values(skipped).map((s) => s.reason).join("; ") };
  }

  const tmp = await Deno.makeTempDir({ prefix: "bench-ort-" });
  try {
    const config: OrtRunConfig = {
      warmup: o.warmup ?? 1,
      reps: o.reps,
      workloads: runnable.map(({ w, onnx }) => ({ id: w.id, onnx, input: w.spec.input, batch: w.batch })),
    };
    await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify(config));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SELF, `${tmp}/config.json`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const result = lastJsonLine(decoder.decode(out.stdout)) as OrtPeerResult | undefined;
    if (!result) {
      const err = decoder.decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return { ok: false, reason: `no JSON from bench/ort_peer.ts (exit ${out.code}): ${err.slice(0, 300)}` };
    }
    if (!result.ok && result.missing === "onnxruntime-web") result.install = ORT_INSTALL;
    if (result.ok) Object.assign(result.workloads, skipped);
    return result;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** bench/onnx_export.py over `nets`; a missing Python or torch is {ok: false} with the torch install line. */
async function exportOnnx(
  nets: { id: string; module: string; input: number[]; batch: number; path: string }[],
  python: string,
): Promise<
  | { ok: true; workloads: Record<string, { ok: boolean; reason?: string }> }
  | Extract<OrtPeerResult, { ok: false }>
> {
  const tmp = await Deno.makeTempDir({ prefix: "bench-onnx-export-" });
  try {
    await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify({ opset: ONNX_OPSET, workloads: nets }));
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(python, {
        args: [EXPORT_SCRIPT, `${tmp}/config.json`],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
      return {
        ok: false,
        reason: `${python}: ${why} (the nets are exported to ONNX by PyTorch)`,
        missing: "torch",
        install: TORCH_INSTALL,
      };
    }
    const r = lastJsonLine(decoder.decode(out.stdout));
    if (!r) {
      const err = decoder.decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return {
        ok: false,
        reason: `no JSON from bench/onnx_export.py (exit ${out.code}): ${err.slice(0, 300)}`,
      };
    }
    if (!r.ok) {
      const missing = r.missing === "torch" ? { missing: "torch" as const, install: TORCH_INSTALL } : {};
      return { ok: false, reason: `ONNX export: ${r.reason}`, ...missing };
    }
    return { ok: true, workloads: r.workloads as Record<string, { ok: boolean; reason?: string }> };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** An ORT peer that could not run, as one console line (with the install command when something is missing). */
export function describeOrtFailure(r: Extract<OrtPeerResult, { ok: false }>): string {
  return r.install
    ? `ONNX Runtime Web is not available (${r.reason}); to time it beside ours, install with \`${r.install}\``
    : `ONNX Runtime Web could not run: ${r.reason}`;
}

type OrtModule = typeof Ort;

/**
 * Imports onnxruntime-web's WebGPU build; a package that is not installed is {ok: false} with the install
 * line. `load` is the import (a parameter so the failure can be exercised without uninstalling anything).
 */
export async function loadOrt(
  load: () => Promise<OrtModule> = () => import("onnxruntime-web/webgpu"),
): Promise<{ ok: true; ort: OrtModule } | Extract<OrtPeerResult, { ok: false }>> {
  try {
    return { ok: true, ort: await load() };
  } catch (e) {
    return {
      ok: false,
      reason: `onnxruntime-web: ${errorText(e).slice(0, 300)}`,
      missing: "onnxruntime-web",
      install: ORT_INSTALL,
    };
  }
}

/**
 * The two ways a performance-minded user runs a fixed-shape net in ORT Web's WebGPU EP: the default session
 * (ORT allocates the output and getData() downloads it), and graph capture (enableGraphCapture: the first run
 * records its GPU commands and later runs replay them, with input and output in caller-owned GPU buffers).
 */
export type OrtSetup = "default" | "graph capture";

/**
 * ORT's headline number for a workload is its faster setup that ran (the peer at its best, named in `setup`);
 * every setup's images/s or failure stays under `setups`.
 */
export function bestSetup(bySetup: Record<OrtSetup, OrtWorkloadResult>): OrtWorkloadResult {
  const setups: Record<string, { imagesPerSec: number; msMedian: number } | { reason: string }> = {};
  const failures: string[] = [];
  let best: [OrtSetup, OrtWorkloadResult] | undefined;
  for (const [name, r] of Object.entries(bySetup) as [OrtSetup, OrtWorkloadResult][]) {
    if (r.ok && r.imagesPerSec && r.msMedian) {
      setups[name] = { imagesPerSec: r.imagesPerSec, msMedian: r.msMedian };
      if (!best || r.imagesPerSec > best[1].imagesPerSec!) best = [name, r];
    } else {
      setups[name] = { reason: r.reason ?? "no images/s" };
      failures.push(`${name}: ${setups[name].reason}`);
    }
  }
  if (!best) return { ok: false, reason: failures.join("; "), setups };
  return { ...best[1], setup: best[0], setups };
}

/** One workload in one setup: a fresh session, warm-up runs, then the timed ones. */
async function timeSetup(
  ort: OrtModule,
  w: OrtRunConfig["workloads"][number],
  config: OrtRunConfig,
  setup: OrtSetup,
  classes?: number,
): Promise<OrtWorkloadResult> {
  const capture = setup === "graph capture";
  let session: Ort.InferenceSession | undefined;
  const buffers: GPUBuffer[] = [];
  try {
    const t0 = performance.now();
    session = await ort.InferenceSession.create(await Deno.readFile(w.onnx), {
      executionProviders: ["webgpu"],
      graphOptimizationLevel: "all",
      freeDimensionOverrides: { batch: w.batch },
      extra: { session: { disable_cpu_ep_fallback: "1" } },
      ...(capture ? { enableGraphCapture: true, preferredOutputLocation: "gpu-buffer" as const } : {}),
    });
    const sessionMs = performance.now() - t0;
    const dims = [w.batch, ...w.input];
    const data = seededInput(dims.reduce((a, b) => a * b, 1));
    const device = await ort.env.webgpu.device as GPUDevice;
    const gpuBuffer = (size: number) => {
      const b = device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      buffers.push(b);
      return b;
    };
    const inputBuffer = gpuBuffer(data.byteLength);
    device.queue.writeBuffer(inputBuffer, 0, data);
    const input = ort.Tensor.fromGpuBuffer(inputBuffer, { dataType: "float32", dims });
    const [inputName] = session.inputNames, [outputName] = session.outputNames;
    // Graph capture writes into a buffer of ours, read back as ORT's own getData() would.
    const outputBuffer = capture ? gpuBuffer(w.batch * classes! * 4) : undefined;
    const download = async () => {
      const staging = device.createBuffer({
        size: outputBuffer!.size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(outputBuffer!, 0, staging, 0, outputBuffer!.size);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const out = new Float32Array(staging.getMappedRange().slice(0));
      staging.destroy();
      return out;
    };
    const s = session;
    let finite = true;
    let logitsLength = 0;
    const run = async () => {
      const t = performance.now();
      // A tensor whose data was downloaded moves to the CPU, so each run binds the buffer afresh.
      const fetches = outputBuffer
        ? {
          [outputName]: ort.Tensor.fromGpuBuffer(outputBuffer, {
            dataType: "float32",
            dims: [w.batch, classes!],
            download: download as () => Promise<Ort.Tensor.DataTypeMap["float32"]>,
          }),
        }
        : undefined;
      const out = fetches
        ? await s.run({ [inputName]: input }, fetches)
        : await s.run({ [inputName]: input });
      const logits = await out[outputName].getData(true) as Float32Array;
      const ms = performance.now() - t;
      logitsLength = logits.length;
      if (!logits.every(Number.isFinite)) finite = false;
      return ms;
    };
    for (let i = 0; i < config.warmup; i++) await run();
    const ms: number[] = [];
    for (let i = 0; i < config.reps; i++) ms.push(await run());
    const med = median(ms);
    return finite
      ? {
        ok: true,
        batch: w.batch,
        input: w.input,
        msMedian: med,
        ms,
        imagesPerSec: (w.batch / med) * 1000,
        sessionMs,
        onnx: w.onnx,
        classes: logitsLength / w.batch,
      }
      : { ok: false, reason: "non-finite logits", onnx: w.onnx };
  } catch (e) {
    return { ok: false, reason: errorText(e).slice(0, 500), onnx: w.onnx };
  } finally {
    // The session first: ORT keeps the buffers it was given registered until then.
    await session?.release().catch(() => {});
    for (const b of buffers) b.destroy();
  }
}

/**
 * The timing half (this file run as a subprocess). Per workload: a session on the WebGPU EP alone (CPU
 * fallback disabled, so a node WebGPU cannot run fails the session instead of running on wasm unseen), the
 * batch pinned by freeDimensionOverrides; the input uploaded once into a GPU buffer (ours, too, keeps its
 * input on the GPU); each run ends with the logits read back to the CPU, which is what finishing a run
 * means in ORT (a few KB; ours waits for the queue instead). Each workload is timed in both setups (default,
 * then graph capture) and reported at the faster (`bestSetup`).
 */
export async function timeOrt(config: OrtRunConfig): Promise<OrtPeerResult> {
  const loaded = await loadOrt();
  if (!loaded.ok) return loaded;
  const ort = loaded.ort;
  if (typeof navigator === "undefined" || !navigator.gpu) {
    return { ok: false, reason: "no navigator.gpu in this Deno", missing: "webgpu" };
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    return { ok: false, reason: "navigator.gpu.requestAdapter() returned null", missing: "webgpu" };
  }
  ort.env.webgpu.adapter = adapter;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";

  const workloads: Record<string, OrtWorkloadResult> = {};
  for (const w of config.workloads) {
    const byDefault = await timeSetup(ort, w, config, "default");
    // Graph capture needs the logits' size for its output buffer: the default run gives it.
    const classes = byDefault.classes;
    const byCapture = typeof classes === "number"
      ? await timeSetup(ort, w, config, "graph capture", classes)
      : { ok: false, reason: "not tried: the default setup gave no logits" };
    workloads[w.id] = bestSetup({ default: byDefault, "graph capture": byCapture });
    console.error(`ort_peer: ${w.id}: ${JSON.stringify(workloads[w.id])}`);
  }
  return {
    ok: true,
    ort: ort.env.versions.web ?? ORT_VERSION,
    executionProvider: "webgpu",
    cpuEpFallback: "disabled",
    adapter: describeAdapter(adapter).description,
    numThreads: ort.env.wasm.numThreads ?? 1,
    warmup: config.warmup,
    reps: config.reps,
    opset: ONNX_OPSET,
    workloads,
  };
}

if (import.meta.main) {
  // Exactly one JSON line on stdout: the library's console output goes to stderr.
  const write = console.log.bind(console);
  console.log = (...args: unknown[]) => console.error(...args);
  console.info = (...args: unknown[]) => console.error(...args);
  console.warn = (...args: unknown[]) => console.error(...args);
  let result: OrtPeerResult;
  try {
    if (Deno.args.length !== 1) throw new Error("usage: deno run -A bench/ort_peer.ts CONFIG.json");
    result = await timeOrt(JSON.parse(await Deno.readTextFile(Deno.args[0])));
  } catch (e) {
    result = { ok: false, reason: errorText(e) };
  }
  write(JSON.stringify(result));
  // ORT's wasm runtime can keep the event loop alive; the answer is out, so end here.
  Deno.exit(0);
}
