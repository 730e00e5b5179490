/** Inverted dropout: keep where uniform01(seed, counter, i) >= p, scale kept elements by 1/(1-p). */
import { uniform01 } from "../math/rng.ts";
import { type Arr, checkLen } from "./shapes.ts";

function keepScale(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p=${p} outside [0, 1]`);
  // p = 1 drops everything; avoid Infinity * 0 = NaN.
  return p < 1 ? 1 / (1 - p) : 0;
}

/** mask[i] = 1 where element i is kept. */
export function dropoutForward(
  x: Arr,
  p: number,
  seed: number,
  counter: number,
): { y: Float64Array; mask: Uint8Array } {
  const scale = keepScale(p);
  const y = new Float64Array(x.length), mask = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (uniform01(seed, counter, i) >= p) {
      mask[i] = 1;
      y[i] = x[i] * scale;
    }
  }
  return { y, mask };
}

/** dx = dy * mask / (1 - p), with the mask dropoutForward returned. */
export function dropoutBackward(dy: Arr, mask: Uint8Array, p: number): Float64Array {
  checkLen("dropout mask", mask, dy.length);
  const scale = keepScale(p);
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) if (mask[i]) dx[i] = dy[i] * scale;
  return dx;
}
