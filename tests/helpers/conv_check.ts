// One conv2d layer on the GPU, forward and backward, against the float64 CPU reference.
import { assert } from "@std/assert";
import * as ref from "../../src/reference/index.ts";
import { conv2dBackward, conv2dForward, type ConvGeometry } from "../../src/nn/ops/conv2d.ts";
import { padMatrix, unpadMatrix } from "../../src/nn/layout.ts";
import type { Conv2dShape } from "../../src/reference/conv2d.ts";
import { maxRelDiff, randomData, testGpu } from "./gpu.ts";

/**
 * y, dx, dw and db of the geometry's algorithm: max abs error over max |reference| of each. Without
 * `needDx` the backward pass runs as for a first layer (the direct engine's own weight gradient) and dx is 0.
 */
export async function convErrors(
  c: Conv2dShape,
  g: ConvGeometry,
  seed: number,
  weightScale = 0.5,
  needDx = true,
): Promise<{ y: number; dx: number; dw: number; db: number }> {
  const gpu = await testGpu();
  const x = randomData(c.n * c.cin * c.h * c.w, seed);
  const w = randomData(c.cout * g.K, seed + 1, weightScale);
  const b = randomData(c.cout, seed + 2);
  const dy = randomData(c.n * c.cout * g.oh * g.ow, seed + 3);
  const tx = gpu.fromArray([c.n, c.cin, c.h, c.w], x);
  const tw = gpu.fromArray([c.cout, g.Kp], padMatrix(w, c.cout, g.K, c.cout, g.Kp));
  const tb = gpu.fromArray([c.cout], b);
  const tdy = gpu.fromArray([c.n, c.cout, g.oh, g.ow], dy);
  const dw = gpu.tensor([c.cout, g.Kp]), db = gpu.tensor([c.cout]);
  const y = conv2dForward(gpu, tx, tw, tb, g);
  const dx = conv2dBackward(gpu, tx, tw, tdy, g, { dw, db }, needDx);
  const shape = { ...c };
  const grads = ref.conv2dBackward(x, w, dy, shape);
  const errors = {
    y: maxRelDiff(await y.read(), ref.conv2dForward(x, w, b, shape)),
    dx: dx ? maxRelDiff(await dx.read(), grads.dx) : 0,
    dw: maxRelDiff(unpadMatrix(await dw.read(), c.cout, g.K, g.Kp), grads.dw),
    db: maxRelDiff(await db.read(), grads.db),
  };
  gpu.release(tx, tw, tb, tdy, dw, db, y, ...(dx ? [dx] : []));
  return errors;
}

/** y, dx, dw and db of the geometry's algorithm each within `tol` (max abs error over max |reference|). */
export async function assertConvMatchesReference(
  c: Conv2dShape,
  g: ConvGeometry,
  seed: number,
  tol: number,
  needDx = true,
) {
  const errors = await convErrors(c, g, seed, 0.5, needDx);
  for (const [what, err] of Object.entries(errors)) assert(err < tol, `${what}: ${err}`);
}
