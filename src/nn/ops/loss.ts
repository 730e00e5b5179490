// Softmax cross-entropy with top-1/top-5 counts, and plain softmax for inference.

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";

export interface LossResult {
  /** [N][ld] gradient of the mean loss. */
  dlogits: Tensor;
  /** [N][4]: loss, top-1 correct, top-5 correct, probability of the label. */
  stats: Tensor;
}

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

export function softmax(gpu: Gpu, logits: Tensor, classes: number): Tensor {
  const [n, ld] = logits.shape;
  const probs = gpu.tensor([n, classes], "probs");
  gpu.run("loss", "softmax", [logits, probs], [n, classes, ld, 0], [Math.ceil(n / 64), 1, 1]);
  return probs;
}

/** Sums the per-sample stats on the CPU (a readback: call when logging, not every kernel). */
export function summariseStats(stats: Float32Array, n: number) {
  let loss = 0, top1 = 0, top5 = 0;
  for (let i = 0; i < n; i++) {
    loss += stats[i * 4];
    top1 += stats[i * 4 + 1];
    top5 += stats[i * 4 + 2];
  }
  return { loss: loss / n, top1, top5, n };
}
