// One Gpu per test file: creating devices is slow on software adapters.
import { Gpu } from "../../src/gpu/runtime.ts";

let shared: Promise<Gpu> | null = null;
export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.create();
  return shared;
}

/** Deterministic values in [-scale, scale) from a small LCG, so failures reproduce. */
export function randomData(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 16777216 * 2 - 1) * scale;
  }
  return out;
}

export function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let maxAbs = 0;
  let maxRef = 1e-12;
  for (let i = 0; i < got.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  return maxAbs / maxRef;
}
