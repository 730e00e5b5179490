// Fully connected layer: y [N][Outp] = x [N][Inp] W^T + b, with W stored [Outp][Inp] in row chunks so a weight
// larger than the binding limit (AlexNet's fc6 is 151 MB) is split across buffers, and the GEMMs with it.
// Out and In are padded to multiples of 4 (zero rows/columns) for vec4 loads.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { matmul } from "./matmul.ts";
import { rowSum } from "./elementwise.ts";
import { roundUp4 } from "./shapes.ts";

/** A fully connected layer's padded sizes and how its weight is split into buffers (linearGeometry). */
export interface LinearGeometry {
  /** Input features. */
  inF: number;
  /** Output features. */
  outF: number;
  /** inF rounded up to a multiple of 4: the row width of x, W and dx. */
  inP: number;
  /** outF rounded up to a multiple of 4: the row width of y and dy. */
  outP: number;
  /** Row ranges [start, end) of W held by each chunk; every start is a multiple of 4. */
  chunks: [number, number][];
}

/** Pads both sizes to multiples of 4 and splits W's rows into chunks of at most maxBindingBytes each. */
export function linearGeometry(inF: number, outF: number, maxBindingBytes: number): LinearGeometry {
  const inP = roundUp4(inF);
  const outP = roundUp4(outF);
  const rowsPerChunk = Math.max(4, Math.floor(maxBindingBytes / (inP * 4) / 4) * 4);
  const chunks: [number, number][] = [];
  for (let r = 0; r < outP; r += rowsPerChunk) chunks.push([r, Math.min(outP, r + rowsPerChunk)]);
  return { inF, outF, inP, outP, chunks };
}

/** y [N][outP] = x [N][inP] W^T + b (b optional), W as g's row chunks; a new tensor the caller owns. */
export function linearForward(gpu: Gpu, x: Tensor, w: Tensor[], b: Tensor | null, g: LinearGeometry): Tensor {
  const n = x.shape[0];
  const y = gpu.tensor([n, g.outP], "linear");
  g.chunks.forEach(([r0, r1], c) => {
    matmul(gpu, {
      layout: "nt",
      M: n,
      N: r1 - r0,
      K: g.inP,
      a: x,
      lda: g.inP,
      b: w[c],
      ldb: g.inP,
      c: y,
      ldc: g.outP,
      offC: r0,
      bias: b,
      biasMode: b ? "col" : "none",
      offBias: r0,
    });
  });
  return y;
}

/**
 * Overwrites grads.dw (one tensor per chunk) and grads.db, and returns dx [N][inP] unless needDx is false (a
 * new tensor the caller owns).
 */
export function linearBackward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor[],
  dy: Tensor,
  g: LinearGeometry,
  grads: { dw: Tensor[]; db: Tensor | null },
  needDx = true,
): Tensor | null {
  const n = x.shape[0];
  const dx = needDx ? gpu.tensor([n, g.inP], "dlinear") : null;
  g.chunks.forEach(([r0, r1], c) => {
    if (dx) {
      matmul(gpu, {
        layout: "nn",
        M: n,
        N: g.inP,
        K: r1 - r0,
        a: dy,
        lda: g.outP,
        offA: r0,
        b: w[c],
        ldb: g.inP,
        c: dx,
        ldc: g.inP,
        accumulate: c > 0,
      });
    }
    matmul(gpu, {
      layout: "tn",
      M: r1 - r0,
      N: g.inP,
      K: n,
      a: dy,
      lda: g.outP,
      offA: r0,
      b: x,
      ldb: g.inP,
      c: grads.dw[c],
      ldc: g.inP,
    });
  });
  if (grads.db) rowSum(gpu, dy, grads.db, n, g.outP, g.outP);
  return dx;
}
