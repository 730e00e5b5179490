/** Paper section 5 momentum SGD, in place: v <- m*v - wd*lr*w - lr*g; w <- w + v. */
import { type Arr, checkLen } from "./shapes.ts";

/** Momentum-SGD constants. */
export interface SgdParams {
  /** Learning rate. */
  lr: number;
  /** Momentum coefficient m. */
  momentum: number;
  /** Weight decay wd, scaled by lr in the update. */
  weightDecay: number;
}

/**
 * One update of w and v in place, by the file comment's formula; throws when v or g differs in length from w.
 */
export function sgdStep(w: Arr, v: Arr, g: Arr, p: SgdParams): void {
  checkLen("sgd v", v, w.length);
  checkLen("sgd g", g, w.length);
  const { lr, momentum, weightDecay } = p;
  for (let i = 0; i < w.length; i++) {
    const vi = momentum * v[i] - weightDecay * lr * w[i] - lr * g[i];
    v[i] = vi;
    w[i] += vi;
  }
}
