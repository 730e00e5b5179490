/** Shared shape helpers for the CPU reference (see docs/conventions.md). */

/** Every reference function accepts float32 or float64 inputs and computes in float64. */
export type Arr = Float32Array | Float64Array;

/** The window output-size rule, shared with the GPU side. */
export { convOutSize } from "../math/window.ts";

/** Throws when a flat array does not hold exactly `expected` elements. */
export function checkLen(name: string, a: ArrayLike<number>, expected: number): void {
  if (a.length !== expected) throw new Error(`${name}: length ${a.length}, expected ${expected}`);
}

/**
 * Output indices [lo, hi) whose input coordinate `o*stride + kOff - pad` falls inside [0, inp): lets the conv
 * loops skip padding without a bounds test per element.
 */
export function validRange(
  kOff: number,
  stride: number,
  pad: number,
  inp: number,
  out: number,
): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - kOff) / stride));
  const hi = Math.min(out, Math.floor((inp - 1 + pad - kOff) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** Gradients of a layer with weights: input, weight and bias. */
export interface ParamGrads {
  /** Gradient of the input, in its layout. */
  dx: Float64Array;
  /** Gradient of the weight, in its layout. */
  dw: Float64Array;
  /** Gradient of the bias, in its layout. */
  db: Float64Array;
}

/** Converts once to float64 so the hot loops see a single array type (keeps V8 monomorphic). */
export function toF64(a: Arr): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}
