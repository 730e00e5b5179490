// GEMM throughput per layout and shape (the shapes AlexNet's and the CIFAR net's layers produce).
import type { Gpu } from "../src/gpu/runtime.ts";
import { matmul, type MatmulLayout } from "../src/nn/ops/matmul.ts";

export interface GemmResult {
  layout: MatmulLayout;
  M: number;
  N: number;
  K: number;
  ms: number;
  gflops: number;
}

export async function benchGemm(gpu: Gpu, layout: MatmulLayout, M: number, N: number, K: number, reps = 3) {
  const a = gpu.tensor([M * K], "a"), b = gpu.tensor([K * N], "b"), c = gpu.tensor([M * N], "c");
  gpu.fill(a, 0.5);
  gpu.fill(b, 0.25);
  const args = {
    layout,
    M,
    N,
    K,
    a,
    b,
    c,
    lda: layout === "tn" ? M : K,
    ldb: layout === "nt" ? K : N,
    ldc: N,
  };
  matmul(gpu, args);
  await gpu.sync();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) matmul(gpu, args);
  await gpu.sync();
  const ms = (performance.now() - t0) / reps;
  gpu.release(a, b, c);
  return { layout, M, N, K, ms, gflops: (2 * M * N * K) / ms / 1e6 };
}

if (import.meta.main) {
  const { Gpu } = await import("../src/gpu/runtime.ts");
  const gpu = await Gpu.create();
  const shapes: [MatmulLayout, number, number, number][] = Deno.args.length
    ? [[Deno.args[0] as MatmulLayout, +Deno.args[1], +Deno.args[2], +Deno.args[3]]]
    : [
      ["nn", 1024, 1024, 1024],
      ["nt", 1024, 1024, 1024],
      ["tn", 1024, 1024, 1024],
      ["nn", 64, 16384, 1600],
      ["nt", 64, 1600, 16384],
      ["tn", 1600, 16384, 64],
    ];
  for (const [l, M, N, K] of shapes) {
    const r = await benchGemm(gpu, l, M, N, K);
    console.log(`${l} ${M}x${N}x${K}: ${r.ms.toFixed(1)} ms, ${r.gflops.toFixed(2)} GFLOP/s`);
  }
}
