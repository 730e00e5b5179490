// Numbers that tell trained first-layer kernels from random ones (Figure 3): how colour-specific a kernel is,
// and how much of its spatial energy lies in one orientation band (edges and gratings are oriented, white
// noise is not). Kernels are planar RGB, [3][k][k] at `offset` in a conv weight array. Pure CPU code, so the
// numbers are bit-exact on every adapter.

/**
 * Share of a kernel's variation that is chromatic: sum of squared deviations of each pixel's RGB from its grey
 * (channel mean), over the sum of squared deviations from the kernel's mean. 0 = colour-agnostic (grey),
 * larger = colour-specific.
 */
export function colourIndex(w: Float32Array, offset: number, k: number): number {
  const plane = k * k;
  let mean = 0;
  for (let i = 0; i < 3 * plane; i++) mean += w[offset + i];
  mean /= 3 * plane;
  let chroma = 0, total = 0;
  for (let p = 0; p < plane; p++) {
    const r = w[offset + p], g = w[offset + plane + p], b = w[offset + 2 * plane + p];
    const grey = (r + g + b) / 3;
    chroma += (r - grey) ** 2 + (g - grey) ** 2 + (b - grey) ** 2;
    total += (r - mean) ** 2 + (g - mean) ** 2 + (b - mean) ** 2;
  }
  return total > 0 ? chroma / total : 0;
}

/** Orientation bands over 180 degrees: 8 bands of 22.5 degrees. */
export const ORIENTATION_BANDS = 8;

/**
 * Orientation selectivity of one kernel: the share of its spectral energy (the power spectrum of the k x k
 * DFT, summed over the three channels, without DC and the lowest ring: see `bandEnergies`) that falls in its
 * strongest orientation band. A grating or an
 * edge puts most of its energy in one band (near 1); white noise spreads it over all (near the largest of
 * `ORIENTATION_BANDS` random shares, about 0.2-0.3 for 11x11). Frequencies are binned by the angle of
 * (u, v) modulo 180 degrees, since a real kernel's spectrum is point-symmetric.
 */
export function orientationSelectivity(w: Float32Array, offset: number, k: number): number {
  const bands = bandEnergies(w, offset, k);
  let total = 0, peak = 0;
  for (const e of bands) {
    total += e;
    if (e > peak) peak = e;
  }
  return total > 0 ? peak / total : 0;
}

/**
 * Spectral energy of a planar RGB kernel per orientation band, over the frequencies (u, v) with
 * u^2 + v^2 > 2 (direct DFT: k is at most ~11).
 */
export function bandEnergies(w: Float32Array, offset: number, k: number): Float64Array {
  const bands = new Float64Array(ORIENTATION_BANDS);
  const plane = k * k;
  const half = Math.floor(k / 2);
  const cos = new Float64Array(k), sin = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / k);
    sin[i] = Math.sin((2 * Math.PI * i) / k);
  }
  for (let u = -half; u <= k - 1 - half; u++) {
    for (let v = -half; v <= k - 1 - half; v++) {
      // DC and the 8 lowest frequencies left out: at 1 cycle per kernel the grid has only 4 angles, so a
      // smooth isotropic blob would look oriented (0.31 against noise's 0.23 for 11x11; without them 0.24).
      if (u * u + v * v <= 2) continue;
      let power = 0;
      for (let c = 0; c < 3; c++) {
        let re = 0, im = 0;
        for (let y = 0; y < k; y++) {
          for (let x = 0; x < k; x++) {
            // Phase index (u*x + v*y) mod k, kept non-negative for the lookup tables.
            const phase = (((u * x + v * y) % k) + k) % k;
            const value = w[offset + c * plane + y * k + x];
            re += value * cos[phase];
            im -= value * sin[phase];
          }
        }
        power += re * re + im * im;
      }
      // Angle of the frequency vector in [0, pi): the orientation of the grating's wavefront normal.
      let angle = Math.atan2(v, u);
      if (angle < 0) angle += Math.PI;
      if (angle >= Math.PI) angle -= Math.PI;
      const band = Math.min(ORIENTATION_BANDS - 1, Math.floor((angle / Math.PI) * ORIENTATION_BANDS));
      bands[band] += power;
    }
  }
  return bands;
}

export interface KernelSetStats {
  kernels: number;
  mean_colour_index: number;
  mean_orientation_selectivity: number;
}

/** Mean colour index and orientation selectivity of kernels [first, first + count) of a conv weight array. */
export function kernelSetStats(w: Float32Array, k: number, first: number, count: number): KernelSetStats {
  const size = 3 * k * k;
  let colour = 0, orientation = 0;
  for (let j = first; j < first + count; j++) {
    colour += colourIndex(w, j * size, k);
    orientation += orientationSelectivity(w, j * size, k);
  }
  const n = Math.max(1, count);
  return { kernels: count, mean_colour_index: colour / n, mean_orientation_selectivity: orientation / n };
}
