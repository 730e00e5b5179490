// Thin wrappers over the elementwise kernels (activation, dropout, copy, mean subtraction, SGD, reductions).

import { f32, type Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";

/** The pointwise nonlinearities: ReLU (the paper's) and tanh (Figure 1's comparison). */
export type Activation = "relu" | "tanh";

/** y = relu(x) or tanh(x), elementwise: a new tensor of x's shape, owned by the caller. */
export function activationForward(gpu: Gpu, kind: Activation, x: Tensor): Tensor {
  const y = gpu.tensor(x.shape, kind);
  gpu.run("activation", `${kind}_forward`, [x, y], [x.size, 0, 0, 0, f32(0), f32(0)], gpu.grid1d(x.size));
  return y;
}

/** `y` is the forward output (ReLU's sign and tanh's derivative both follow from it). */
export function activationBackward(gpu: Gpu, kind: Activation, y: Tensor, dy: Tensor): Tensor {
  const dx = gpu.tensor(y.shape, `d${kind}`);
  gpu.run(
    "activation",
    `${kind}_backward`,
    [y, dx, dy],
    [y.size, 0, 0, 0, f32(0), f32(0)],
    gpu.grid1d(y.size),
  );
  return dx;
}

/** Which dropout mask: element i is kept when hash(seed, counter, i) >= prob (docs/conventions.md). */
export interface DropoutDraw {
  /** Probability of dropping an element; kept ones are scaled by 1/(1-prob). */
  prob: number;
  /** Seed of the mask stream. */
  seed: number;
  /** Advances every training step so each step draws a new mask; same seed and counter, same mask. */
  counter: number;
}

/** Inverted dropout: y = x * mask / (1 - prob), a new tensor the caller owns. */
export function dropoutForward(gpu: Gpu, x: Tensor, d: DropoutDraw): Tensor {
  const y = gpu.tensor(x.shape, "dropout");
  const scale = d.prob >= 1 ? 0 : 1 / (1 - d.prob);
  gpu.run(
    "activation",
    "dropout_forward",
    [x, y],
    [x.size, d.seed >>> 0, d.counter >>> 0, 0, f32(d.prob), f32(scale)],
    gpu.grid1d(x.size),
  );
  return y;
}

/**
 * dx = dy * mask / (1 - prob), the mask regenerated from the same DropoutDraw as the forward pass; a new
 * tensor the caller owns.
 */
export function dropoutBackward(gpu: Gpu, dy: Tensor, d: DropoutDraw): Tensor {
  const dx = gpu.tensor(dy.shape, "ddropout");
  const scale = d.prob >= 1 ? 0 : 1 / (1 - d.prob);
  gpu.run(
    "activation",
    "dropout_backward",
    [dy, dx],
    [dy.size, d.seed >>> 0, d.counter >>> 0, 0, f32(d.prob), f32(scale)],
    gpu.grid1d(dy.size),
  );
  return dx;
}

/** dst[offD + r*ldd + c] = src[offS + r*lds + c], zero-filling columns up to padTo. */
export function copy2d(
  gpu: Gpu,
  src: Tensor,
  dst: Tensor,
  a: { rows: number; cols: number; lds: number; ldd: number; offS?: number; offD?: number; padTo?: number },
): void {
  const width = Math.max(a.cols, a.padTo ?? 0);
  gpu.run(
    "copy",
    "copy2d",
    [src, dst],
    [a.rows, a.cols, a.lds, a.ldd, a.offS ?? 0, a.offD ?? 0, a.padTo ?? 0, 0],
    gpu.grid1d(a.rows * width),
  );
}

/** x [N][D] minus mean [D], broadcast over the batch. */
export function subtractMean(gpu: Gpu, x: Tensor, mean: Tensor): Tensor {
  const y = gpu.tensor(x.shape, "centred");
  const d = mean.size;
  gpu.run("copy", "subtract_mean", [x, y, mean], [x.size / d, d, 0, 0, 0, 0, 0, 0], gpu.grid1d(x.size));
  return y;
}

/** Momentum-SGD constants for one parameter, its multipliers already applied. */
export interface SgdHyper {
  /** Learning rate. */
  lr: number;
  /** Momentum coefficient m (0.9 in the paper). */
  momentum: number;
  /** Weight decay wd (0.0005 in the paper); the update scales it by lr. */
  weightDecay: number;
}

/** The paper's update, in place on w and v: v <- m*v - wd*lr*w - lr*g, then w <- w + v. */
export function sgdUpdate(gpu: Gpu, w: Tensor, v: Tensor, g: Tensor, h: SgdHyper): void {
  gpu.run(
    "sgd",
    "sgd",
    [w, v, g],
    [Math.ceil(w.size / 4), 0, 0, 0, f32(h.lr), f32(h.momentum), f32(h.weightDecay), f32(0)],
    gpu.grid1d(Math.ceil(w.size / 4)),
  );
}

/** dst[c] (+)= sum of an NCHW tensor over n, h, w: a convolution's bias gradient. */
export function channelSum(
  gpu: Gpu,
  src: Tensor,
  dst: Tensor,
  n: number,
  c: number,
  s: number,
  acc = false,
): void {
  const v = s % 4 === 0 ? 4 : 1;
  const params = [n, c, s, acc ? 1 : 0, 0, 0, 0, 0];
  if (gpu.kernelVariant === "cpu") {
    const template = { V: String(v), ELEM: v === 4 ? "vec4f" : "f32", SRC: v === 4 ? "src4" : "src" };
    gpu.run("reduce_cpu", "channel_sum", [src, dst], params, [c, 1, 1], template);
  } else gpu.run("reduce", v === 4 ? "channel_sum4" : "channel_sum", [src, dst], params, [c, 1, 1]);
}

/** dst[j] (+)= sum over rows of src[r*ld + j], j < cols: fully/locally connected bias gradients. */
export function rowSum(
  gpu: Gpu,
  src: Tensor,
  dst: Tensor,
  rows: number,
  cols: number,
  ld: number,
  acc = false,
) {
  gpu.run("reduce", "row_sum", [src, dst], [rows, cols, 0, acc ? 1 : 0, ld, 0, 0, 0], [
    Math.ceil(cols / 256),
    1,
    1,
  ]);
}
