// Winograd F(2x2, 3x3) and F(2x2, 5x5) convolution (kernels/winograd.wgsl) for stride-1 layers with enough
// channels: the forward pass and the input gradient (a stride-1 convolution of dy with the rotated,
// transposed filters), and the weight gradient (a GEMM over tiles in the transformed domain).

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { type WinogradMatrices, winogradMatrices } from "../../math/winograd.ts";
import { matmul } from "./matmul.ts";
import { roundUp4 } from "./shapes.ts";
import { type ConvGeometry, winogradApplies } from "./conv_geometry.ts";

/** Output tile side; F(2x2, r x r). Larger tiles cut more multiplications but lose fp32 accuracy fast. */
const TILE = 2;
const matrices = new Map<number, WinogradMatrices>();
function template(r: number) {
  let mat = matrices.get(r);
  if (!mat) {
    mat = winogradMatrices(TILE, r);
    matrices.set(r, mat);
  }
  const list = (a: Float64Array) =>
    Array.from(a, (v) => `${Math.fround(v)}`).map((s) => s.includes(".") || s.includes("e") ? s : `${s}.0`)
      .join(", ");
  return {
    ALPHA: mat.alpha,
    R: r,
    ALPHA2: mat.alpha * mat.alpha,
    ALPHA_R: mat.alpha * r,
    TWO_ALPHA: TILE * mat.alpha,
    BT: list(mat.BT),
    GM: list(mat.G),
    AT: list(mat.AT),
  };
}

/** Images per chunk: the transformed input and the GEMM output (the larger per image) within the binding limit. */
function chunkImages(gpu: Gpu, plan: Plan, G: number, alpha2: number, n: number): number {
  const rows = alpha2 * G * Math.max(roundUp4(plan.cg), plan.og);
  const perImage = 4 * rows * Math.ceil(plan.oh / TILE) * Math.ceil(plan.ow / TILE);
  const budget = Math.min(gpu.maxBinding, 512 * 2 ** 20);
  // Each chunk's tile count is padded by up to three columns.
  if (perImage + 16 * rows > budget) {
    throw new Error(
      `winograd conv ${plan.cin} -> ${
        G * plan.og
      } at ${plan.h}x${plan.w}: one image's transformed tiles exceed the binding limit`,
    );
  }
  const most = Math.max(1, Math.floor((budget - 16 * rows) / perImage));
  return Math.ceil(n / Math.ceil(n / most));
}

function paramList(
  plan: Plan,
  g: ConvGeometry,
  cur: number,
  n0: number,
  P: number,
  Pp: number,
  flip: number,
  hasBias: number,
) {
  const th = Math.ceil(plan.oh / TILE), tw = Math.ceil(plan.ow / TILE);
  const cgp = roundUp4(plan.cg);
  return [
    cur,
    n0,
    plan.cin,
    plan.h,
    plan.w,
    plan.pad,
    th,
    tw,
    P,
    Pp,
    g.groups,
    plan.cg,
    cgp,
    plan.og,
    plan.oh,
    plan.ow,
    g.Kp,
    flip,
    hasBias,
    0,
  ];
}

interface Plan {
  /** This convolution's input channels (per group), output channels (per group), spatial sizes and padding. */
  cin: number;
  cg: number;
  og: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  pad: number;
}

/**
 * y = conv(x, w) (+ bias) for "forward", or dx = conv_full(dy, rot180(w)^T) for "input-gradient" (then x is
 * dy and the result has the layer input's shape). w is the layer's [Cout][Kp] weight in both cases.
 */
