// 2-D convolution (any kernel, stride, padding, groups): one op with two engines. The im2col engine here
// builds column matrices and runs register-blocked GEMMs, chunked over the batch so the column matrix stays
// within the adapter's binding limit; stride-1 3x3 and 5x5 layers with enough channels run all three products
// through Winograd instead (winograd.ts). conv_geometry.ts holds the geometry and which engine a layer uses.
// Weights live on the GPU as [Cout][Kp] with K = Cin/groups*KH*KW padded to Kp (a multiple of 4, zero
// columns) for vec4 loads.

import type { TemplateValues } from "../../gpu/kernels.ts";
import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { stackedMatmul } from "./matmul.ts";
import { channelSum } from "./elementwise.ts";
import { chunkBudget, type ImageChunk, imageChunks, roundUp4 } from "./shapes.ts";
import type { ConvGeometry } from "./conv_geometry.ts";
import { winogradConv, winogradInputBytes, winogradWeightGradient } from "./winograd.ts";

export {
  CONV_ALGORITHMS,
  type ConvAlgorithm,
  type ConvGeometry,
  convGeometry,
  type ConvShape,
  type ConvSpec,
} from "./conv_geometry.ts";

/**
 * One chunk of the batch: its images, its column count padded to a multiple of 4, and the uniform block
 * (kernels/conv.wgsl's Params; the layer's geometry is compiled in, see convTemplate).
 */
interface ColumnChunk extends ImageChunk {
  NCp: number;
  params: number[];
}

/** The batch in chunks whose column matrix and GEMM output each fit the binding limit and budget. */
function columnChunks(gpu: Gpu, g: ConvGeometry, n: number): ColumnChunk[] {
  const perImage = g.oh * g.ow * 4 * Math.max(g.groups * g.Kp, g.cout);
  if (perImage + 16 > gpu.maxBinding) {
    throw new Error(
      `conv ${g.cin}x${g.h}x${g.w} -> ${g.cout}: one image's column matrix needs ${
        (perImage / 2 ** 20).toFixed(0)
      } MiB, over the adapter's binding limit`,
    );
  }
  return imageChunks(n, Math.floor(chunkBudget(gpu) / perImage)).map(({ n0, cur }) => {
    const NCp = roundUp4(cur * g.oh * g.ow);
    return { n0, cur, NCp, params: [cur, n0, NCp, 0] };
  });
}

const templates = new WeakMap<ConvGeometry, TemplateValues>();
/**
 * Template values compiling a layer's geometry into kernels/conv.wgsl (and kernels/local.wgsl, which uses a
 * subset): one pipeline per layer shape. Built once per geometry.
 */
