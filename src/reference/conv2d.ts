/** Grouped 2-D convolution (cross-correlation, as PyTorch), NCHW, weight [Cout][Cin/groups][KH][KW]. */
import type { ConvShape } from "../nn/ops/conv_geometry.ts";
import { type Arr, checkLen, convOutSize, type ParamGrads, toF64, validRange } from "./shapes.ts";

/** A conv layer's shape (the GPU side's ConvShape) with the batch size. */
export interface Conv2dShape extends ConvShape {
  /** Batch size. */
  n: number;
}

/** Output spatial size of a conv2d (floor rule). */
export function conv2dOutSize(s: Conv2dShape): { oh: number; ow: number } {
  return { oh: convOutSize(s.h, s.kh, s.stride, s.pad), ow: convOutSize(s.w, s.kw, s.stride, s.pad) };
}

/** Per kernel offset, the [lo, hi) range of output rows/cols whose input lies inside the image. */
function kernelRanges(k: number, stride: number, pad: number, inp: number, out: number): Int32Array {
  const r = new Int32Array(2 * k);
  for (let i = 0; i < k; i++) {
    const [lo, hi] = validRange(i, stride, pad, inp, out);
    r[2 * i] = lo;
    r[2 * i + 1] = hi;
  }
  return r;
}

function checkConv(x: Arr, w: Arr, s: Conv2dShape): void {
  const { n, cin, h, w: W, cout, kh, kw, groups } = s;
  if (groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
    throw new Error(`conv2d: cin ${cin} and cout ${cout} must divide by groups ${groups}`);
  }
  checkLen("conv2d x", x, n * cin * h * W);
  checkLen("conv2d w", w, cout * (cin / groups) * kh * kw);
}

/**
 * y [N][Cout][OH][OW] = conv(x, w) + b, the bias optional; throws when groups do not divide the channels or a
 * length does not fit.
 */
export function conv2dForward(xIn: Arr, wIn: Arr, bIn: Arr | null, s: Conv2dShape): Float64Array {
  checkConv(xIn, wIn, s);
  const { n, cin, h: H, w: W, cout, kh, kw, stride, pad, groups } = s;
  const { oh, ow } = conv2dOutSize(s);
  if (bIn) checkLen("conv2d b", bIn, cout);
  const x = toF64(xIn), w = toF64(wIn);
  const cg = cin / groups, og = cout / groups, ohw = oh * ow;
  const ry = kernelRanges(kh, stride, pad, H, oh), rx = kernelRanges(kw, stride, pad, W, ow);
  const y = new Float64Array(n * cout * ohw);
  for (let img = 0; img < n; img++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / og);
      const yBase = (img * cout + co) * ohw;
      if (bIn) y.fill(bIn[co], yBase, yBase + ohw);
      for (let ci = 0; ci < cg; ci++) {
        const xPlane = (img * cin + g * cg + ci) * H * W;
        const wBase = (co * cg + ci) * kh * kw;
        for (let i = 0; i < kh; i++) {
          const oy0 = ry[2 * i], oy1 = ry[2 * i + 1];
          for (let j = 0; j < kw; j++) {
            const wv = w[wBase + i * kw + j];
            const ox0 = rx[2 * j], ox1 = rx[2 * j + 1];
            // Weight-stationary: one scalar weight times a strided input row, contiguous output row.
            for (let oy = oy0; oy < oy1; oy++) {
              const yr = yBase + oy * ow;
              const xr = xPlane + (oy * stride + i - pad) * W + j - pad;
              for (let ox = ox0; ox < ox1; ox++) y[yr + ox] += wv * x[xr + ox * stride];
            }
          }
        }
      }
    }
  }
  return y;
}

/** Gradients of a conv2d given dL/dy; the bias gradient is returned even if the layer has no bias. */
export function conv2dBackward(xIn: Arr, wIn: Arr, dyIn: Arr, s: Conv2dShape): ParamGrads {
  checkConv(xIn, wIn, s);
  const { n, cin, h: H, w: W, cout, kh, kw, stride, pad, groups } = s;
  const { oh, ow } = conv2dOutSize(s);
  const ohw = oh * ow;
  checkLen("conv2d dy", dyIn, n * cout * ohw);
  const x = toF64(xIn), w = toF64(wIn), dy = toF64(dyIn);
  const cg = cin / groups, og = cout / groups;
  const ry = kernelRanges(kh, stride, pad, H, oh), rx = kernelRanges(kw, stride, pad, W, ow);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(cout);
  for (let img = 0; img < n; img++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / og);
      const yBase = (img * cout + co) * ohw;
      let bsum = 0;
      for (let p = 0; p < ohw; p++) bsum += dy[yBase + p];
      db[co] += bsum;
      for (let ci = 0; ci < cg; ci++) {
        const xPlane = (img * cin + g * cg + ci) * H * W;
        const wBase = (co * cg + ci) * kh * kw;
        for (let i = 0; i < kh; i++) {
          const oy0 = ry[2 * i], oy1 = ry[2 * i + 1];
          for (let j = 0; j < kw; j++) {
            const wv = w[wBase + i * kw + j];
            const ox0 = rx[2 * j], ox1 = rx[2 * j + 1];
            let acc = 0;
            for (let oy = oy0; oy < oy1; oy++) {
              const yr = yBase + oy * ow;
              const xr = xPlane + (oy * stride + i - pad) * W + j - pad;
              for (let ox = ox0; ox < ox1; ox++) {
                const d = dy[yr + ox], xi = xr + ox * stride;
                acc += d * x[xi];
                dx[xi] += wv * d;
              }
            }
            dw[wBase + i * kw + j] += acc;
          }
        }
      }
    }
  }
  return { dx, dw, db };
}
