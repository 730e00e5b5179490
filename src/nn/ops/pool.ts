// Max and average pooling (any window and stride, optional padding and ceil mode).

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { convOutSize } from "../../math/window.ts";

/** A pooling layer's square window over [C, H, W] planes and its output size (poolGeometry). */
export interface PoolGeometry {
  /** Channels: planes per image. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Window side. */
  k: number;
  /** Stride along both axes. */
  stride: number;
  /** Padding on every side; padded positions never win a max or count in an average. */
  pad: number;
  /** Round the output size up, windows clipped to the input (cuda-convnet's rule). */
  ceil: boolean;
  /** Output height. */
  oh: number;
  /** Output width. */
  ow: number;
}

/** Fills in the defaults (pad 0, output size rounded down) and the output size; throws unless pad < k. */
export function poolGeometry(
  s: { c: number; h: number; w: number; k: number; stride: number; pad?: number; ceil?: boolean },
): PoolGeometry {
  const pad = s.pad ?? 0;
  const ceil = s.ceil ?? false;
  if (pad >= s.k) throw new Error(`pool: pad ${pad} must be smaller than the window ${s.k}`);
  return {
    ...s,
    pad,
    ceil,
    oh: convOutSize(s.h, s.k, s.stride, pad, ceil),
    ow: convOutSize(s.w, s.k, s.stride, pad, ceil),
  };
}

/** kernels/pool.wgsl's Params: the planes in the batch (the window geometry is compiled in). */
const params = (g: PoolGeometry, n: number) => [n * g.c, 0, 0, 0];
/** Windows oh and oh + PHASES never overlap: max backward's scatter runs PHASES^2 race-free dispatches. */
const phases = (g: PoolGeometry) => Math.ceil(g.k / g.stride);
/** Outputs per thread of max pooling's forward along each axis (kernels/pool.wgsl). */
const MAX_BLOCK = 2;
/** Inputs along each axis that a block's windows span. */
const blockSpan = (g: PoolGeometry) => (MAX_BLOCK - 1) * g.stride + g.k;
const shape = (g: PoolGeometry, relu = false) => ({
  RELU: relu,
  B_H: MAX_BLOCK,
  B_W: MAX_BLOCK,
  U_H: blockSpan(g),
  U_W: blockSpan(g),
  PHASES: phases(g),
  H: g.h,
  W: g.w,
  OH: g.oh,
  OW: g.ow,
  K: g.k,
  STRIDE: g.stride,
  PAD: g.pad,
});

/**
 * Returns the output and the winners' positions (needed by the backward pass). `relu` applies a ReLU to the
 * output in the same pass, bit for bit what a ReLU layer after the pool gives.
 */
export function maxPoolForward(
  gpu: Gpu,
  x: Tensor,
  g: PoolGeometry,
  relu = false,
): { y: Tensor; argmax: Tensor } {
  const n = x.shape[0];
  const y = gpu.tensor([n, g.c, g.oh, g.ow], "maxpool");
  const argmax = gpu.tensor([n, g.c, g.oh, g.ow], "argmax");
  const blocks = n * g.c * Math.ceil(g.oh / MAX_BLOCK) * Math.ceil(g.ow / MAX_BLOCK);
  gpu.run("pool", "max_forward", [x, y, argmax], params(g, n), gpu.grid1d(blocks), shape(g, relu));
  return { y, argmax };
}

/**
 * dx [N, C, H, W]: each output gradient routed to its window's winner (argmax from maxPoolForward); a new
 * tensor the caller owns. `reluOutput`, the forward's output when it ran with `relu`, stops the gradient where
 * it is 0, as the ReLU layer's backward pass would have.
 */
export function maxPoolBackward(
  gpu: Gpu,
  dy: Tensor,
  argmax: Tensor,
  g: PoolGeometry,
  reluOutput?: Tensor,
): Tensor {
  const n = dy.shape[0];
  const dx = gpu.tensor([n, g.c, g.h, g.w], "dmaxpool", true);
  const ph = phases(g);
  const threads = n * g.c * Math.ceil(g.oh / ph) * Math.ceil(g.ow / ph);
  for (let a = 0; a < ph; a++) {
    for (let b = 0; b < ph; b++) {
      gpu.run(
        "pool",
        "max_backward",
        // The binding is there either way (the kernel is one source); without the ReLU nothing reads it.
        [dy, argmax, dx, reluOutput ?? dy],
        [n * g.c, a, b, 0],
        gpu.grid1d(threads),
        shape(g, reluOutput !== undefined),
      );
    }
  }
  return dx;
}

/** y [N, C, OH, OW]: the mean of each window's in-bounds elements; a new tensor the caller owns. */
export function avgPoolForward(gpu: Gpu, x: Tensor, g: PoolGeometry): Tensor {
  const n = x.shape[0];
  const y = gpu.tensor([n, g.c, g.oh, g.ow], "avgpool");
  gpu.run("pool", "avg_forward", [x, y], params(g, n), gpu.grid1d(y.size), shape(g));
  return y;
}

/**
 * dx [N, C, H, W]: each output gradient spread evenly over its window's in-bounds elements; the caller owns
 * it.
 */
export function avgPoolBackward(gpu: Gpu, dy: Tensor, g: PoolGeometry): Tensor {
  const n = dy.shape[0];
  const dx = gpu.tensor([n, g.c, g.h, g.w], "davgpool");
  gpu.run("pool", "avg_backward", [dy, dx], params(g, n), gpu.grid1d(dx.size), shape(g));
  return dx;
}
