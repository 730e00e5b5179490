// Winograd F(2x2) and F(4x4) convolution of 3x3 and 5x5 kernels (kernels/winograd.wgsl), for stride-1 layers
// with enough channels: the forward pass and the input gradient (a stride-1 convolution of dy with the rotated,
// transposed filters), and the weight gradient (a GEMM over tiles in the transformed domain). conv2d.ts picks
// this engine (ConvGeometry.winograd); a Plan holds the sizes every pass derives from the geometry.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { winogradMatrices } from "../../math/winograd.ts";
import { stackedMatmul } from "./matmul.ts";
import { chunkBudget, imageChunks, roundUp4 } from "./shapes.ts";
import { type ConvGeometry, winogradApplies } from "./conv_geometry.ts";
import type { ConvColumns } from "./conv2d.ts";
import type { PreparedWeights } from "./prepared_weights.ts";

/** Template values compiling F(TILE x TILE, R x R) into kernels/winograd.wgsl. */
type WinogradTemplate = {
  TILE: number;
  ALPHA: number;
  R: number;
  ALPHA2: number;
  ALPHA_R: number;
  TILE_ALPHA: number;
  BT: string;
  GM: string;
  AT: string;
};

const templates = new Map<string, WinogradTemplate>();
/** Built once per tile and kernel size: the matrices and their float32 literals. */
function template(tile: number, r: number): WinogradTemplate {
  let t = templates.get(`${tile}x${r}`);
  if (!t) {
    const mat = winogradMatrices(tile, r);
    const list = (a: Float64Array) =>
      Array.from(a, (v) => `${Math.fround(v)}`).map((s) => s.includes(".") || s.includes("e") ? s : `${s}.0`)
        .join(", ");
    t = {
      TILE: tile,
      ALPHA: mat.alpha,
      R: r,
      ALPHA2: mat.alpha * mat.alpha,
      ALPHA_R: mat.alpha * r,
      TILE_ALPHA: tile * mat.alpha,
      BT: list(mat.BT),
      GM: list(mat.G),
      AT: list(mat.AT),
    };
    templates.set(`${tile}x${r}`, t);
  }
  return t;
}

/**
 * One Winograd convolution: the layer's forward (also the weight gradient's) or its input gradient, which
 * convolves dy back to the input's shape, so channels and sizes swap and the padding becomes k - 1 - pad.
 */
interface Plan {
  /** Input channels (all groups), input and output channels per group, spatial sizes and padding. */
  cin: number;
  cg: number;
  og: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  pad: number;
  groups: number;
  /** Output channels over all groups. */
  cout: number;
  /** cg padded to a multiple of 4, the GEMMs' inner size. */
  cgp: number;
  /** Output tiles per image: rows, columns and in all. */
  th: number;
  tw: number;
  tiles: number;
  /** Transformed positions per tile. */
  alpha2: number;
  /** The layer's weight row width (conv2d.ts's Kp). */
  Kp: number;
  /** 1 for the input gradient: the weights kernel rotates and transposes the filters. */
  flip: number;
  template: WinogradTemplate;
  /** The kernel size, for profile labels. */
  kernel: string;
}

/**
 * F(4x4) once the batch has this many of its tiles: below it (one image through AlexNet's 13x13 layers has 16)
 * the GEMM over tiles has too few columns to keep the adapter's threads busy and F(2x2)'s 4x more tiles win.
 */
const F4_MIN_TILES = 256;

/** The output tile for a batch of n: the geometry's fixed one, else F(4x4) where the batch has tiles enough. */
export function winogradTileFor(g: ConvGeometry, n: number): number {
  if (g.winogradTile) return g.winogradTile;
  return n * Math.ceil(g.oh / 4) * Math.ceil(g.ow / 4) >= F4_MIN_TILES ? 4 : 2;
}

function plan(g: ConvGeometry, n: number, direction: "forward" | "input-gradient"): Plan {
  if (!winogradApplies(g)) {
    throw new Error(`winograd: ${g.kh}x${g.kw} stride ${g.stride} pad ${g.pad} does not apply`);
  }
  const fwd = direction === "forward";
  const sizes = fwd
    ? { cin: g.cin, cg: g.cg, og: g.coutg, h: g.h, w: g.w, oh: g.oh, ow: g.ow, pad: g.pad }
    : { cin: g.cout, cg: g.coutg, og: g.cg, h: g.oh, w: g.ow, oh: g.h, ow: g.w, pad: g.kh - 1 - g.pad };
  const tile = winogradTileFor(g, n);
  const t = template(tile, g.kh);
  const th = Math.ceil(sizes.oh / tile), tw = Math.ceil(sizes.ow / tile);
  return {
    ...sizes,
    groups: g.groups,
    cout: g.groups * sizes.og,
    cgp: roundUp4(sizes.cg),
    th,
    tw,
    tiles: th * tw,
    alpha2: t.ALPHA2,
    Kp: g.Kp,
    flip: fwd ? 0 : 1,
    template: t,
    kernel: `F(${tile}x${tile}, ${g.kh}x${g.kw})`,
  };
}

/** The uniform block: the chunk (cur images from n0, P tiles padded to Pp) and the plan's sizes. */
function params(p: Plan, hasBias: boolean, cur = 0, n0 = 0, P = 0, Pp = 0, relu = false): number[] {
  return [
    cur,
    n0,
    p.cin,
    p.h,
    p.w,
    p.pad,
    p.th,
    p.tw,
    P,
    Pp,
    p.groups,
    p.cg,
    p.cgp,
    p.og,
    p.oh,
    p.ow,
    p.Kp,
    p.flip,
    hasBias ? 1 : 0,
    relu ? 1 : 0,
  ];
}

