/** Shared shape helpers for the CPU reference (see docs/conventions.md). */

/** Every reference function accepts float32 or float64 inputs and computes in float64. */
export type Arr = Float32Array | Float64Array;

/**
 * Output size of a convolution or pooling window along one axis.
 * floor: `floor((inp + 2*pad - k) / stride) + 1`; ceil: `ceil(...) + 1`, then dropping the last window when it
 * would start past the input plus the leading pad (Caffe / PyTorch rule), so every window overlaps the input.
 */
export function convOutSize(inp: number, k: number, stride: number, pad: number, ceil = false): number {
  if (stride < 1 || k < 1 || pad < 0) throw new Error(`bad window k=${k} stride=${stride} pad=${pad}`);
  const span = inp + 2 * pad - k;
  if (span < 0) throw new Error(`window ${k} larger than padded input ${inp}+2*${pad}`);
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceil && (out - 1) * stride >= inp + pad) out--;
  return out;
}

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
  dx: Float64Array;
  dw: Float64Array;
  db: Float64Array;
}

/** Converts once to float64 so the hot loops see a single array type (keeps V8 monomorphic). */
export function toF64(a: Arr): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}
