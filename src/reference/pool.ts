/**
 * Max and average pooling over NCHW planes. Windows are clipped to the input: padding never wins a max and
 * never counts in an average (the divisor is the number of in-bounds elements), as cuda-convnet and Caffe do.
 */
import { type Arr, checkLen, convOutSize, toF64 } from "./shapes.ts";

/** A pooling layer over NCHW input: batch, channels, input size and the square window. */
export interface PoolShape {
  /** Batch size. */
  n: number;
  /** Channels. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Window side. */
  k: number;
  /** Stride along both axes. */
  stride: number;
  /** Padding on every side; must be smaller than k. */
  pad: number;
  /** Round the output size up, windows clipped to the input. */
  ceil: boolean;
}

/** Output height and width; throws unless pad < k. */
export function poolOutSize(s: PoolShape): { oh: number; ow: number } {
  // pad < k keeps every window non-empty (the ceil rule already stops windows that start past the input).
  if (s.pad >= s.k) throw new Error(`pool: pad ${s.pad} must be smaller than window ${s.k}`);
  return {
    oh: convOutSize(s.h, s.k, s.stride, s.pad, s.ceil),
    ow: convOutSize(s.w, s.k, s.stride, s.pad, s.ceil),
  };
}

/** Clipped window bounds [lo, hi) per output index along one axis, packed as pairs. */
function windows(out: number, k: number, stride: number, pad: number, inp: number): Int32Array {
  const r = new Int32Array(2 * out);
  for (let o = 0; o < out; o++) {
    const start = o * stride - pad;
    r[2 * o] = Math.max(0, start);
    r[2 * o + 1] = Math.min(inp, start + k);
  }
  return r;
}

/** y and, per output, the flat index into x of the winning element (first maximum in row-major order). */
export function maxPoolForward(xIn: Arr, s: PoolShape): { y: Float64Array; argmax: Int32Array } {
  const { n, c, h: H, w: W, k, stride, pad } = s;
  const { oh, ow } = poolOutSize(s);
  checkLen("maxpool x", xIn, n * c * H * W);
  const x = toF64(xIn);
  const wy = windows(oh, k, stride, pad, H), wx = windows(ow, k, stride, pad, W);
  const y = new Float64Array(n * c * oh * ow), argmax = new Int32Array(y.length);
  let o = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = wy[2 * oy], y1 = wy[2 * oy + 1];
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = wx[2 * ox], x1 = wx[2 * ox + 1];
        let best = -Infinity, bi = -1;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const idx = base + iy * W + ix, v = x[idx];
            // Strict > keeps the first of tied maxima; bi < 0 still picks an element when all are -Infinity.
            if (v > best || bi < 0) {
              best = v;
              bi = idx;
            }
          }
        }
        y[o] = best;
        argmax[o] = bi;
      }
    }
  }
  return { y, argmax };
}

/** Routes each output gradient to its window's first maximum (recomputed from x). */
export function maxPoolBackward(dy: Arr, x: Arr, s: PoolShape): Float64Array {
  const { argmax } = maxPoolForward(x, s);
  checkLen("maxpool dy", dy, argmax.length);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < argmax.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}

/** y [N][C][OH][OW]: the mean of each window's in-bounds elements. */
export function avgPoolForward(xIn: Arr, s: PoolShape): Float64Array {
  const { n, c, h: H, w: W, k, stride, pad } = s;
  const { oh, ow } = poolOutSize(s);
  checkLen("avgpool x", xIn, n * c * H * W);
  const x = toF64(xIn);
  const wy = windows(oh, k, stride, pad, H), wx = windows(ow, k, stride, pad, W);
  const y = new Float64Array(n * c * oh * ow);
  let o = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = wy[2 * oy], y1 = wy[2 * oy + 1];
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = wx[2 * ox], x1 = wx[2 * ox + 1];
        let acc = 0;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) acc += x[base + iy * W + ix];
        }
        y[o] = acc / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  return y;
}

/** dx [N][C][H][W]: each output gradient spread evenly over its window's in-bounds elements. */
export function avgPoolBackward(dy: Arr, s: PoolShape): Float64Array {
  const { n, c, h: H, w: W, k, stride, pad } = s;
  const { oh, ow } = poolOutSize(s);
  checkLen("avgpool dy", dy, n * c * oh * ow);
  const wy = windows(oh, k, stride, pad, H), wx = windows(ow, k, stride, pad, W);
  const dx = new Float64Array(n * c * H * W);
  let o = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = wy[2 * oy], y1 = wy[2 * oy + 1];
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = wx[2 * ox], x1 = wx[2 * ox + 1];
        const g = dy[o] / ((y1 - y0) * (x1 - x0));
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) dx[base + iy * W + ix] += g;
        }
      }
    }
  }
  return dx;
}
