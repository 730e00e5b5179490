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
import type { PreparedWeights } from "./prepared_weights.ts";

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

/**
 * Output channels (tm) and outputs along a row (tn) per thread of kernels/conv_direct.wgsl's forward. Each
 * output's sum runs in the same order whatever the tile, so the numbers are the same bits; the tiles are what
 * ran fastest on llvmpipe (BENCHMARKS.md, 2026-12-08). A stride-1 layer (the CIFAR nets' 5x5 conv1) loads
 * little per row, so a 16 x 8 tile spills fewer accumulators than 32 x 8 (CIFAR conv1 about 80 -> 55 ms); a
 * strided 11x11 layer reuses each input row over more outputs, 12 per thread, with 24 channels where they
 * divide the layer's (AlexNet's 48 and 96: no idle channels in a 32 block). 16 channels where that covers
 * them all, since a wider block would leave lanes idle (alexnet-mini-one-tower's 16: 41 -> 18 ms).
 */
function directTiles(g: ConvGeometry): { tm: number; tn: number } {
  if (g.cout <= 16 || g.stride === 1) return { tm: 16, tn: 8 };
  return { tm: g.cout % 24 === 0 ? 24 : 32, tn: 12 };
}
/**
 * Output channels and outputs along a row per step of the direct weight gradient: 4 outputs rather than 8
 * keep its accumulators (8 channels x a kernel's rows x taps) fewer to spill (CIFAR conv1 44 -> 37 ms,
 * AlexNet's 48-channel conv1 136 -> 87 ms on llvmpipe). Its batch slices, and so its sums' order, do not
 * depend on these.
 */
const DIRECT_TMW = 8, DIRECT_TNW = 4;

/** kernels/conv_direct.wgsl's template for a layer: tile sizes and the vec4 or scalar row functions. */
function directTemplate(g: ConvGeometry): TemplateValues {
  const { tm, tn } = directTiles(g);
  const coutP = Math.ceil(g.cout / tm) * tm;
  // The input values a row of tn outputs spans (the weight gradient's DIRECT_TNW outputs use the first ones).
  const seg = (Math.max(tn, DIRECT_TNW) - 1) * g.stride + g.kw;
  // vec4 rows where every thread's first input (ow0 * stride) and every row start at a multiple of 4.
  const vecIn = g.w % 4 === 0 && (tn * g.stride) % 4 === 0 && (DIRECT_TNW * g.stride) % 4 === 0;
  const alignShift = roundUp4(g.pad) - g.pad;
  // The weight gradient's threads own all kernel rows where that keeps their accumulators few enough.
  const khb = DIRECT_TMW * g.kh * g.kw <= 256 ? g.kh : 1;
  return {
    ...convTemplate(g),
    TM: tm,
    TN: tn,
    TM4: tm / 4,
    TN4: tn / 4,
    TMW: DIRECT_TMW,
    TNW: DIRECT_TNW,
    TNW4: DIRECT_TNW / 4,
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
  prepared: PreparedWeights | null,
): Tensor {
  const n = x.shape[0];
  const y = gpu.tensor([n, g.cout, g.oh, g.ow], "conv");
  const template = directTemplate(g);
  const coutP = template.COUTP as number;
  const transpose = () => {
    const wt = gpu.tensor([g.Kp, coutP], "conv-wt");
    gpu.run("conv_direct", "weights_t", [w, wt], [g.Kp * coutP, 0, 0, 0], [
      Math.ceil((g.Kp * coutP) / 64),
      1,
      1,
    ], template);
    return wt;
  };
  const wt = prepared ? prepared.get(`direct ${g.Kp}x${coutP}`, transpose) : transpose();
  const groups: [number, number, number] = [
    Math.ceil((n * g.oh * Math.ceil(g.ow / (template.TN as number))) / 64),
    Math.ceil(g.cout / (template.TM as number)),
    1,
  ];
  gpu.run("conv_direct", "forward", [x, wt, b ?? wt, y], [n, b ? 1 : 0, 0, relu ? 1 : 0], groups, template);
  if (!prepared) wt.release();
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
 * `prepared` keeps the weights' transformed form for the next call while they stay the same.
 */
export function conv2dForward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  keep: ConvColumns | null = null,
  relu = false,
  prepared: PreparedWeights | null = null,
): Tensor {
  if (g.winograd) return winogradConv(gpu, x, w, b, g, "forward", keep, relu, prepared);
  if (g.direct) return directForward(gpu, x, w, b, g, relu, prepared);
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
