/**
 * Locally connected (unshared) 2-D layer: every output position has its own filter bank.
 * Weight [OH*OW][Cout][Cin*KH*KW] (inner index (c*KH + kh)*KW + kw), bias [Cout][OH][OW]; groups must be 1.
 */
import { conv2dOutSize, type Conv2dShape } from "./conv2d.ts";
import { type Arr, checkLen, type ParamGrads, toF64 } from "./shapes.ts";

function checkLocal(x: Arr, w: Arr, s: Conv2dShape): { oh: number; ow: number } {
  if (s.groups !== 1) throw new Error(`local layer: groups must be 1, got ${s.groups}`);
  const { oh, ow } = conv2dOutSize(s);
  checkLen("local x", x, s.n * s.cin * s.h * s.w);
  checkLen("local w", w, oh * ow * s.cout * s.cin * s.kh * s.kw);
  return { oh, ow };
}

/** y [N][Cout][OH][OW] of a locally connected layer, the bias [Cout][OH][OW] optional. */
export function localForward(xIn: Arr, wIn: Arr, b: Arr | null, s: Conv2dShape): Float64Array {
  const { oh, ow } = checkLocal(xIn, wIn, s);
  const { n, cin, h: H, w: W, cout, kh, kw, stride, pad } = s;
  const ohw = oh * ow, ckk = cin * kh * kw;
  if (b) checkLen("local b", b, cout * ohw);
  const x = toF64(xIn), w = toF64(wIn);
  const y = new Float64Array(n * cout * ohw);
  for (let img = 0; img < n; img++) {
    for (let oy = 0; oy < oh; oy++) {
      const iy0 = oy * stride - pad;
      const i0 = Math.max(0, -iy0), i1 = Math.min(kh, H - iy0);
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * stride - pad;
        const j0 = Math.max(0, -ix0), j1 = Math.min(kw, W - ix0);
        const pos = oy * ow + ox;
        for (let co = 0; co < cout; co++) {
          const wb = (pos * cout + co) * ckk;
          let acc = b ? b[co * ohw + pos] : 0;
          for (let ci = 0; ci < cin; ci++) {
            const xp = (img * cin + ci) * H * W;
            for (let i = i0; i < i1; i++) {
              const xr = xp + (iy0 + i) * W + ix0, wr = wb + (ci * kh + i) * kw;
              for (let j = j0; j < j1; j++) acc += w[wr + j] * x[xr + j];
            }
          }
          y[(img * cout + co) * ohw + pos] = acc;
        }
      }
    }
  }
  return y;
}

/** dx, dw and db of a locally connected layer, given dL/dy [N][Cout][OH][OW]. */
export function localBackward(xIn: Arr, wIn: Arr, dyIn: Arr, s: Conv2dShape): ParamGrads {
  const { oh, ow } = checkLocal(xIn, wIn, s);
  const { n, cin, h: H, w: W, cout, kh, kw, stride, pad } = s;
  const ohw = oh * ow, ckk = cin * kh * kw;
  checkLen("local dy", dyIn, n * cout * ohw);
  const x = toF64(xIn), w = toF64(wIn), dy = toF64(dyIn);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(cout * ohw);
  for (let img = 0; img < n; img++) {
    for (let oy = 0; oy < oh; oy++) {
      const iy0 = oy * stride - pad;
      const i0 = Math.max(0, -iy0), i1 = Math.min(kh, H - iy0);
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * stride - pad;
        const j0 = Math.max(0, -ix0), j1 = Math.min(kw, W - ix0);
        const pos = oy * ow + ox;
        for (let co = 0; co < cout; co++) {
          const wb = (pos * cout + co) * ckk;
          const d = dy[(img * cout + co) * ohw + pos];
          db[co * ohw + pos] += d;
          for (let ci = 0; ci < cin; ci++) {
            const xp = (img * cin + ci) * H * W;
            for (let i = i0; i < i1; i++) {
              const xr = xp + (iy0 + i) * W + ix0, wr = wb + (ci * kh + i) * kw;
              for (let j = j0; j < j1; j++) {
                dw[wr + j] += d * x[xr + j];
                dx[xr + j] += d * w[wr + j];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
}
