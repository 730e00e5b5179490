/**
 * Local response normalisation (docs/conventions.md): b = a / (k + alpha * sum_window a^2)^beta, alpha used as
 * given (not divided by n). Cross-map: window over channels c-floor(n/2) .. c-floor(n/2)+n-1 (clipped).
 * Within-map: the same n x n window over rows and columns of the same channel.
 *
 * Backward: with s = k + alpha*S, dx[i] = dy[i]*s[i]^-beta - 2*alpha*beta*a[i] * sum_{c: i in win(c)}
 * dy[c]*a[c]*s[c]^(-beta-1); "i in win(c)" means c in [i + half - n + 1, i + half], the mirrored window.
 */
import { type Arr, checkLen, toF64 } from "./shapes.ts";

/** Normalisation constants (see the file comment). */
export interface LrnParams {
  /** Additive constant (2 in the paper). */
  k: number;
  /** Window size: channels (cross-map), or the side of the square window (within-map). */
  n: number;
  /** Scale of the window's sum of squares, used as given (1e-4 in the paper). */
  alpha: number;
  /** Exponent (0.75 in the paper). */
  beta: number;
}

/** Sizes of the NCHW tensor being normalised. */
export interface LrnShape {
  /** Batch size. */
  n: number;
  /** Channels. */
  c: number;
  /** Height. */
  h: number;
  /** Width. */
  w: number;
}

/** dst[c] = sum of src[c+lo .. c+hi] (channels clipped to [0, C)), per pixel, for one image. */
function channelBoxSum(
  src: Float64Array,
  base: number,
  dst: Float64Array,
  C: number,
  hw: number,
  lo: number,
  hi: number,
): void {
  dst.fill(0);
  for (let c = 0; c < C; c++) {
    const j0 = Math.max(0, c + lo), j1 = Math.min(C - 1, c + hi), d = c * hw;
    for (let j = j0; j <= j1; j++) {
      const sb = base + j * hw;
      for (let p = 0; p < hw; p++) dst[d + p] += src[sb + p];
    }
  }
}

/** dst = clipped box sum over rows y+lo..y+hi and cols x+lo..x+hi of one plane; separable, via tmp. */
function spatialBoxSum(
  src: Float64Array,
  base: number,
  dst: Float64Array,
  tmp: Float64Array,
  H: number,
  W: number,
  lo: number,
  hi: number,
): void {
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const x0 = Math.max(0, x + lo), x1 = Math.min(W - 1, x + hi);
      let acc = 0;
      for (let xx = x0; xx <= x1; xx++) acc += src[base + y * W + xx];
      tmp[y * W + x] = acc;
    }
  }
  for (let y = 0; y < H; y++) {
    const y0 = Math.max(0, y + lo), y1 = Math.min(H - 1, y + hi);
    for (let x = 0; x < W; x++) {
      let acc = 0;
      for (let yy = y0; yy <= y1; yy++) acc += tmp[yy * W + x];
      dst[y * W + x] = acc;
    }
  }
}

type Mode = "cross" | "within";

/** Per image block (C*H*W), fills out[] with the window sums of sq[] in the forward or mirrored window. */
function windowSum(
  mode: Mode,
  src: Float64Array,
  base: number,
  out: Float64Array,
  tmp: Float64Array,
  plane: Float64Array,
  sh: LrnShape,
  lo: number,
  hi: number,
): void {
  const hw = sh.h * sh.w;
  if (mode === "cross") {
    channelBoxSum(src, base, out, sh.c, hw, lo, hi);
    return;
  }
  for (let c = 0; c < sh.c; c++) {
    spatialBoxSum(src, base + c * hw, plane, tmp, sh.h, sh.w, lo, hi);
    out.set(plane, c * hw);
  }
}

function check(x: Arr, sh: LrnShape, p: LrnParams): void {
  checkLen("lrn x", x, sh.n * sh.c * sh.h * sh.w);
  if (!(p.n >= 1) || !Number.isInteger(p.n)) {
    throw new Error(`lrn: window n=${p.n} must be a positive integer`);
  }
}

function lrnForward(mode: Mode, xIn: Arr, sh: LrnShape, p: LrnParams): Float64Array {
  check(xIn, sh, p);
  const x = toF64(xIn);
  const chw = sh.c * sh.h * sh.w, half = Math.floor(p.n / 2);
  const sq = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) sq[i] = x[i] * x[i];
  const sum = new Float64Array(chw),
    tmp = new Float64Array(sh.h * sh.w),
    plane = new Float64Array(sh.h * sh.w);
  const y = new Float64Array(x.length);
  for (let img = 0; img < sh.n; img++) {
    const base = img * chw;
    windowSum(mode, sq, base, sum, tmp, plane, sh, -half, p.n - 1 - half);
    for (let i = 0; i < chw; i++) y[base + i] = x[base + i] * Math.pow(p.k + p.alpha * sum[i], -p.beta);
  }
  return y;
}

function lrnBackward(mode: Mode, xIn: Arr, dyIn: Arr, sh: LrnShape, p: LrnParams): Float64Array {
  check(xIn, sh, p);
  checkLen("lrn dy", dyIn, xIn.length);
  const x = toF64(xIn), dy = toF64(dyIn);
  const chw = sh.c * sh.h * sh.w, half = Math.floor(p.n / 2);
  const sq = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) sq[i] = x[i] * x[i];
  const sum = new Float64Array(chw),
    tmp = new Float64Array(sh.h * sh.w),
    plane = new Float64Array(sh.h * sh.w);
  const pw = new Float64Array(chw), t = new Float64Array(chw), tsum = new Float64Array(chw);
  const dx = new Float64Array(x.length);
  const coef = 2 * p.alpha * p.beta;
  for (let img = 0; img < sh.n; img++) {
    const base = img * chw;
    windowSum(mode, sq, base, sum, tmp, plane, sh, -half, p.n - 1 - half);
    for (let i = 0; i < chw; i++) {
      const s = p.k + p.alpha * sum[i];
      pw[i] = Math.pow(s, -p.beta);
      t[i] = dy[base + i] * x[base + i] * pw[i] / s;
    }
    windowSum(mode, t, 0, tsum, tmp, plane, sh, half - p.n + 1, half);
    for (let i = 0; i < chw; i++) dx[base + i] = dy[base + i] * pw[i] - coef * x[base + i] * tsum[i];
  }
  return dx;
}

/** Cross-map LRN (the paper's section 3.3): each value divided by its window over neighbouring channels. */
export function lrnCrossMapForward(x: Arr, shape: LrnShape, p: LrnParams): Float64Array {
  return lrnForward("cross", x, shape, p);
}

/** dx of cross-map LRN, from its input x and dy. */
export function lrnCrossMapBackward(x: Arr, dy: Arr, shape: LrnShape, p: LrnParams): Float64Array {
  return lrnBackward("cross", x, dy, shape, p);
}

/** Within-map normalisation (cuda-convnet's rnorm): the window is an n x n patch of the same channel. */
export function lrnWithinMapForward(x: Arr, shape: LrnShape, p: LrnParams): Float64Array {
  return lrnForward("within", x, shape, p);
}

/** dx of within-map normalisation, from its input x and dy. */
export function lrnWithinMapBackward(x: Arr, dy: Arr, shape: LrnShape, p: LrnParams): Float64Array {
  return lrnBackward("within", x, dy, shape, p);
}
