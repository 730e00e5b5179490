// GEMM dispatch over kernels/matmul.wgsl: picks the block size for the adapter and checks alignment.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";

/** Which operand is stored transposed: "nn" C = A B, "nt" C = A B^T, "tn" C = A^T B (all row-major). */
export type MatmulLayout = "nn" | "nt" | "tn";

/**
 * One GEMM, C [M][N] = op(A) op(B) (+ bias, + C with accumulate), over row-major operands with leading
 * dimensions and element offsets.
 */
export interface MatmulArgs {
  /** Which operand is transposed. */
  layout: MatmulLayout;
  /** Rows of C. */
  M: number;
  /** Columns of C. */
  N: number;
  /** The summed dimension. */
  K: number;
  /** A: [M][K], or [K][M] for "tn". */
  a: Tensor | GPUBuffer;
  /** B: [K][N], or [N][K] for "nt". */
  b: Tensor | GPUBuffer;
  /** C [M][N]: overwritten, or added to with accumulate. */
  c: Tensor | GPUBuffer;
  /** Row stride of A, in elements. */
  lda: number;
  /** Row stride of B, in elements. */
  ldb: number;
  /** Row stride of C, in elements. */
  ldc: number;
  /** Element offset of A in its buffer (default 0). */
  offA?: number;
  /** Element offset of B in its buffer (default 0). */
  offB?: number;
  /** Element offset of C in its buffer (default 0). */
  offC?: number;
  /** Independent products along gid.z (conv groups), each at these element strides. */
  batch?: number;
  /** Elements from one A of the batch to the next. */
  strideA?: number;
  /** Elements from one B of the batch to the next. */
  strideB?: number;
  /** Elements from one C of the batch to the next. */
  strideC?: number;
  /** Add the product to C instead of overwriting it. */
  accumulate?: boolean;
  /** Bias added to the product as biasMode says. */
  bias?: Tensor | GPUBuffer | null;
  /**
   * "row": bias[i] added to row i of C (a conv's output channels); "col": bias[j] to column j (a fully
   * connected layer); "none" (default).
   */
  biasMode?: "none" | "row" | "col";
  /** Element offset of the bias (default 0). */
  offBias?: number;
  /** Elements from one batch product's bias to the next (conv groups). */
  strideBias?: number;
}

interface MatmulTuning {
  TM: number;
  TN4: number;
  TNS: number;
  WGX: number;
  WGY: number;
}

/** Measured on llvmpipe (2 cores, AVX2), with every loop unrolled: 16x16 outputs per thread beat 8x16, 8x32, 24x16, 16x24 and 32x8. */
const CPU_TUNING: MatmulTuning = { TM: 16, TN4: 4, TNS: 16, WGX: 8, WGY: 8 };
export function matmulTuning(_gpu: Gpu): MatmulTuning {
  return CPU_TUNING;
}

const dummies = new WeakMap<Gpu, GPUBuffer>();
function dummyBias(gpu: Gpu): GPUBuffer {
  let b = dummies.get(gpu);
  if (!b) {
    b = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    dummies.set(gpu, b);
  }
  return b;
}

function checkAligned(args: MatmulArgs, names: (keyof MatmulArgs)[]): void {
  for (const name of names) {
    const v = (args[name] as number | undefined) ?? 0;
    if (v % 4 !== 0) {
      throw new Error(
        `matmul ${args.layout}: ${String(name)}=${v} must be a multiple of 4 (pad the operand)`,
      );
    }
  }
}

/**
 * Slices for a split-K product: a long-K, small-output "nt" GEMM (a weight gradient summed over many pixels,
 * like conv1's, or a fully connected layer's forward at a small batch) would otherwise run on a handful of
 * threads. 0 = no split. Slices divide K/4 exactly and keep at least 512 of K each.
 */
function splitKSlices(gpu: Gpu, args: MatmulArgs, t: MatmulTuning): number {
  if (args.layout !== "nt" || (args.batch ?? 1) > 1 || args.K < 1024) return 0;
  const threads = gpu.kernelVariant === "gpu"
    ? Math.ceil(args.M / 64) * Math.ceil(args.N / 64) * 256
    : Math.ceil(args.M / t.TM) * Math.ceil(args.N / t.TNS);
  const want = Math.min(64, Math.floor(args.K / 512), Math.ceil((gpu.isSoftware ? 1024 : 16384) / threads));
  for (let s = want; s >= 2; s--) if ((args.K / 4) % s === 0) return s;
  return 0;
}

/**
 * Records one GEMM, split along K when a long-K product would run on too few threads. Throws unless the
 * offsets, and the sizes and leading dimensions the layout loads as vec4, are multiples of 4.
 */
