/**
 * Counter-based random numbers: a PCG-style integer hash, written in 32-bit unsigned arithmetic so the WGSL
 * copy (u32 wrap-around) matches bit for bit. Math.imul gives the low 32 bits of the product; >>> 0 makes
 * every intermediate an unsigned 32-bit value.
 */

/** PCG output permutation of one u32 (RXS-M-XS). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Uniform in [0, 1) with 24 random bits (exact in float32), from (seed, counter, element index). */
export function uniform01(seed: number, counter: number, index: number): number {
  const h = pcgHash((index ^ pcgHash((seed + pcgHash(counter)) >>> 0)) >>> 0);
  return (h >>> 8) / 16777216;
}
