// Softmax cross-entropy with top-1/top-5 counts, and plain softmax for inference.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";

/** softmaxCrossEntropy's outputs: new tensors the caller owns. */
export interface LossResult {
  /** [N][ld] gradient of the mean loss. */
  dlogits: Tensor;
  /** [N][4]: loss, top-1 correct, top-5 correct, probability of the label. */
  stats: Tensor;
}

/**
 * Softmax cross-entropy of logits [N][ld] (their first `classes` columns) against uint32 labels [N]: the mean
 * loss's gradient and per-sample stats.
 */
export function softmaxCrossEntropy(gpu: Gpu, logits: Tensor, labels: Tensor, classes: number): LossResult {
  const [n, ld] = logits.shape;
  const dlogits = gpu.tensor(logits.shape, "dlogits");
  const stats = gpu.tensor([n, 4], "loss-stats");
  gpu.run("loss", "softmax_xent", [logits, labels, dlogits, stats], [n, classes, ld, 0], [
    Math.ceil(n / 64),
    1,
    1,
  ]);
  return { dlogits, stats };
}

/** Probabilities [N][classes] from the first `classes` columns of logits [N][ld]; the caller owns them. */
export function softmax(gpu: Gpu, logits: Tensor, classes: number): Tensor {
  const [n, ld] = logits.shape;
  const probs = gpu.tensor([n, classes], "probs");
  gpu.run("loss", "softmax", [logits, probs], [n, classes, ld, 0], [Math.ceil(n / 64), 1, 1]);
  return probs;
}

/**
 * Sums the first n rows of LossResult.stats, read back, on the CPU (a readback: call when logging, not every
 * kernel): the mean loss, and top-1 and top-5 correct counts out of n.
 */
export function summariseStats(
  stats: Float32Array,
  n: number,
): { loss: number; top1: number; top5: number; n: number } {
  let loss = 0, top1 = 0, top5 = 0;
  for (let i = 0; i < n; i++) {
    loss += stats[i * 4];
    top1 += stats[i * 4 + 1];
    top5 += stats[i * 4 + 2];
  }
  return { loss: loss / n, top1, top5, n };
}
