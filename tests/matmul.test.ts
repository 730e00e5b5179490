import { assert, assertMatch } from "@std/assert";
import { matmul, type MatmulLayout } from "../src/nn/ops/matmul.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";

// Plain reference: C = op(A) op(B) + bias, A/B stored as the layout says.
function reference(layout: MatmulLayout, M: number, N: number, K: number, a: Float32Array, b: Float32Array) {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = layout === "tn" ? a[k * M + m] : a[m * K + k];
        const bv = layout === "nt" ? b[n * K + k] : b[k * N + n];
        s += av * bv;
      }
      c[m * N + n] = s;
    }
  }
  return c;
}

const shapes: [MatmulLayout, number, number, number][] = [
  ["nn", 1, 4, 4],
  ["nn", 13, 36, 20],
  ["nn", 67, 132, 44],
  ["nt", 1, 10, 8],
  ["nt", 3, 37, 64],
  ["nt", 17, 23, 36],
  ["nt", 130, 9, 100],
  ["nt", 9, 13, 16384], // long K: split into slices and summed
  ["tn", 4, 4, 1],
  ["tn", 12, 20, 7],
  ["tn", 68, 36, 33],
];

for (const [layout, M, N, K] of shapes) {
  for (const variant of ["cpu", "gpu"] as const) {
    Deno.test(`matmul ${layout} ${M}x${N}x${K} (${variant} kernels) matches the reference, with accumulate and bias`, async () => {
      const gpu = await testGpu();
      const saved = gpu.kernelVariant;
      gpu.kernelVariant = variant;
      const a = randomData(M * K, M + N + K);
      const b = randomData(K * N, M * N + 1);
      const bias = randomData(Math.max(M, N), 7);
      const c0 = randomData(M * N, 11);
      const ta = gpu.fromArray([a.length], a), tb = gpu.fromArray([b.length], b);
      const tc = gpu.fromArray([M * N], c0), tbias = gpu.fromArray([bias.length], bias);
      // Long-K products run split into slices, which take no bias (weight gradients have none).
      const biasMode = K > 8192 ? "none" : layout === "tn" ? "row" : "col";
      matmul(gpu, {
        layout,
        M,
        N,
        K,
        a: ta,
        b: tb,
        c: tc,
        lda: layout === "tn" ? M : K,
        ldb: layout === "nt" ? K : N,
        ldc: N,
        accumulate: true,
        bias: tbias,
        biasMode,
      });
      const got = await gpu.read(tc);
      const want = reference(layout, M, N, K, a, b);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          want[m * N + n] += c0[m * N + n] +
            (biasMode === "row" ? bias[m] : biasMode === "col" ? bias[n] : 0);
        }
      }
      const err = maxRelDiff(got, want);
      gpu.kernelVariant = saved;
      assert(err < 1e-5, `relative error ${err}`);
      gpu.release(ta, tb, tc, tbias);
    });
  }
}

Deno.test("matmul refuses unaligned operands with a message naming the field", async () => {
  const gpu = await testGpu();
  const t = gpu.tensor([64]);
  let message = "";
  try {
    matmul(gpu, { layout: "nn", M: 2, N: 4, K: 3, a: t, b: t, c: t, lda: 3, ldb: 4, ldc: 4 });
  } catch (e) {
    message = (e as Error).message;
  }
  assertMatch(message, /K=3 must be a multiple of 4/);
  t.release();
});
