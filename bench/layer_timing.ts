// The per-layer profile `deno task bench` writes for each workload (bench/main.ts) and bench/ceiling.ts reads.

export interface KernelTiming {
  /** Entry point and shape tag: "matmul.nn 48x576x16x128", "winograd.input 576 tiles", ... */
  kernel: string;
  ms: number;
  /** Dispatches of this kernel in the layer. */
  count: number;
}

export interface LayerTiming {
  layer: string;
  ms: number;
  gflops: number | null;
  /** The layer's kernels and their times, with --kernels. */
  kernels?: KernelTiming[];
}
