// Figure 3's kernel measures: orientation selectivity separates gratings and edges from noise and blobs, its
// band energies add up to the kernel's variance (Parseval), and the colour index tells grey from coloured.

import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import {
  bandEnergies,
  colourIndex,
  kernelSetStats,
  ORIENTATION_BANDS,
  orientationSelectivity,
} from "../src/experiments/kernel_measures.ts";

const K = 11, PLANE = K * K;

/** Planar RGB kernel with the same value in all three channels. */
function grey(f: (x: number, y: number) => number): Float32Array {
  const w = new Float32Array(3 * PLANE);
  for (let y = 0; y < K; y++) {
    for (let x = 0; x < K; x++) w[y * K + x] = w[PLANE + y * K + x] = w[2 * PLANE + y * K + x] = f(x, y);
  }
  return w;
}

/** Deterministic standard normals (Box-Muller over a 32-bit LCG). */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

Deno.test("orientation: a grating at a DFT frequency puts all its energy in one band, at any angle", () => {
  for (const [u, v] of [[3, 0], [0, 2], [2, 2], [-2, 3], [1, -4]]) {
    const w = grey((x, y) => Math.cos((2 * Math.PI * (u * x + v * y)) / K) + 0.3);
    assertAlmostEquals(orientationSelectivity(w, 0, K), 1, 1e-9, `grating (${u}, ${v})`);
  }
  // An edge (a step across the kernel) is oriented too, though not a single frequency.
  const edge = grey((x) => (x < 5 ? -1 : 1));
  assert(orientationSelectivity(edge, 0, K) > 0.9);
  // A smooth isotropic blob is not: it scores near noise's level.
  const blob = grey((x, y) => Math.exp(-((x - 5) ** 2 + (y - 5) ** 2) / 4));
  assert(orientationSelectivity(blob, 0, K) < 0.3);
});

Deno.test("orientation: band energies hold k^2 times the variance of what is above the lowest ring (Parseval)", () => {
  // Two gratings outside the left-out ring (u^2 + v^2 <= 2), one inside it.
  const outside = (x: number, y: number) =>
    Math.cos((2 * Math.PI * (3 * x + y)) / K) + 0.5 * Math.sin((2 * Math.PI * 4 * y) / K);
  const w = grey(outside);
  let expected = 0;
  for (let c = 0; c < 3; c++) {
    let mean = 0;
    for (let i = 0; i < PLANE; i++) mean += w[c * PLANE + i];
    mean /= PLANE;
    for (let i = 0; i < PLANE; i++) expected += PLANE * (w[c * PLANE + i] - mean) ** 2;
  }
  const sum = (b: Float64Array) => b.reduce((a, x) => a + x, 0);
  const bands = bandEnergies(w, 0, K);
  assertEquals(bands.length, ORIENTATION_BANDS);
  assertAlmostEquals(sum(bands) / expected, 1, 1e-6);
  // Adding a 1-cycle grating (in the left-out ring) changes nothing.
  const low = grey((x, y) => outside(x, y) + 2 * Math.cos((2 * Math.PI * (x + y)) / K));
  assertAlmostEquals(sum(bandEnergies(low, 0, K)) / expected, 1, 1e-6);
});

Deno.test("orientation: random kernels spread their energy; trained-like sets score far higher", () => {
  const count = 64;
  const noise = normals(count * 3 * PLANE, 1);
  const stats = kernelSetStats(noise, K, 0, count);
  // Eight bands: white noise's largest share sits a little above 1/8, far below a grating's 1.
  assert(stats.mean_orientation_selectivity > 1 / ORIENTATION_BANDS);
  assert(stats.mean_orientation_selectivity < 0.35, `noise: ${stats.mean_orientation_selectivity}`);
  const oriented = new Float32Array(count * 3 * PLANE);
  for (let j = 0; j < count; j++) {
    const theta = (Math.PI * j) / count;
    oriented.set(
      grey((x, y) => Math.tanh(2 * ((x - 5) * Math.cos(theta) + (y - 5) * Math.sin(theta)))),
      j * 3 * PLANE,
    );
  }
  const edges = kernelSetStats(oriented, K, 0, count);
  assert(edges.mean_orientation_selectivity > 2 * stats.mean_orientation_selectivity);
  // The same kernels at another offset give the same number: offsets index whole kernels.
  assertAlmostEquals(
    kernelSetStats(oriented, K, 1, 1).mean_orientation_selectivity,
    orientationSelectivity(oriented, 3 * PLANE, K),
    1e-12,
  );
});

Deno.test("colour index: 0 for grey kernels, high for single-channel ones; in the set statistics too", () => {
  const g = grey((x, y) => x - y);
  const red = new Float32Array(3 * PLANE);
  for (let p = 0; p < PLANE; p++) red[p] = p % 7;
  assertEquals(colourIndex(g, 0, K), 0);
  assert(colourIndex(red, 0, K) > 0.6);
  const both = new Float32Array(6 * PLANE);
  both.set(g, 0);
  both.set(red, 3 * PLANE);
  assertAlmostEquals(kernelSetStats(both, K, 0, 2).mean_colour_index, colourIndex(red, 0, K) / 2, 1e-12);
});
