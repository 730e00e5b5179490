// Sizes shared by the GPU ops: GEMM operands are stored with rows a multiple of 4 wide (vec4 loads), and the
// batched ops split the batch into chunks whose buffers fit the adapter's binding limit. Window output sizes
// come from src/math/window.ts, the rule the model resolver and the reference use too.

import type { Gpu } from "../../gpu/runtime.ts";

export const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Bytes one chunk's largest buffer may take: the adapter's binding limit, and at most 512 MiB. */
export function chunkBudget(gpu: Gpu): number {
  return Math.min(gpu.maxBinding, 512 * 2 ** 20);
}

/** A run of `cur` images from image `n0`. */
export interface ImageChunk {
  n0: number;
  cur: number;
}

/**
 * Splits `n` images into chunks of at most `fit` (at least one) each. The chunks are even: a small last chunk
 * would run its GEMMs on too few columns.
 */
export function imageChunks(n: number, fit: number): ImageChunk[] {
  const most = Math.max(1, Math.min(n, fit));
  const nb = Math.ceil(n / Math.ceil(n / most));
  const chunks: ImageChunk[] = [];
  for (let n0 = 0; n0 < n; n0 += nb) chunks.push({ n0, cur: Math.min(nb, n - n0) });
  return chunks;
}
