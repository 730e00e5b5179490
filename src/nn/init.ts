// Seeded parameter initialisation: weights ~ N(0, std^2) (Box-Muller over the counter-based hash, so every
// parameter's values depend only on the seed and its position), biases constant.

import { uniform01 } from "../math/rng.ts";
import { type ModelSpec, resolveModel } from "./spec.ts";

export function gaussian(n: number, std: number, seed: number, stream: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(uniform01(seed, stream, i), 1e-12);
    const u2 = uniform01(seed, stream, i + 1);
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Seeded initial parameters by name in logical (PyTorch) layouts: weights ~ N(0, std^2), biases constant. */
export function initialValues(spec: ModelSpec, seed: number): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  let stream = 0;
  for (const layer of resolveModel(spec)) {
    for (const p of layer.params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      stream++;
      values.set(
        p.name,
        typeof p.init === "number" ? new Float32Array(n).fill(p.init) : gaussian(n, p.init.std, seed, stream),
      );
    }
  }
  return values;
}
