// What faster multiply kernels alone could give, from one `deno task bench --kernels` JSON that includes the
// GEMM microbenchmark (`--only gemm,...`): every multiply kernel of a workload (the GEMMs, Winograd's batched
// GEMMs included, and the direct first-layer convolution) is re-timed as if it ran its FLOPs at the run's best
// 1024^3 GEMM rate, everything else (Winograd transforms, pooling, LRN, ReLU, loss, SGD) as measured. That is
// a bound on this engine's current arithmetic, not a measurement: it answers "what multiply rate would a
// target ratio to PyTorch need, and is it reachable at all while the other kernels take what they take".
//
//   deno run -A bench/ceiling.ts bench/results/<run>.json [--target 0.8]

import { parseArgs } from "@std/cli/parse-args";
import type { KernelTiming, LayerTiming } from "./layer_timing.ts";

/** The FLOPs of one multiply kernel of `layer`, or null for kernels that do no GEMM-like work. */
export function multiplyFlops(kernel: KernelTiming, layer: LayerTiming): number | null {
  const gemm = /^matmul\.(nn|nt|tn) (\d+)x(\d+)x(\d+)(?:x(\d+))?$/.exec(kernel.kernel);
  if (gemm) {
    const [m, n, k, batch] = [gemm[2], gemm[3], gemm[4], gemm[5] ?? "1"].map(Number);
    return 2 * m * n * k * batch * kernel.count;
  }
  // The direct convolution is the whole layer's arithmetic (its other kernels transpose or sum a few KB).
  if (/^conv_direct\.(forward|weight_grad)$/.test(kernel.kernel) && layer.gflops) {
    return layer.gflops * layer.ms * 1e6;
  }
  return null;
}

export interface Ceiling {
  /** FLOPs of the multiply kernels (Winograd's reduced GEMMs counted as they run). */
  multiplyGflop: number;
  /** Share of the profiled time spent in multiply kernels. */
  multiplyShare: number;
  /** The other kernels' share of the measured time (profiled share times the measured time). */
  otherMs: number;
  /** Multiply kernels at `peakGflops`, the rest as measured. */
  boundMs: number;
}

/**
 * The bound for one workload. Per-kernel times come from a profiling run (one compute pass per dispatch), so
 * the non-multiply kernels get their profiled share of the measured time, not their profiled milliseconds.
 */
export function ceiling(layers: LayerTiming[], measuredMs: number, peakGflops: number): Ceiling {
  let multiplyMs = 0, otherMs = 0, flops = 0;
  for (const layer of layers) {
    if (!layer.kernels) {
      throw new Error(`layer "${layer.layer}" has no kernel times: rerun the bench with --kernels`);
    }
    for (const k of layer.kernels) {
      const f = multiplyFlops(k, layer);
      if (f === null) otherMs += k.ms;
      else {
        multiplyMs += k.ms;
        flops += f;
      }
    }
  }
  const profiled = multiplyMs + otherMs;
  if (profiled <= 0) throw new Error("no kernel times in this workload");
  const other = measuredMs * (otherMs / profiled);
  return {
    multiplyGflop: flops / 1e9,
    multiplyShare: multiplyMs / profiled,
    otherMs: other,
    boundMs: other + flops / peakGflops / 1e6,
  };
}

/** The multiply rate (GFLOP/s) that would make the workload take `targetMs`, or Infinity if the rest alone is slower. */
export function neededRate(c: Ceiling, targetMs: number): number {
  return targetMs > c.otherMs ? c.multiplyGflop / ((targetMs - c.otherMs) / 1e3) : Infinity;
}

interface Timed {
  batch: number;
  msPerBatch?: number;
  msPerStep?: number;
  layers: LayerTiming[];
}

/** Where each comparison row's timings sit in the bench JSON. */
function timingsFor(report: Record<string, unknown>, id: string): Timed | undefined {
  const r = report as Record<string, Record<string, Timed> | Timed | undefined>;
  const fixed: Record<string, Timed | undefined> = {
    "alexnet-forward16": r.alexnetForward16 as Timed,
    "alexnet-train16": r.alexnetTrain16 as Timed,
    "alexnet-one-tower-forward16": r.alexnetOneTowerForward16 as Timed,
    "alexnet-one-tower-train16": r.alexnetOneTowerTrain16 as Timed,
    "cifar32-train128": (r.cifar as Record<string, Timed> | undefined)?.size32,
    "cifar24-train128": (r.cifar as Record<string, Timed> | undefined)?.size24,
  };
  return id in fixed ? fixed[id] : (r.pipelines as Record<string, Timed> | undefined)?.[id];
}

interface ComparisonRow {
  id: string;
  workload: string;
  pytorchImagesPerSec: number | null;
}

export function ceilingReport(report: Record<string, unknown>, target: number): string {
  const gemm = report.gemm as { gflops: number }[] | undefined;
  if (!gemm?.length) throw new Error("this bench JSON has no GEMM rows: rerun with --only gemm,...");
  const peak = Math.max(...gemm.map((g) => g.gflops));
  const rows = (report.comparison as ComparisonRow[] | undefined) ?? [];
  const out = [
    `adapter: ${report.adapterName}`,
    `commit: ${report.commit}`,
    `GEMM peak of this run (best 1024^3 layout): ${peak.toFixed(2)} GFLOP/s`,
    "",
    "| workload | measured ms | multiply share | other kernels ms | bound ms (multiplies at peak) | images/s: measured / bound / PyTorch | bound over PyTorch | multiply rate for " +
    `${target}x PyTorch |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const row of rows) {
    const t = timingsFor(report, row.id);
    if (!t?.layers?.length || !row.pytorchImagesPerSec) continue;
    const ms = t.msPerStep ?? t.msPerBatch ?? NaN;
    const c = ceiling(t.layers, ms, peak);
    const perSec = (x: number) => (t.batch / x) * 1e3;
    const targetMs = (t.batch / (target * row.pytorchImagesPerSec)) * 1e3;
    const need = neededRate(c, targetMs);
    out.push(
      `| ${row.workload} | ${ms.toFixed(0)} | ${(100 * c.multiplyShare).toFixed(0)}% | ${
        c.otherMs.toFixed(0)
      } | ${c.boundMs.toFixed(0)} | ${perSec(ms).toFixed(1)} / ${perSec(c.boundMs).toFixed(1)} / ${
        row.pytorchImagesPerSec.toFixed(1)
      } | ${(perSec(c.boundMs) / row.pytorchImagesPerSec).toFixed(2)}x | ${
        Number.isFinite(need)
          ? `${need.toFixed(0)} GFLOP/s (${(need / peak).toFixed(1)}x the peak)`
          : "none: the other kernels alone take longer"
      } |`,
    );
  }
  return out.join("\n");
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, { string: ["target"], boolean: ["help"], alias: { h: "help" } });
  const file = args._[0];
  if (args.help || typeof file !== "string") {
    console.log("Usage: deno run -A bench/ceiling.ts BENCH.json [--target 0.8]");
    Deno.exit(args.help ? 0 : 2);
  }
  const target = Number(args.target ?? "0.8");
  if (!(target > 0)) {
    console.error(`ceiling: --target must be a positive number, got "${args.target}"`);
    Deno.exit(2);
  }
  try {
    console.log(ceilingReport(JSON.parse(await Deno.readTextFile(file)), target));
  } catch (e) {
    console.error(`ceiling: ${file}: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
