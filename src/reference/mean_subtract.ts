/** Input centring: subtract a training-set mean from every image of the batch. */
import type { Arr } from "./shapes.ts";

/**
 * y = x - mean, broadcast over the n images of x (each x.length / n values, CHW).
 * perImage = true: mean is a whole mean image (CHW values, the paper's "mean activity" per pixel).
 * perImage = false: mean holds one value per channel (C values), broadcast over each H*W plane.
 */
export function meanSubtract(x: Arr, mean: Arr, n: number, perImage: boolean): Float64Array {
  if (n < 1 || x.length % n !== 0) throw new Error(`meanSubtract: ${x.length} values do not split into ${n}`);
  const size = x.length / n;
  const plane = perImage ? 1 : size / mean.length;
  if (perImage ? mean.length !== size : !Number.isInteger(plane)) {
    throw new Error(`meanSubtract: mean of ${mean.length} values does not fit images of ${size}`);
  }
  const y = new Float64Array(x.length);
  for (let img = 0; img < n; img++) {
    const base = img * size;
    if (perImage) {
      for (let i = 0; i < size; i++) y[base + i] = x[base + i] - mean[i];
    } else {
      for (let c = 0; c < mean.length; c++) {
        const m = mean[c], b = base + c * plane;
        for (let p = 0; p < plane; p++) y[b + p] = x[b + p] - m;
      }
    }
  }
  return y;
}
