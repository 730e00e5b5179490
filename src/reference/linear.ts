/** Fully connected layer: y[N][Out] = x[N][In] * w[Out][In]^T + b[Out] (nn.Linear layout). */
import { type Arr, checkLen, type ParamGrads, toF64 } from "./shapes.ts";

/** A fully connected layer's sizes. */
export interface LinearShape {
  /** Batch size. */
  n: number;
  /** Input features. */
  inF: number;
  /** Output features. */
  outF: number;
}

/** y [N][Out] = x w^T + b, the bias optional. */
export function linearForward(xIn: Arr, wIn: Arr, b: Arr | null, s: LinearShape): Float64Array {
  const { n, inF, outF } = s;
  checkLen("linear x", xIn, n * inF);
  checkLen("linear w", wIn, outF * inF);
  if (b) checkLen("linear b", b, outF);
  const x = toF64(xIn), w = toF64(wIn);
  const y = new Float64Array(n * outF);
  for (let o = 0; o < outF; o++) {
    const wr = o * inF;
    for (let i = 0; i < n; i++) {
      const xr = i * inF;
      let acc = 0;
      for (let k = 0; k < inF; k++) acc += w[wr + k] * x[xr + k];
      y[i * outF + o] = acc + (b ? b[o] : 0);
    }
  }
  return y;
}

/** dx, dw and db of a fully connected layer, given dL/dy [N][Out]. */
export function linearBackward(xIn: Arr, wIn: Arr, dyIn: Arr, s: LinearShape): ParamGrads {
  const { n, inF, outF } = s;
  checkLen("linear x", xIn, n * inF);
  checkLen("linear w", wIn, outF * inF);
  checkLen("linear dy", dyIn, n * outF);
  const x = toF64(xIn), w = toF64(wIn), dy = toF64(dyIn);
  const dx = new Float64Array(n * inF), dw = new Float64Array(outF * inF), db = new Float64Array(outF);
  for (let o = 0; o < outF; o++) {
    const wr = o * inF;
    for (let i = 0; i < n; i++) {
      const d = dy[i * outF + o], xr = i * inF;
      db[o] += d;
      for (let k = 0; k < inF; k++) {
        dw[wr + k] += d * x[xr + k];
        dx[xr + k] += d * w[wr + k];
      }
    }
  }
  return { dx, dw, db };
}
