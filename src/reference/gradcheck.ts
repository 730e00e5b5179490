/** Helpers for finite-difference gradient checks and array comparisons. */
import { uniform01 } from "../math/rng.ts";
import { type Arr, checkLen } from "./shapes.ts";

/** Central differences (f(x+eps) - f(x-eps)) / 2eps per element; x is restored afterwards. */
export function numericGradient(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + eps;
    const fp = f(x);
    x[i] = old - eps;
    const fm = f(x);
    x[i] = old;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/**
 * max_i |a-b| / max(|a|+|b|, floor). The floor turns the test absolute for values near zero, where finite
 * differences (or float32 rounding) leave noise that a pure relative error would blow up.
 */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-4): number {
  checkLen("maxRelError b", b, a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]) + Math.abs(b[i]), floor);
    if (!(e <= m)) m = e; // also propagates NaN
  }
  return m;
}

/** max_i |a-b|. */
export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLen("maxAbsError b", b, a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= m)) m = e;
  }
  return m;
}

/** Deterministic values uniform in [-scale, scale), from the counter-based hash (counter 0). */
export function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * uniform01(seed, 0, i) - 1) * scale;
  return a;
}

/** sum_i a[i] * b[i]; the scalar loss sum(y * r) of the gradient checks. */
export function dot(a: Arr, b: Arr): number {
  checkLen("dot b", b, a.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
