/** Paper section 5 momentum SGD, in place: v <- m*v - wd*lr*w - lr*g; w <- w + v. */
import { type Arr, checkLen } from "./shapes.ts";

export interface SgdParams {
  lr: number;
  momentum: number;
  weightDecay: number;
}

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