export function matmul(gpu: Gpu, args: MatmulArgs): void {
  const { layout, M, N, K } = args;
  if (M === 0 || N === 0 || K === 0) return;
  const slices = splitKSlices(gpu, args, matmulTuning(gpu));
  if (slices > 1) {
    const ks = K / slices;
    const sliceSize = Math.ceil((M * N) / 4) * 4;
    const partial = gpu.tensor([slices, sliceSize], "splitk");
    matmul(gpu, {
      ...args,
      K: ks,
      batch: slices,
      strideA: ks,
      strideB: ks,
      c: partial,
      ldc: N,
      offC: 0,
      strideC: sliceSize,
      accumulate: false,
      biasMode: "none",
    });
    const biasMode = args.biasMode === "row" ? 1 : args.biasMode === "col" ? 2 : 0;
    gpu.run(
      "reduce",
      "sum_slices",
      [partial, args.c, (biasMode ? args.bias : null) ?? dummyBias(gpu)],
      [M, N, slices, args.accumulate ? 1 : 0, args.ldc, args.offC ?? 0, biasMode, args.offBias ?? 0],
      gpu.grid1d(M * N),
    );
    partial.release();
    return;
  }
  const batch = args.batch ?? 1;
  if (batch > 1) checkAligned(args, ["strideA", "strideB", "strideC"]);
  checkAligned(args, ["offA", "offB", "offC"]);
  if (layout === "nn") checkAligned(args, ["K", "N", "lda", "ldb", "ldc"]);
  else if (layout === "nt") checkAligned(args, ["K", "lda", "ldb"]);
  else checkAligned(args, ["M", "N", "lda", "ldb", "ldc"]);
  const biasMode = args.biasMode === "row" ? 1 : args.biasMode === "col" ? 2 : 0;
  const params = [
    M,
    N,
    K,
    args.lda,
    args.ldb,
    args.ldc,
    args.offA ?? 0,
    args.offB ?? 0,
    args.offC ?? 0,
    args.strideA ?? 0,
    args.strideB ?? 0,
    args.strideC ?? 0,
    args.accumulate ? 1 : 0,
    biasMode,
    args.offBias ?? 0,
    args.strideBias ?? 0,
  ];
  const buffers = [args.a, args.b, args.c, (biasMode ? args.bias : null) ?? dummyBias(gpu)];
  const tag = `${M}x${N}x${K}${batch > 1 ? `x${batch}` : ""}`;
  if (gpu.kernelVariant === "gpu") {
    const template = { A_T: layout === "tn", B_T: layout === "nt" };
    gpu.run(
      "matmul_tiled",
      "main",
      buffers,
      params,
      [Math.ceil(N / 64), Math.ceil(M / 64), batch],
      template,
      tag,
    );
    return;
  }
  const t = { ...matmulTuning(gpu) };
  // A product with one or a few rows (a fully connected layer at batch 1) would waste most of an 8-row block.
  if (layout === "nt" && M < t.TM) t.TM = M <= 1 ? 1 : M <= 2 ? 2 : 4;
  if (layout === "tn" && t.TM % 4 !== 0) throw new Error("tn needs TM to be a multiple of 4");
  const colsPerThread = layout === "nt" ? t.TNS : t.TN4 * 4;
  // A CPU adapter runs a workgroup's idle invocations too: a product of few thread rows or columns (a
  // Winograd GEMM of 48 output channels, a weight gradient of 48 x 64 per position) gets a workgroup of about
  // that many, in powers of two so that few variants compile. Each thread computes the same outputs in the
  // same order either way.
  const pow2AtLeast = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));
  const invocations = t.WGX * t.WGY;
  t.WGY = Math.min(t.WGY, pow2AtLeast(Math.ceil(M / t.TM)));
  t.WGX = Math.min(invocations / t.WGY, pow2AtLeast(Math.ceil(N / colsPerThread)));
  const groups: [number, number, number] = [
    Math.ceil(N / colsPerThread / t.WGX),
    Math.ceil(M / t.TM / t.WGY),
    batch,
  ];
  gpu.run(
    "matmul",
    layout,
    buffers,
    params,
    groups,
    // TM4 = 0 when TM < 4 empties tn's unrolled body: tn never runs with such a block (checked above).
    { ...t, TM4: Math.floor(t.TM / 4) },
    tag,
  );
}

/** What stackedMatmul takes: matmul's arguments but the leading dimensions and batch strides. */
export type StackedMatmulArgs = Omit<MatmulArgs, "lda" | "ldb" | "ldc" | "strideA" | "strideB" | "strideC">;

/**
 * `batch` products of dense row-major matrices stored one after another in each buffer (conv groups,
 * Winograd positions): rows are K wide in A (M when A is transposed), N in B (K when B is transposed) and N
 * in C, and each operand's matrices follow each other without gaps.
 */
export function stackedMatmul(gpu: Gpu, args: StackedMatmulArgs): void {
  const { layout, M, N, K } = args;
  const lda = layout === "tn" ? M : K;
  const ldb = layout === "nt" ? K : N;
  matmul(gpu, { ...args, lda, ldb, ldc: N, strideA: M * K, strideB: K * N, strideC: M * N });
}