export function winogradConv(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  direction: "forward" | "input-gradient",
): Tensor {
  if (!winogradApplies(g)) {
    throw new Error(`winograd: ${g.kh}x${g.kw} stride ${g.stride} pad ${g.pad} does not apply`);
  }
  const fwd = direction === "forward";
  const plan: Plan = fwd
    ? { cin: g.cin, cg: g.cg, og: g.coutg, h: g.h, w: g.w, oh: g.oh, ow: g.ow, pad: g.pad }
    : { cin: g.cout, cg: g.coutg, og: g.cg, h: g.oh, w: g.ow, oh: g.h, ow: g.w, pad: g.kh - 1 - g.pad };
  const G = g.groups;
  const n = x.shape[0];
  const t = template(g.kh);
  const alpha2 = t.ALPHA2;
  const cgp = roundUp4(plan.cg);
  const th = Math.ceil(plan.oh / TILE), tw = Math.ceil(plan.ow / TILE);
  const tilesPerImage = th * tw;
  const cout = G * plan.og;
  const y = gpu.tensor([n, cout, plan.oh, plan.ow], fwd ? "conv" : "dconv");
  const nb = chunkImages(gpu, plan, G, alpha2, n);

  const U = gpu.tensor([alpha2, G, plan.og, cgp], "wino-u");
  const params = (cur: number, n0: number, P: number, Pp: number) =>
    paramList(plan, g, cur, n0, P, Pp, fwd ? 0 : 1, bias ? 1 : 0);
  gpu.run(
    "winograd",
    "weights",
    [w, U],
    params(0, 0, 0, 0),
    [Math.ceil(cgp / 64), cout, 1],
    t,
    `${g.kh}x${g.kw}`,
  );
  for (let n0 = 0; n0 < n; n0 += nb) {
    const cur = Math.min(nb, n - n0);
    const P = cur * tilesPerImage;
    const Pp = roundUp4(P);
    const pr = params(cur, n0, P, Pp);
    const V = gpu.tensor([alpha2, G, cgp, Pp], "wino-v");
    const M = gpu.tensor([alpha2, G, plan.og, Pp], "wino-m");
    gpu.run("winograd", "input", [x, V], pr, [Math.ceil(Pp / 64), G * cgp, 1], t, `${P} tiles`);
    matmul(gpu, {
      layout: "nn",
      M: plan.og,
      N: Pp,
      K: cgp,
      a: U,
      lda: cgp,
      strideA: plan.og * cgp,
      b: V,
      ldb: Pp,
      strideB: cgp * Pp,
      c: M,
      ldc: Pp,
      strideC: plan.og * Pp,
      batch: alpha2 * G,
    });
    V.release();
    gpu.run("winograd", "output", [M, y, bias ?? M], pr, [Math.ceil(P / 64), cout, 1], t, `${P} tiles`);
    M.release();
  }
  U.release();
  return y;
}

/**
 * dW = G^T [sum over tiles (A dy A^T) * (B^T x B)] G: per transformed position a GEMM over all tiles of the
 * batch ("nt", summing along the tile axis), then one small transform back. dw is overwritten.
 */
export function winogradWeightGradient(gpu: Gpu, x: Tensor, dy: Tensor, dw: Tensor, g: ConvGeometry): void {
  if (!winogradApplies(g)) {
    throw new Error(`winograd: ${g.kh}x${g.kw} stride ${g.stride} pad ${g.pad} does not apply`);
  }
  const plan: Plan = { cin: g.cin, cg: g.cg, og: g.coutg, h: g.h, w: g.w, oh: g.oh, ow: g.ow, pad: g.pad };
  const G = g.groups;
  const n = x.shape[0];
  const t = template(g.kh);
  const alpha2 = t.ALPHA2;
  const cgp = roundUp4(plan.cg);
  const tilesPerImage = Math.ceil(plan.oh / TILE) * Math.ceil(plan.ow / TILE);
  const nb = chunkImages(gpu, plan, G, alpha2, n);
  const dU = gpu.tensor([alpha2, G, plan.og, cgp], "wino-du");
  for (let n0 = 0; n0 < n; n0 += nb) {
    const cur = Math.min(nb, n - n0);
    const P = cur * tilesPerImage;
    const Pp = roundUp4(P);
    const pr = paramList(plan, g, cur, n0, P, Pp, 0, 0);
    const V = gpu.tensor([alpha2, G, cgp, Pp], "wino-v");
    const E = gpu.tensor([alpha2, G, plan.og, Pp], "wino-e");
    gpu.run("winograd", "input", [x, V], pr, [Math.ceil(Pp / 64), G * cgp, 1], t, `${P} tiles`);
    gpu.run("winograd", "output_grad", [dy, E], pr, [Math.ceil(Pp / 64), G * plan.og, 1], t, `${P} tiles`);
    matmul(gpu, {
      layout: "nt",
      M: plan.og,
      N: cgp,
      K: Pp,
      a: E,
      lda: Pp,
      strideA: plan.og * Pp,
      b: V,
      ldb: Pp,
      strideB: cgp * Pp,
      c: dU,
      ldc: cgp,
      strideC: plan.og * cgp,
      batch: alpha2 * G,
      accumulate: n0 > 0,
    });
    gpu.release(V, E);
  }
  const pr = paramList(plan, g, 0, 0, 0, 0, 0, 0);
  gpu.run(
    "winograd",
    "weight_grad",
    [dU, dw],
    pr,
    [Math.ceil(plan.cg / 64), G * plan.og, 1],
    t,
    `${g.kh}x${g.kw}`,
  );
  dU.release();
}
