/** Softmax cross-entropy averaged over the batch, with top-1 / top-5 counts (docs/conventions.md). */
import { type Arr, checkLen, toF64 } from "./shapes.ts";

/** Loss, gradient and top-k counts of one batch. */
export interface SoftmaxXentResult {
  /** mean over the batch of -log softmax(z)[label] */
  loss: number;
  /** (softmax(z) - onehot(label)) / n */
  dlogits: Float64Array;
  /** samples whose label has no strictly greater logit */
  top1: number;
  /** samples whose label has fewer than 5 strictly greater logits */
  top5: number;
}

/**
 * Softmax cross-entropy of logits [N][classes] against labels [N]; throws on a label outside [0, classes).
 */
export function softmaxCrossEntropy(
  logitsIn: Arr,
  labels: Int32Array | Uint32Array,
  n: number,
  classes: number,
): SoftmaxXentResult {
  checkLen("softmax logits", logitsIn, n * classes);
  checkLen("softmax labels", labels, n);
  const z = toF64(logitsIn);
  const dlogits = new Float64Array(n * classes);
  let loss = 0, top1 = 0, top5 = 0;
  for (let i = 0; i < n; i++) {
    const r = i * classes, label = labels[i];
    if (!(label >= 0 && label < classes)) throw new Error(`softmax: label ${label} outside [0, ${classes})`);
    // Subtract the row max so exp never overflows.
    let m = -Infinity;
    for (let c = 0; c < classes; c++) if (z[r + c] > m) m = z[r + c];
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(z[r + c] - m);
    const lse = m + Math.log(sum);
    loss += lse - z[r + label];
    const zl = z[r + label];
    let greater = 0;
    for (let c = 0; c < classes; c++) {
      dlogits[r + c] = Math.exp(z[r + c] - lse) / n;
      if (z[r + c] > zl) greater++;
    }
    dlogits[r + label] -= 1 / n;
    if (greater < 1) top1++;
    if (greater < 5) top5++;
  }
  return { loss: loss / n, dlogits, top1, top5 };
}