export function convTemplate(g: ConvGeometry): TemplateValues {
  let t = templates.get(g);
  if (!t) {
    t = {
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
    templates.set(g, t);
  }
  return t;
}

function im2col(gpu: Gpu, x: Tensor, col: Tensor, g: ConvGeometry, c: ColumnChunk) {
  gpu.run("conv", "im2col", [x, col], c.params, [
    Math.ceil(c.NCp / 4 / 64),
    Math.ceil(g.Kp / 4),
    g.groups,
  ], convTemplate(g));
}

/** Column matrices up to this size are kept from forward to backward instead of being rebuilt. */
const KEEP_COLUMNS_BYTES = 256 * 2 ** 20;

/**
 * The im2col column matrices (or Winograd's transformed input tiles) of one training forward pass, one per
 * chunk, kept for its backward pass: built once per step instead of twice, at the cost of holding them until
 * then. conv2dBackward consumes them.
 */
export class ConvColumns {
  readonly #chunks: Tensor[] = [];

  /** Keeps one chunk's columns, in forward order; they belong to this ConvColumns from then on. */
  push(col: Tensor): void {
    this.#chunks.push(col);
  }

  /** The next chunk's columns, in forward order. */
  take(): Tensor | undefined {
    return this.#chunks.shift();
  }

  /** Frees what no backward pass consumed (a training forward that was never followed by one). */
  release(): void {
    for (const col of this.#chunks.splice(0)) col.release();
  }
}

/** Bytes of column matrices (Winograd: transformed input tiles) a forward pass over `n` images would keep. */
function columnBytes(g: ConvGeometry, n: number): number {
  return g.winograd ? winogradInputBytes(g, n) : 4 * g.groups * g.Kp * (n * g.oh * g.ow + 4);
}

/**
 * Somewhere for a training forward over `n` images to keep its columns (or Winograd's transformed input,
 * which the weight gradient reads again), or null where they are over KEEP_COLUMNS_BYTES and are rebuilt.
 */
export function keepColumns(g: ConvGeometry, n: number): ConvColumns | null {
  return !g.direct && columnBytes(g, n) <= KEEP_COLUMNS_BYTES ? new ConvColumns() : null;
}

/** Output channels and outputs along a row per thread of kernels/conv_direct.wgsl: on llvmpipe 32x8 beat 16x8, 24x8, 16x16, 8x16 and 16-64x4. */
const DIRECT_TM = 32, DIRECT_TN = 8;
/**
 * Channels per thread for a layer: 16 where that covers every output channel, since a 32-channel block would
 * leave half its lanes idle (alexnet-mini-one-tower's 16-channel conv1: 41 -> 18 ms on llvmpipe). Each output's
 * sum runs in the same order either way, so the numbers are the same bits.
 */
function directChannels(g: ConvGeometry): number {
  return g.cout <= 16 ? 16 : DIRECT_TM;
}
/** Output channels per thread of the direct weight gradient. */
const DIRECT_TMW = 8;

/** kernels/conv_direct.wgsl's template for a layer: tile sizes and the vec4 or scalar row functions. */
function directTemplate(g: ConvGeometry): TemplateValues {
  const tm = directChannels(g);
  const coutP = Math.ceil(g.cout / tm) * tm;
  const seg = (DIRECT_TN - 1) * g.stride + g.kw;
  // vec4 rows where every thread's first input (ow0 * stride) and every row start at a multiple of 4.
  const vecIn = g.w % 4 === 0 && (DIRECT_TN * g.stride) % 4 === 0;
  const alignShift = roundUp4(g.pad) - g.pad;
  // The weight gradient's threads own all kernel rows where that keeps their accumulators few enough.
  const khb = DIRECT_TMW * g.kh * g.kw <= 256 ? g.kh : 1;
  return {
    ...convTemplate(g),
    TM: tm,
    TN: DIRECT_TN,
    TM4: tm / 4,
    TN4: DIRECT_TN / 4,
    TMW: DIRECT_TMW,
    KHB: khb,
    KHB_KW: khb * g.kw,
    SEG: seg,
    SEG4: Math.ceil((alignShift + seg) / 4),
    ALIGN_SHIFT: alignShift,
    COUTP: coutP,
    LOAD_ROW: vecIn ? "loadRowVec4" : "loadRowScalar",
    STORE_ROW: g.ow % 4 === 0 ? "storeRowVec4" : "storeRowScalar",
    LOAD_DY: g.ow % 4 === 0 ? "loadDyVec4" : "loadDyScalar",
  };
}

/** y = conv(x, w) + b (then relu(y)) by the direct kernel: no column matrix, output written in NCHW. */
function directForward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  relu: boolean,
): Tensor {
  const n = x.shape[0];
  const y = gpu.tensor([n, g.cout, g.oh, g.ow], "conv");
  const template = directTemplate(g);
  const coutP = template.COUTP as number;
  const wt = gpu.tensor([g.Kp, coutP], "conv-wt");
  gpu.run("conv_direct", "weights_t", [w, wt], [g.Kp * coutP, 0, 0, 0], [
    Math.ceil((g.Kp * coutP) / 64),
    1,
    1,
  ], template);
  const groups: [number, number, number] = [
    Math.ceil((n * g.oh * Math.ceil(g.ow / DIRECT_TN)) / 64),
    Math.ceil(g.cout / directChannels(g)),
    1,
  ];
  gpu.run("conv_direct", "forward", [x, wt, b ?? wt, y], [n, b ? 1 : 0, 0, relu ? 1 : 0], groups, template);
  wt.release();
  return y;
}

/** Threads a direct weight gradient aims for, over its slices of the batch (two cores' lanes, many times). */
const DIRECT_WEIGHT_GRAD_THREADS = 2048;

/**
 * Slices of a batch of n for a reduction whose every slice runs `threads` threads: enough slices for about
 * DIRECT_WEIGHT_GRAD_THREADS in all, each of perSlice images (the last may have fewer, none is empty).
 */
export function batchSlices(n: number, threads: number): { perSlice: number; slices: number } {
  const perSlice = Math.ceil(n / Math.min(n, Math.ceil(DIRECT_WEIGHT_GRAD_THREADS / threads)));
  return { perSlice, slices: Math.ceil(n / perSlice) };
}

/** dw (overwritten) by the direct kernel, summed over batch slices; for layers whose dx nobody needs. */
function directWeightGradient(gpu: Gpu, x: Tensor, dy: Tensor, dw: Tensor, g: ConvGeometry): void {
  const n = x.shape[0];
  const template = directTemplate(g);
  const threads = Math.ceil(g.cout / DIRECT_TMW) * g.cin * (g.kh / (template.KHB as number));
  const { perSlice, slices } = batchSlices(n, threads);
  const sliceSize = roundUp4(g.cout * g.Kp);
  // Zeroed: the padding columns K..Kp-1 are never written and must sum to zero.
  const partial = gpu.tensor([slices, sliceSize], "splitk", true);
  gpu.run("conv_direct", "weight_grad", [x, dy, partial], [n, 0, perSlice, 0], [
    Math.ceil(threads / 64),
    slices,
    1,
  ], template);
  gpu.run(
    "reduce",
    "sum_slices",
    [partial, dw, partial],
    [g.cout, g.Kp, slices, 0, g.Kp, 0, 0, 0],
    gpu.grid1d(g.cout * g.Kp),
  );
  partial.release();
}

/**
 * y = conv(x, w) + b. `keep` (from keepColumns) receives the column matrices instead of their being freed.
 * `relu` returns relu(y) instead, bit for bit what a ReLU layer after the conv gives, in the pass that writes y.
 */
export function conv2dForward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  keep: ConvColumns | null = null,
  relu = false,
): Tensor {
  if (g.winograd) return winogradConv(gpu, x, w, b, g, "forward", keep, relu);
  if (g.direct) return directForward(gpu, x, w, b, g, relu);
  const n = x.shape[0];
  const y = gpu.tensor([n, g.cout, g.oh, g.ow], "conv");
  for (const c of columnChunks(gpu, g, n)) {
    const col = gpu.tensor([g.groups, g.Kp, c.NCp], "col");
    const ycn = gpu.tensor([g.cout, c.NCp], "ycn");
    im2col(gpu, x, col, g, c);
    stackedMatmul(gpu, {
      layout: "nn",
      M: g.coutg,
      N: c.NCp,
      K: g.Kp,
      a: w,
      b: col,
      c: ycn,
      batch: g.groups,
      bias: b,
      biasMode: b ? "row" : "none",
      strideBias: g.coutg,
    });
    gpu.run(
      "conv",
      "cn_to_nchw",
      [ycn, y],
      [...c.params.slice(0, 3), relu ? 1 : 0],
      gpu.grid1d(c.cur * g.cout * g.oh * g.ow),
      convTemplate(g),
    );
    if (keep) keep.push(col);
    else col.release();
    ycn.release();
  }
  return y;
}

