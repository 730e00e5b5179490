// Locally connected (unshared) 2-D layer, as cuda-convnet's CIFAR nets use: weight [OH*OW][Cout][Cin*KH*KW],
// bias [Cout][OH][OW]. It runs as one GEMM per output position, batched (kernels/local.wgsl lays the
// operands out): the direct loops it replaced ran at 0.5 GFLOP/s on llvmpipe.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { rowSum } from "./elementwise.ts";
import { convTemplate } from "./conv2d.ts";
import { stackedMatmul } from "./matmul.ts";
import { chunkBudget, type ImageChunk, imageChunks, roundUp4 } from "./shapes.ts";
import { type ConvGeometry, convGeometry, type ConvSpec } from "./conv_geometry.ts";

/** A locally connected layer's geometry: convGeometry with one group. */
export function localGeometry(s: Omit<ConvSpec, "groups">): ConvGeometry {
  return convGeometry({ ...s, groups: 1 });
}

/** kernels/local.wgsl's Params: the batch size, whether a bias is bound, the chunk of images and its padding. */
const params = (n: number, hasBias: boolean, chunk: ImageChunk) => [
  n,
  hasBias ? 1 : 0,
  chunk.n0,
  chunk.cur,
  roundUp4(chunk.cur),
  0,
  0,
  0,
];

/** The layer's sizes as the GEMMs see them: positions, taps (and padded to 4), and the image chunks. */
function plan(gpu: Gpu, g: ConvGeometry, n: number) {
  const P = g.oh * g.ow, K = g.K, KP = roundUp4(g.K);
  // cols [P][KP][NP] is the largest buffer; whole groups of 4 images keep NP equal to the chunk's size.
  const fit = Math.max(1, Math.floor(chunkBudget(gpu) / (4 * P * KP)));
  return { P, K, KP, chunks: imageChunks(n, fit >= 4 ? fit - (fit % 4) : fit) };
}

/** The weights with rows padded to KP (a copy when K is not a multiple of 4; the caller releases it). */
function paddedWeights(gpu: Gpu, w: Tensor, g: ConvGeometry, P: number, K: number, KP: number) {
  if (K === KP) return { wp: w, owned: false };
  const wp = gpu.tensor([P * g.cout * KP], "local-wpad");
  gpu.run(
    "local",
    "pad_rows",
    [w, wp],
    params(wp.size, false, { n0: 0, cur: 1 }),
    gpu.grid1d(wp.size),
    convTemplate(g),
  );
  return { wp, owned: true };
}

/** cols [P][KP][NP] of one chunk of images (a new tensor the caller owns). */
function columns(gpu: Gpu, x: Tensor, g: ConvGeometry, n: number, chunk: ImageChunk, P: number, KP: number) {
  const cols = gpu.tensor([P * KP * roundUp4(chunk.cur)], "local-cols");
  gpu.run("local", "columns", [x, cols], params(n, false, chunk), gpu.grid1d(cols.size), convTemplate(g));
  return cols;
}

/**
 * y [N, Cout, OH, OW]: each output position with its own filter bank, plus b [Cout][OH][OW] when given; a new
 * tensor the caller owns. One GEMM per position, W_pos [Cout][K] x cols_pos [K][images], batched.
 */
export function localForward(gpu: Gpu, x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const n = x.shape[0];
  const { P, K, KP, chunks } = plan(gpu, g, n);
  const y = gpu.tensor([n, g.cout, g.oh, g.ow], "local");
  const { wp, owned } = paddedWeights(gpu, w, g, P, K, KP);
  for (const chunk of chunks) {
    const NP = roundUp4(chunk.cur);
    const cols = columns(gpu, x, g, n, chunk, P, KP);
    const ypos = gpu.tensor([P * g.cout * NP], "local-ypos");
    stackedMatmul(gpu, { layout: "nn", M: g.cout, N: NP, K: KP, a: wp, b: cols, c: ypos, batch: P });
    gpu.run(
      "local",
      "to_nchw",
      [ypos, b ?? ypos, y],
      params(n, b !== null, chunk),
      gpu.grid1d(chunk.cur * g.cout * P),
      convTemplate(g),
    );
    gpu.release(cols, ypos);
  }
  if (owned) wp.release();
  return y;
}

/**
 * Overwrites grads.dw and grads.db, and returns dx [N, Cin, H, W] unless needDx is false (a new tensor the
 * caller owns). Per position: dW_pos = dY_pos cols_pos^T (summed over the chunks) and dcols_pos = W_pos^T dY_pos,
 * which col2im gathers into dx.
 */
export function localBackward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  g: ConvGeometry,
  grads: { dw: Tensor; db: Tensor | null },
  needDx = true,
): Tensor | null {
  const n = x.shape[0];
  const { P, K, KP, chunks } = plan(gpu, g, n);
  const { wp, owned } = paddedWeights(gpu, w, g, P, K, KP);
  const dwp = K === KP ? grads.dw : gpu.tensor([P * g.cout * KP], "local-dwpad");
  const dx = needDx ? gpu.tensor(x.shape, "dlocal") : null;
  chunks.forEach((chunk, i) => {
    const NP = roundUp4(chunk.cur);
    const cols = columns(gpu, x, g, n, chunk, P, KP);
    const dypos = gpu.tensor([P * g.cout * NP], "local-dypos");
    gpu.run(
      "local",
      "from_nchw",
      [dy, dypos],
      params(n, false, chunk),
      gpu.grid1d(dypos.size),
      convTemplate(g),
    );
    stackedMatmul(gpu, {
      layout: "nt",
      M: g.cout,
      N: KP,
      K: NP,
      a: dypos,
      b: cols,
      c: dwp,
      batch: P,
      accumulate: i > 0,
    });
    if (dx) {
      const dcols = gpu.tensor([P * KP * NP], "local-dcols");
      stackedMatmul(gpu, { layout: "tn", M: KP, N: NP, K: g.cout, a: wp, b: dypos, c: dcols, batch: P });
      gpu.run(
        "local",
        "col2im",
        [dcols, dx],
        params(n, false, chunk),
        gpu.grid1d(chunk.cur * g.cin * g.h * g.w),
        convTemplate(g),
      );
      dcols.release();
    }
    gpu.release(cols, dypos);
  });
  if (dwp !== grads.dw) {
    gpu.run(
      "local",
      "unpad_rows",
      [dwp, grads.dw],
      params(P * g.cout * K, false, chunks[0]),
      gpu.grid1d(P * g.cout * K),
      convTemplate(g),
    );
    dwp.release();
  }
  if (owned) wp.release();
  if (grads.db) rowSum(gpu, dy, grads.db, n, g.cout * P, g.cout * P);
  return dx;
}
