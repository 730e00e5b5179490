// A convolution's geometry and the choice of engine, in one place: the model resolver takes the algorithm
// names from here, the GPU op (conv2d.ts, with its im2col and Winograd engines) the derived sizes, and the
// CPU reference the same shapes. Pure arithmetic: nothing here touches the GPU.

import { convOutSize } from "../../math/window.ts";
import type { ResolvedLayer } from "../spec.ts";
import { roundUp4 } from "./shapes.ts";

/**
 * How the GPU computes a conv layer: "auto" picks Winograd where it applies and pays (winogradPays), the direct
 * forward for a few input channels (directPays), im2col elsewhere. Backward passes of a direct layer use im2col.
 */
export const CONV_ALGORITHMS = ["auto", "im2col", "winograd", "direct"] as const;
/** A conv layer's engine: "auto", "im2col", "winograd" or "direct" (see CONV_ALGORITHMS). */
export type ConvAlgorithm = typeof CONV_ALGORITHMS[number];

/** One conv (or locally connected) layer, without the batch: channels, input size, kernel, stride, padding. */
export interface ConvShape {
  /** Input channels. */
  cin: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Output channels. */
  cout: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Stride along both axes. */
  stride: number;
  /** Zero padding on every side. */
  pad: number;
  /** Channel groups (AlexNet's two towers are 2); cin and cout must divide by it. */
  groups: number;
}

/** A conv layer's shape and the engine asked for. */
export interface ConvSpec extends ConvShape {
  /** Engine to use (default "auto"); convGeometry throws when "winograd" or "direct" cannot run the shape. */
  algorithm?: ConvAlgorithm;
  /** Winograd's output tile m of F(m x m, r x r), fixed; by default winograd.ts picks it per batch. */
  winogradTile?: number;
}

/** A conv layer's shape with its derived sizes and the engine convGeometry chose. */
export interface ConvGeometry extends ConvSpec {
  /** Output height. */
  oh: number;
  /** Output width. */
  ow: number;
  /** Input channels per group. */
  cg: number;
  /** Output channels per group. */
  coutg: number;
  /** Length of a weight row: cg * kh * kw. */
  K: number;
  /** K rounded up to a multiple of 4: the stored weight row width (zero columns at the end). */
  Kp: number;
  /** Forward, input gradient and weight gradient through Winograd rather than im2col + GEMM. */
  winograd: boolean;
  /** The forward pass through the direct kernel (kernels/conv_direct.wgsl) rather than im2col + GEMM. */
  direct: boolean;
}

/**
 * Output tiles m of F(m x m, r x r) the engine has: F(4x4) does 2.25x (5x5) or 1.78x (3x3) fewer GEMM
 * multiply-adds than F(2x2), at about 1e-5 relative error in float32 against 2e-6 for im2col (measured on
 * the CIFAR and AlexNet layer shapes, tests/kernels_winograd.test.ts).
 */
export const WINOGRAD_TILES = [2, 4];

/** Below this many channels per group the per-tile transforms cost more than the GEMM saves. */
export const WINOGRAD_MIN_CHANNELS = 8;

/** Whether the geometry can run through Winograd at all (stride 1, square 3x3 or 5x5, pad below the kernel). */
export function winogradApplies(g: ConvShape): boolean {
  return g.stride === 1 && g.kh === g.kw && (g.kh === 3 || g.kh === 5) && g.pad < g.kh;
}

/** Whether "auto" picks Winograd: it applies and both directions have channels enough to repay the transforms. */
export function winogradPays(g: ConvGeometry): boolean {
  return winogradApplies(g) && g.cg >= WINOGRAD_MIN_CHANNELS && g.coutg >= WINOGRAD_MIN_CHANNELS;
}

/** Up to this many input channels (one group) the direct forward beats im2col + GEMM (conv1 of every net). */
export const DIRECT_MAX_CHANNELS = 4;

/** Whether "auto" picks the direct forward: one group of few input channels. */
export function directPays(g: ConvShape): boolean {
  return g.groups === 1 && g.cin <= DIRECT_MAX_CHANNELS;
}

/**
 * Derives a conv layer's output and GEMM sizes and picks its engine. Throws when the channels do not divide
 * by groups, the Winograd tile is unknown, or the engine asked for cannot run the shape.
 */
export function convGeometry(s: ConvSpec): ConvGeometry {
  if (s.cin % s.groups || s.cout % s.groups) {
    throw new Error(`conv: channels ${s.cin} -> ${s.cout} are not divisible by groups=${s.groups}`);
  }
  const oh = convOutSize(s.h, s.kh, s.stride, s.pad);
  const ow = convOutSize(s.w, s.kw, s.stride, s.pad);
  const cg = s.cin / s.groups;
  const K = cg * s.kh * s.kw;
  const g = {
    ...s,
    oh,
    ow,
    cg,
    coutg: s.cout / s.groups,
    K,
    Kp: roundUp4(K),
    winograd: false,
    direct: false,
  };
  const algorithm = s.algorithm ?? "auto";
  if (s.winogradTile !== undefined && !WINOGRAD_TILES.includes(s.winogradTile)) {
    throw new Error(`conv: winograd tile ${s.winogradTile} is not one of ${WINOGRAD_TILES.join(", ")}`);
  }
  if (algorithm === "winograd" && !winogradApplies(g)) {
    throw new Error(
      `conv: algorithm "winograd" needs stride 1 and a square 3x3 or 5x5 kernel with pad below its size (got ${s.kh}x${s.kw} stride ${s.stride} pad ${s.pad})`,
    );
  }
  if (algorithm === "direct" && g.groups !== 1) {
    throw new Error(`conv: algorithm "direct" needs one group (got ${g.groups})`);
  }
  g.winograd = algorithm === "winograd" || (algorithm === "auto" && winogradPays(g));
  g.direct = algorithm === "direct" || (algorithm === "auto" && !g.winograd && directPays(g));
  return g;
}

/** The shape of a resolved conv or locally connected layer (a locally connected layer has one group). */
export function layerConvShape(layer: ResolvedLayer): ConvShape {
  const s = layer.spec;
  if (s.type !== "conv" && s.type !== "local") throw new Error(`a ${s.type} layer has no convolution shape`);
  const [cin, h, w] = layer.inShape;
  return {
    cin,
    h,
    w,
    cout: s.out,
    kh: s.kernel,
    kw: s.kernel,
    stride: s.stride ?? 1,
    pad: s.pad ?? 0,
    groups: s.type === "conv" ? s.groups ?? 1 : 1,
  };
}
