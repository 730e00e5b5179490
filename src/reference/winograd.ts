/**
 * A float64 2-D convolution through the Winograd F(m, r) transforms (src/math/winograd.ts), tile by tile: the
 * algorithm the GPU kernels implement, without their layouts, so the transforms can be checked on their own.
 */
import { convOutSize } from "../math/window.ts";
import type { WinogradMatrices } from "../math/winograd.ts";

/** a (p x q) times b (q x s), row-major. */
function mul(a: ArrayLike<number>, b: ArrayLike<number>, p: number, q: number, s: number): Float64Array {
  const out = new Float64Array(p * s);
  for (let i = 0; i < p; i++) {
    for (let k = 0; k < q; k++) {
      const v = a[i * q + k];
      if (v !== 0) { for (let j = 0; j < s; j++) out[i * s + j] += v * b[k * s + j]; }
    }
  }
  return out;
}

function transpose(a: ArrayLike<number>, p: number, q: number): Float64Array {
  const out = new Float64Array(p * q);
  for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) out[j * p + i] = a[i * q + j];
  return out;
}

/**
 * Single-image, single-channel 2-D correlation (stride 1, zero padding `pad`) computed tile by tile through
 * the Winograd transforms, in float64: the algorithm the GPU kernels implement, without their layouts.
 */
export function winogradCorrelate2d(
  x: ArrayLike<number>,
  h: number,
  w: number,
  k: ArrayLike<number>,
  pad: number,
  mat: WinogradMatrices,
): Float64Array {
  const { m, r, alpha, BT, G, AT } = mat;
  const oh = convOutSize(h, r, 1, pad), ow = convOutSize(w, r, 1, pad);
  const U = mul(mul(G, k, alpha, r, r), transpose(G, alpha, r), alpha, r, alpha);
  const B = transpose(BT, alpha, alpha), A = transpose(AT, m, alpha);
  const y = new Float64Array(oh * ow);
  for (let ty = 0; ty < oh; ty += m) {
    for (let tx = 0; tx < ow; tx += m) {
      const d = new Float64Array(alpha * alpha);
      for (let a = 0; a < alpha; a++) {
        for (let b = 0; b < alpha; b++) {
          const yy = ty - pad + a, xx = tx - pad + b;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) d[a * alpha + b] = x[yy * w + xx];
        }
      }
      const V = mul(mul(BT, d, alpha, alpha, alpha), B, alpha, alpha, alpha);
      for (let e = 0; e < V.length; e++) V[e] *= U[e];
      const Y = mul(mul(AT, V, m, alpha, alpha), A, m, alpha, m);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) if (ty + i < oh && tx + j < ow) y[(ty + i) * ow + tx + j] = Y[i * m + j];
      }
    }
  }
  return y;
}
