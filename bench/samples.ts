// What our timings and the peers' share: the seeded input every timed net is given, and the median of the
// timed runs.

/** `length` values in [-0.5, 0.5) from a fixed LCG seed: the same input for ours and every peer. */
export function seededInput(length: number): Float32Array<ArrayBuffer> {
  const data = new Float32Array(length);
  let s = 12345;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return data;
}

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}