interface Chunk {
  n0: number;
  cur: number;
  /** Tiles in the chunk, and padded to a multiple of 4 (the GEMMs' column count). */
  P: number;
  Pp: number;
  params: number[];
}

/** The batch in chunks whose transformed input and GEMM output (the larger per image) fit the binding limit. */
function chunks(gpu: Gpu, p: Plan, n: number, hasBias: boolean, relu = false): Chunk[] {
  const rows = p.alpha2 * p.groups * Math.max(p.cgp, p.og);
  const perImage = 4 * rows * p.tiles;
  const budget = chunkBudget(gpu);
  // Each chunk's tile count is padded by up to three columns.
  if (perImage + 16 * rows > budget) {
    throw new Error(
      `winograd conv ${p.cin} -> ${p.cout} at ${p.h}x${p.w}: one image's transformed tiles exceed the binding limit`,
    );
  }
  return imageChunks(n, Math.floor((budget - 16 * rows) / perImage)).map(({ n0, cur }) => {
    const P = cur * p.tiles, Pp = roundUp4(P);
    return { n0, cur, P, Pp, params: params(p, hasBias, cur, n0, P, Pp, relu) };
  });
}

/** One kernels/winograd.wgsl dispatch: one thread per (x, y), in rows of 64 along x. */
function dispatch(
  gpu: Gpu,
  p: Plan,
  entry: string,
  buffers: Tensor[],
  params: number[],
  [x, y]: [number, number],
  tag: string,
): void {
  gpu.run("winograd", entry, buffers, params, [Math.ceil(x / 64), y, 1], p.template, tag);
}

/** Bytes of the transformed input tiles of a forward pass over `n` images, all chunks together. */
export function winogradInputBytes(g: ConvGeometry, n: number): number {
  const p = plan(g, n, "forward");
  return 4 * p.alpha2 * p.groups * p.cgp * (n * p.tiles + 4);
}

/** V = B^T d B for every tile of the chunk: [alpha2][G][cgp][Pp]. */
function transformInput(gpu: Gpu, x: Tensor, p: Plan, c: Chunk): Tensor {
  const V = gpu.tensor([p.alpha2, p.groups, p.cgp, c.Pp], "wino-v");
  dispatch(gpu, p, "input", [x, V], c.params, [c.Pp, p.groups * p.cgp], `${c.P} tiles`);
  return V;
}

/**
 * y = conv(x, w) (+ bias) for "forward", or dx = conv_full(dy, rot180(w)^T) for "input-gradient" (then x is
 * dy and the result has the layer input's shape). w is the layer's [Cout][Kp] weight in both cases. `relu`
 * applies a ReLU to the forward's output as it is written.
 */
export function winogradConv(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  direction: "forward" | "input-gradient",
  keep: ConvColumns | null = null,
  relu = false,
  prepared: PreparedWeights | null = null,
): Tensor {
  const n = x.shape[0];
  const p = plan(g, n, direction);
  const y = gpu.tensor([n, p.cout, p.oh, p.ow], direction === "forward" ? "conv" : "dconv");
  const parts = chunks(gpu, p, n, bias !== null, relu);
  const shape = [p.alpha2, p.groups, p.og, p.cgp];
  const transform = () => {
    const U = gpu.tensor(shape, "wino-u");
    dispatch(gpu, p, "weights", [w, U], params(p, bias !== null), [p.cgp, p.cout], p.kernel);
    return U;
  };
  const U = prepared ? prepared.get(`winograd ${direction} ${p.kernel} ${shape}`, transform) : transform();
  for (const c of parts) {
    const V = transformInput(gpu, x, p, c);
    const M = gpu.tensor([p.alpha2, p.groups, p.og, c.Pp], "wino-m");
    stackedMatmul(gpu, {
      layout: "nn",
      M: p.og,
      N: c.Pp,
      K: p.cgp,
      a: U,
      b: V,
      c: M,
      batch: p.alpha2 * p.groups,
    });
    if (keep) keep.push(V);
    else V.release();
    dispatch(gpu, p, "output", [M, y, bias ?? M], c.params, [c.P, p.cout], `${c.P} tiles`);
    M.release();
  }
  if (!prepared) U.release();
  return y;
}

/**
 * dW = G^T [sum over tiles (A dy A^T) * (B^T x B)] G: per transformed position a GEMM over all tiles of the
 * batch ("nt", summing along the tile axis), then one small transform back. dw is overwritten.
 */
export function winogradWeightGradient(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  dw: Tensor,
  g: ConvGeometry,
  kept: ConvColumns | null = null,
): void {
  const p = plan(g, x.shape[0], "forward");
  const parts = chunks(gpu, p, x.shape[0], false);
  const dU = gpu.tensor([p.alpha2, p.groups, p.og, p.cgp], "wino-du");
  for (const c of parts) {
    // The forward pass's transformed input, when it kept it (same plan, same chunks).
    const V = kept?.take() ?? transformInput(gpu, x, p, c);
    const E = gpu.tensor([p.alpha2, p.groups, p.og, c.Pp], "wino-e");
    dispatch(gpu, p, "output_grad", [dy, E], c.params, [c.Pp, p.groups * p.og], `${c.P} tiles`);
    // Summed over the batch: the first chunk overwrites dU, later ones add to it.
    stackedMatmul(gpu, {
      layout: "nt",
      M: p.og,
      N: p.cgp,
      K: c.Pp,
      a: E,
      b: V,
      c: dU,
      batch: p.alpha2 * p.groups,
      accumulate: c.n0 > 0,
    });
    gpu.release(V, E);
  }
  dispatch(gpu, p, "weight_grad", [dU, dw], params(p, false), [p.cg, p.groups * p.og], p.kernel);
  dU.release();
}
