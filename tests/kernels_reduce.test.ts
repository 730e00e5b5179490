// Bias gradients (a convolution's sum over images and positions per channel): both kernel variants against the
// reference, and the CPU variant bit for bit the GPU variant's (it reorders reads, not sums).
import { assert, assertEquals } from "@std/assert";
import { channelSum } from "../src/nn/ops/elementwise.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";

/** [images, channels, values per plane]: vec4 planes that divide 256, that do not, of one vec4, wider than 256
 * vec4s, scalar planes (AlexNet's 55x55), and more stretches of 256 than lanes. */
const shapes: [number, number, number][] = [
  [3, 5, 1024],
  [7, 4, 64],
  [5, 3, 300],
  [9, 2, 4],
  [3, 3, 169],
  [2, 2, 3025],
  [4, 3, 2052],
  [600, 2, 12],
  [1, 1, 7],
];

function reference(x: Float32Array, n: number, c: number, s: number, start: Float32Array): Float64Array {
  const out = Float64Array.from(start);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < s; j++) out[ch] += x[(i * c + ch) * s + j];
    }
  }
  return out;
}

for (const [n, c, s] of shapes) {
  Deno.test(`channel sums over ${n} x ${c} x ${s}: both variants match the reference, the CPU one bit for bit`, async () => {
    const gpu = await testGpu();
    const saved = gpu.kernelVariant;
    const x = randomData(n * c * s, n + c + s);
    const start = randomData(c, 3);
    const tx = gpu.fromArray([n, c, s], x);
    const got: Record<string, Float32Array> = {};
    try {
      for (const variant of ["gpu", "cpu"] as const) {
        gpu.kernelVariant = variant;
        for (const acc of [false, true]) {
          const dst = gpu.fromArray([c], start);
          channelSum(gpu, tx, dst, n, c, s, acc);
          got[`${variant} ${acc}`] = await gpu.read(dst);
          dst.release();
        }
      }
    } finally {
      gpu.kernelVariant = saved;
      tx.release();
    }
    for (const acc of [false, true]) {
      const want = reference(x, n, c, s, acc ? start : new Float32Array(c));
      const err = maxRelDiff(got[`gpu ${acc}`], want);
      assert(err < 1e-5, `accumulate ${acc}: relative error ${err}`);
      assertEquals(
        new Uint32Array(got[`cpu ${acc}`].buffer),
        new Uint32Array(got[`gpu ${acc}`].buffer),
        `accumulate ${acc}: the CPU kernel's bits differ`,
      );
    }
  });
}
