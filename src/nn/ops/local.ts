// Locally connected (unshared) 2-D layer, as cuda-convnet's CIFAR nets use: weight [OH*OW][Cout][Cin*KH*KW],
// bias [Cout][OH][OW].

import type { Gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { rowSum } from "./elementwise.ts";
import { convTemplate } from "./conv2d.ts";
import { type ConvGeometry, convGeometry, type ConvSpec } from "./conv_geometry.ts";

/** A locally connected layer's geometry: convGeometry with one group. */
export function localGeometry(s: Omit<ConvSpec, "groups">): ConvGeometry {
  return convGeometry({ ...s, groups: 1 });
}

/** kernels/local.wgsl's Params: the batch size and whether a bias is bound (the geometry is compiled in). */
const params = (n: number, hasBias: boolean) => [n, hasBias ? 1 : 0, 0, 0];

/**
 * y [N, Cout, OH, OW]: each output position with its own filter bank, plus b [Cout][OH][OW] when given; a new
 * tensor the caller owns.
 */
export function localForward(gpu: Gpu, x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const n = x.shape[0];
  const y = gpu.tensor([n, g.cout, g.oh, g.ow], "local");
  gpu.run("local", "forward", [x, w, b ?? w, y], params(n, b !== null), gpu.grid1d(y.size), convTemplate(g));
  return y;
}

/**
 * Overwrites grads.dw and grads.db, and returns dx [N, Cin, H, W] unless needDx is false (a new tensor the
 * caller owns).
 */
export function localBackward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  g: ConvGeometry,
  grads: { dw: Tensor; db: Tensor | null },
  needDx = true,
): Tensor | null {
  const n = x.shape[0];
  const P = g.oh * g.ow;
  gpu.run(
    "local",
    "backward_weight",
    [x, null, dy, grads.dw],
    params(n, false),
    gpu.grid1d(grads.dw.size),
    convTemplate(g),
  );
  if (grads.db) rowSum(gpu, dy, grads.db, n, g.cout * P, g.cout * P);
  if (!needDx) return null;
  const dx = gpu.tensor(x.shape, "dlocal");
  gpu.run("local", "backward_input", [w, dy, dx], params(n, false), gpu.grid1d(dx.size), convTemplate(g));
  return dx;
}
