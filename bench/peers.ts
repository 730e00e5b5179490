// The peers `deno task bench` times beside this engine: PyTorch on the CPU (bench/torch_peer.py, run by the
// Python that has torch, as a subprocess), TensorFlow.js (bench/tfjs_cifar.ts) and ONNX Runtime Web on WebGPU
// (bench/ort_peer.ts), and the table that puts their images/s beside ours.

import type { ModelSpec } from "../src/nn/spec.ts";
import { torchModuleSource } from "../src/io/torchvision.ts";

/** The optimiser settings of every training step the bench times (ours and the peers'). */
export const SGD = { lr: 0.001, momentum: 0.9, weightDecay: 0.0005 };

export const TORCH_INSTALL = "apt-get install -y python3-torch libopenblas0-pthread";

/** One workload timed by us and by the peers: a model spec from src/models, a batch size and a mode. */
export interface Workload {
  /** Stable key in the JSON: "cifar32-train128", "alexnet-forward16", ... */
  id: string;
  label: string;
  spec: ModelSpec;
  batch: number;
  mode: "forward" | "train";
}

export interface TorchWorkloadResult {
  ok: boolean;
  reason?: string;
  mode?: string;
  batch?: number;
  msMedian?: number;
  ms?: number[];
  imagesPerSec?: number;
  /** Ours over PyTorch's images/s for the same workload, set by the bench. */
  oursImagesPerSec?: number;
  oursOverPytorch?: number;
  [key: string]: unknown;
}

export type TorchPeerResult =
  | {
    ok: true;
    torch: string;
    /** The BLAS library torch loaded (its fully connected layers run through it). */
    blas?: string;
    python: string;
    threads: number;
    warmup: number;
    reps: number;
    workloads: Record<string, TorchWorkloadResult>;
    [key: string]: unknown;
  }
  | { ok: false; reason: string; missing?: string; install?: string };

const decoder = new TextDecoder();

/**
 * Times `workloads` in PyTorch: one warm-up and `reps` timed runs each, medians,
 * torch.set_num_threads(threads).
 * The nets are torchModuleSource(spec) of the very specs we run, so layer shapes (and groups=2) match. Never
 * throws: a missing Python or torch comes back as {ok: false, reason, install}.
 */
export async function runTorchPeer(
  workloads: Workload[],
  o: { python: string; threads: number; reps: number; warmup?: number },
): Promise<TorchPeerResult> {
  // A net PyTorch has no module for (locally connected layers) is left out and said so, not a crash.
  const unsupported: Record<string, { ok: false; reason: string }> = {};
  const supported: { w: Workload; module: string }[] = [];
  for (const w of workloads) {
    try {
      supported.push({ w, module: torchModuleSource(w.spec) });
    } catch (e) {
      unsupported[w.id] = { ok: false, reason: (e as Error).message };
    }
  }
  if (supported.length === 0) {
    return { ok: false, reason: Object.values(unsupported).map((u) => u.reason).join("; ") };
  }
  const dir = await Deno.makeTempDir({ prefix: "bench-torch-" });
  try {
    const config = {
      threads: o.threads,
      warmup: o.warmup ?? 1,
      reps: o.reps,
      workloads: supported.map(({ w, module }) => ({
        id: w.id,
        module,
        input: w.spec.input,
        classes: w.spec.classes,
        batch: w.batch,
        mode: w.mode,
        sgd: SGD,
      })),
    };
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    const script = decodeURIComponent(new URL("./torch_peer.py", import.meta.url).pathname);
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(o.python, {
        args: [script, `${dir}/config.json`],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
      return { ok: false, reason: `${o.python}: ${why}`, missing: "python", install: TORCH_INSTALL };
    }
    const line = decoder.decode(out.stdout).trim().split("\n").pop() ?? "";
    let result: TorchPeerResult;
    try {
      result = JSON.parse(line);
    } catch {
      const err = decoder.decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return {
        ok: false,
        reason: `no JSON from bench/torch_peer.py (exit ${out.code}): ${(line || err).slice(0, 300)}`,
      };
    }
    if (!result.ok && result.missing) result.install = TORCH_INSTALL;
    if (result.ok) Object.assign(result.workloads, unsupported);
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A PyTorch peer that could not run, as one console line (with the install command if torch is missing). */
export function describeTorchFailure(r: Extract<TorchPeerResult, { ok: false }>): string {
  return r.install
    ? `PyTorch is not available (${r.reason}); to time it beside ours, install it with \`${r.install}\``
    : `PyTorch could not run: ${r.reason}`;
}

export interface ComparisonRow {
  id: string;
  workload: string;
  oursImagesPerSec: number;
  tfjsImagesPerSec: number | null;
  oursOverTfjs: number | null;
  pytorchImagesPerSec: number | null;
  oursOverPytorch: number | null;
  /** ONNX Runtime Web, WebGPU execution provider (inference workloads only). */
  ortImagesPerSec: number | null;
  oursOverOrt: number | null;
}

/** One row per workload we timed; a peer's cells are null where it did not run (or could not). */
export function comparisonRows(
  workloads: Workload[],
  ours: Map<string, number>,
  tfjs: Map<string, number>,
  pytorch: Map<string, number>,
  ort: Map<string, number> = new Map(),
): ComparisonRow[] {
  return workloads.filter((w) => ours.has(w.id)).map((w) => {
    const o = ours.get(w.id)!, t = tfjs.get(w.id), p = pytorch.get(w.id), x = ort.get(w.id);
    return {
      id: w.id,
      workload: w.label,
      oursImagesPerSec: o,
      tfjsImagesPerSec: t ?? null,
      oursOverTfjs: t ? o / t : null,
      pytorchImagesPerSec: p ?? null,
      oursOverPytorch: p ? o / p : null,
      ortImagesPerSec: x ?? null,
      oursOverOrt: x ? o / x : null,
    };
  });
}

/** The side-by-side table: images/s, and each peer's ratio (ours / peer) beside its images/s. */
export function formatComparison(
  rows: ComparisonRow[],
  notes: { tfjs: string; pytorch: string; ort?: string },
): string {
  const cell = (v: number | null, r: number | null) =>
    v === null ? "-" : `${v.toFixed(2)} (ours ${r!.toFixed(2)}x)`;
  const ort = notes.ort ?? "(not run)";
  const table = [
    ["workload", "ours images/s", `TF.js ${notes.tfjs}`, `PyTorch ${notes.pytorch}`, `ORT Web ${ort}`],
    ...rows.map((r) => [
      r.workload,
      r.oursImagesPerSec.toFixed(2),
      cell(r.tfjsImagesPerSec, r.oursOverTfjs),
      cell(r.pytorchImagesPerSec, r.oursOverPytorch),
      cell(r.ortImagesPerSec, r.oursOverOrt),
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) =>
    "  " + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(table[0]), "  " + widths.map((w) => "-".repeat(w)).join("  "), ...table.slice(1).map(line)]
    .join("\n");
}
