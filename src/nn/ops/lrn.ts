// Response normalisation across channels (the paper's LRN) or within a map (cuda-convnet's rnorm).

import { f32, type Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";

/** Normalisation constants: b = a / (k + alpha * sum of a^2 over the window)^beta, alpha not divided by n. */
export interface LrnParams {
  /** Additive constant (2 in the paper). */
  k: number;
  /** Window size: channels (cross-map), or the side of the square window (within-map). */
  n: number;
  /** Scale of the window's sum of squares, used as given (1e-4 in the paper). */
  alpha: number;
  /** Exponent (0.75 in the paper). */
  beta: number;
}
/**
 * "cross": the window runs over neighbouring channels (the paper's LRN); "within": over an n x n patch of the
 * same channel (cuda-convnet's rnorm).
 */
export type LrnMode = "cross" | "within";

/** kernels/lrn.wgsl's Params: the batch size and the constants (the shape and window size are compiled in). */
function params(x: Tensor, p: LrnParams) {
  return [x.shape[0], f32(p.k), f32(p.alpha), f32(p.beta)];
}

const shape = (x: Tensor, p: LrnParams, reluBefore = false) => ({
  RELU_BEFORE: reluBefore,
  C: x.shape[1],
  H: x.shape[2],
  W: x.shape[3],
  N: p.n,
  NM1: p.n - 1,
});

/** Threads of a mode's window pass: cross-map threads each walk one pixel's channels, within-map ones one value. */
const windowThreads = (mode: LrnMode, x: Tensor) => mode === "cross" ? x.size / x.shape[1] : x.size;

/** Returns the output and the denominators s (kept for the backward pass). */
export function lrnForward(gpu: Gpu, mode: LrnMode, x: Tensor, p: LrnParams): { y: Tensor; scale: Tensor } {
  const y = gpu.tensor(x.shape, "lrn");
  const scale = gpu.tensor(x.shape, "lrn-scale");
  gpu.run(
    "lrn",
    `${mode}_forward`,
    [x, y, scale],
    params(x, p),
    gpu.grid1d(windowThreads(mode, x)),
    shape(x, p),
  );
  return { y, scale };
}

/**
 * dx from the input x, lrnForward's denominators `scale` and dy; a new tensor the caller owns. `reluBefore`: x
 * is a ReLU's output, and dx gets that ReLU's backward pass too (0 where x is not positive), as it is written.
 */
export function lrnBackward(
  gpu: Gpu,
  mode: LrnMode,
  x: Tensor,
  scale: Tensor,
  dy: Tensor,
  p: LrnParams,
  reluBefore = false,
): Tensor {
  // The cross-channel kernel computes the terms itself as its window slides; the spatial one reads them.
  const terms = mode === "within" ? gpu.tensor(x.shape, "dlrn-terms") : null;
  const dx = gpu.tensor(x.shape, "dlrn");
  if (terms) gpu.run("lrn", "terms", [x, scale, dy, terms], params(x, p), gpu.grid1d(x.size), shape(x, p));
  gpu.run(
    "lrn",
    `${mode}_backward`,
    [x, scale, dy, terms, dx],
    params(x, p),
    gpu.grid1d(windowThreads(mode, x)),
    shape(x, p, reluBefore),
  );
  gpu.release(terms);
  return dx;
}
