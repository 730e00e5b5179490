// 2-D convolution (any kernel, stride, padding, groups) as im2col + register-blocked GEMM, chunked over the
// batch so the column matrix stays within the adapter's binding limit; stride-1 3x3 and 5x5 layers with
// enough channels run all three products through Winograd instead (winograd.ts); conv_geometry.ts holds the
// geometry and which engine a layer uses. Weights live on the GPU as [Cout][Kp] with K = Cin/groups*KH*KW
// padded to Kp (a multiple of 4, zero columns) for vec4 loads.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { matmul } from "./matmul.ts";
import { channelSum } from "./elementwise.ts";
import { roundUp4 } from "./shapes.ts";
import type { ConvGeometry } from "./conv_geometry.ts";
import { winogradConv, winogradWeightGradient } from "./winograd.ts";

export {
  CONV_ALGORITHMS,
  type ConvAlgorithm,
  type ConvGeometry,
  convGeometry,
  type ConvShape,
  type ConvSpec,
} from "./conv_geometry.ts";

/** Images per chunk so that the column matrix and the GEMM output each fit the binding limit and budget. */
function chunkImages(gpu: Gpu, g: ConvGeometry, n: number): number {
  const budget = Math.min(gpu.maxBinding, 512 * 2 ** 20);
  const perImage = g.oh * g.ow * 4 * Math.max(g.groups * g.Kp, g.cout);
  const most = Math.max(1, Math.min(n, Math.floor(budget / perImage)));
  // Even chunks: a small last chunk would run its GEMMs on too few columns.
  const nb = Math.ceil(n / Math.ceil(n / most));
  if (perImage + 16 > gpu.maxBinding) {
    throw new Error(
      `conv ${g.cin}x${g.h}x${g.w} -> ${g.cout}: one image's column matrix needs ${
        (perImage / 2 ** 20).toFixed(0)
      } MiB, over the adapter's binding limit`,
    );
  }
  return nb;
}

function convParams(g: ConvGeometry, nb: number, n0: number, NCp: number): number[] {
  return [
    nb,
    g.cin,
    g.h,
    g.w,
    g.cg,
    g.kh,
    g.kw,
    g.stride,
    g.pad,
    g.oh,
    g.ow,
    g.K,
    g.Kp,
    NCp,
    n0,
    g.groups,
    g.cout,
    0,
    0,
    0,
  ];
}

/** Template values compiling the layer's geometry into kernels/conv.wgsl. */
function shape(g: ConvGeometry) {
  return {
    C: g.cin,
    H: g.h,
    W: g.w,
    CG: g.cg,
    KH: g.kh,
    KW: g.kw,
    STRIDE: g.stride,
    PAD: g.pad,
    OH: g.oh,
    OW: g.ow,
    K: g.K,
    KP: g.Kp,
    G: g.groups,
    COUT: g.cout,
  };
}

function im2col(gpu: Gpu, x: Tensor, col: Tensor, g: ConvGeometry, nb: number, n0: number, NCp: number) {
  gpu.run("conv", "im2col", [x, col], convParams(g, nb, n0, NCp), [
    Math.ceil(NCp / 4 / 64),
    Math.ceil(g.Kp / 4),
    g.groups,
  ], shape(g));
}

/**
 * `keepCols`, when given, receives each chunk's column matrix instead of having it freed, so the backward pass
 * can reuse it (one im2col per step instead of two, at the cost of holding the columns until then).
 */