/** Where conv2dBackward writes the parameter gradients. */
export interface ConvGrads {
  /** Weight gradient [Cout][Kp], overwritten. */
  dw: Tensor;
  /** Bias gradient [Cout], overwritten; null when none is wanted. */
  db: Tensor | null;
  /** Column matrices kept by the forward pass (conv2dForward's `keep`); consumed and freed here. */
  cols?: ConvColumns | null;
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
    winogradWeightGradient(gpu, x, dy, grads.dw, g, grads.cols);
    if (grads.db) channelSum(gpu, dy, grads.db, n, g.cout, g.oh * g.ow);
    return needDx ? winogradConv(gpu, dy, w, null, g, "input-gradient") : null;
  }
  if (g.direct && !needDx) {
    directWeightGradient(gpu, x, dy, grads.dw, g);
    if (grads.db) channelSum(gpu, dy, grads.db, n, g.cout, g.oh * g.ow);
    return null;
  }
  const dx = needDx ? gpu.tensor(x.shape, "dconv") : null;
  for (const c of columnChunks(gpu, g, n)) {
    const kept = grads.cols?.take();
    const col = kept ?? gpu.tensor([g.groups, g.Kp, c.NCp], "col");
    const dycn = gpu.tensor([g.cout, c.NCp], "dycn");
    if (!kept) im2col(gpu, x, col, g, c);
    gpu.run("conv", "nchw_to_cn", [dy, dycn], c.params, gpu.grid1d(g.cout * c.NCp), convTemplate(g));
    stackedMatmul(gpu, {
      layout: "nt",
      M: g.coutg,
      N: g.Kp,
      K: c.NCp,
      a: dycn,
      b: col,
      c: grads.dw,
      batch: g.groups,
      accumulate: c.n0 > 0,
    });
    if (dx) {
      // The column buffer is free again once the weight gradient above has read it (stream order).
      stackedMatmul(gpu, {
        layout: "tn",
        M: g.Kp,
        N: c.NCp,
        K: g.coutg,
        a: w,
        b: dycn,
        c: col,
        batch: g.groups,
      });
      gpu.run("conv", "col2im", [col, dx], c.params, gpu.grid1d(c.cur * g.cin * g.h * g.w), convTemplate(g));
    }
    col.release();
    dycn.release();
  }
  if (grads.db) channelSum(gpu, dy, grads.db, n, g.cout, g.oh * g.ow);
  return dx;
}