export function conv2dForward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  keepCols?: Tensor[],
): Tensor {
  if (g.winograd) return winogradConv(gpu, x, w, b, g, "forward");
  const n = x.shape[0];
  const y = gpu.tensor([n, g.cout, g.oh, g.ow], "conv");
  const nb = chunkImages(gpu, g, n);
  for (let n0 = 0; n0 < n; n0 += nb) {
    const cur = Math.min(nb, n - n0);
    const NCp = roundUp4(cur * g.oh * g.ow);
    const col = gpu.tensor([g.groups, g.Kp, NCp], "col");
    const ycn = gpu.tensor([g.cout, NCp], "ycn");
    im2col(gpu, x, col, g, cur, n0, NCp);
    matmul(gpu, {
      layout: "nn",
      M: g.coutg,
      N: NCp,
      K: g.Kp,
      a: w,
      lda: g.Kp,
      strideA: g.coutg * g.Kp,
      b: col,
      ldb: NCp,
      strideB: g.Kp * NCp,
      c: ycn,
      ldc: NCp,
      strideC: g.coutg * NCp,
      batch: g.groups,
      bias: b,
      biasMode: b ? "row" : "none",
      strideBias: g.coutg,
    });
    gpu.run(
      "conv",
      "cn_to_nchw",
      [ycn, y],
      convParams(g, cur, n0, NCp),
      gpu.grid1d(cur * g.cout * g.oh * g.ow),
      shape(g),
    );
    if (keepCols) keepCols.push(col);
    else col.release();
    ycn.release();
  }
  return y;
}

export interface ConvGrads {
  dw: Tensor;
  db: Tensor | null;
  /** Column matrices kept by the forward pass (conv2dForward's keepCols); consumed and freed here. */
  cols?: Tensor[];
}

/** Bytes of column matrices a forward pass over `n` images would keep. */
export function columnBytes(g: ConvGeometry, n: number): number {
  return 4 * g.groups * g.Kp * (n * g.oh * g.ow + 4);
}

/** Writes dw (and db) and returns dx unless `needDx` is false (the first layer's input needs none). */
export function conv2dBackward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  g: ConvGeometry,
  grads: ConvGrads,
  needDx = true,
): Tensor | null {
  const n = x.shape[0];
  if (g.winograd) {
    for (const col of grads.cols?.splice(0) ?? []) col.release();
    winogradWeightGradient(gpu, x, dy, grads.dw, g);
    if (grads.db) channelSum(gpu, dy, grads.db, n, g.cout, g.oh * g.ow);
    return needDx ? winogradConv(gpu, dy, w, null, g, "input-gradient") : null;
  }
  const dx = needDx ? gpu.tensor(x.shape, "dconv") : null;
  const nb = chunkImages(gpu, g, n);
  for (let n0 = 0; n0 < n; n0 += nb) {
    const cur = Math.min(nb, n - n0);
    const NCp = roundUp4(cur * g.oh * g.ow);
    const params = convParams(g, cur, n0, NCp);
    const kept = grads.cols?.shift();
    const col = kept ?? gpu.tensor([g.groups, g.Kp, NCp], "col");
    const dycn = gpu.tensor([g.cout, NCp], "dycn");
    if (!kept) im2col(gpu, x, col, g, cur, n0, NCp);
    gpu.run("conv", "nchw_to_cn", [dy, dycn], params, gpu.grid1d(g.cout * NCp), shape(g));
    matmul(gpu, {
      layout: "nt",
      M: g.coutg,
      N: g.Kp,
      K: NCp,
      a: dycn,
      lda: NCp,
      strideA: g.coutg * NCp,
      b: col,
      ldb: NCp,
      strideB: g.Kp * NCp,
      c: grads.dw,
      ldc: g.Kp,
      strideC: g.coutg * g.Kp,
      batch: g.groups,
      accumulate: n0 > 0,
    });
    if (dx) {
      // The column buffer is free again once the weight gradient above has read it (stream order).
      matmul(gpu, {
        layout: "tn",
        M: g.Kp,
        N: NCp,
        K: g.coutg,
        a: w,
        lda: g.Kp,
        strideA: g.coutg * g.Kp,
        b: dycn,
        ldb: NCp,
        strideB: g.coutg * NCp,
        c: col,
        ldc: NCp,
        strideC: g.Kp * NCp,
        batch: g.groups,
      });
      gpu.run("conv", "col2im", [col, dx], params, gpu.grid1d(cur * g.cin * g.h * g.w), shape(g));
    }
    col.release();
    dycn.release();
  }
  if (grads.db) channelSum(gpu, dy, grads.db, n, g.cout, g.oh * g.ow);
  return dx;
}
