// bench/ceiling.ts: the bound on a workload's time if its multiply kernels ran at the GEMM peak. Synthetic
// bench JSON, so every number below is worked out by hand.
import { assertAlmostEquals, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { ceiling, ceilingReport, multiplyFlops, neededRate } from "../bench/ceiling.ts";
import type { LayerTiming } from "../bench/layer_timing.ts";

const conv1: LayerTiming = {
  layer: "conv1 forward",
  ms: 10,
  gflops: 20, // 0.2 GFLOP of direct convolution
  kernels: [{ kernel: "conv_direct.weights_t", ms: 0.5, count: 1 }, {
    kernel: "conv_direct.forward",
    ms: 9.5,
    count: 1,
  }],
};
const conv2: LayerTiming = {
  layer: "conv2 forward",
  ms: 30,
  gflops: 50,
  kernels: [
    { kernel: "winograd.input 576 tiles", ms: 5, count: 1 },
    { kernel: "matmul.nn 100x200x50x10", ms: 20, count: 1 }, // 1e7 multiply-adds: 0.02 GFLOP
    { kernel: "winograd.output 576 tiles", ms: 5, count: 1 },
  ],
};
const pool: LayerTiming = {
  layer: "maxpool 3 forward",
  ms: 10,
  gflops: null,
  kernels: [{ kernel: "pool.max_forward", ms: 10, count: 1 }],
};

Deno.test("ceiling: GEMM tags count M*N*K*batch multiply-adds, repeated dispatches included", () => {
  assertEquals(multiplyFlops({ kernel: "matmul.nn 100x200x50x10", ms: 1, count: 1 }, conv2), 2e7);
  assertEquals(
    multiplyFlops({ kernel: "matmul.nt 64x256x384", ms: 1, count: 3 }, conv2),
    2 * 64 * 256 * 384 * 3,
  );
  assertAlmostEquals(multiplyFlops(conv1.kernels![1], conv1)!, 2e8, 1);
  assertEquals(multiplyFlops(conv1.kernels![0], conv1), null);
  assertEquals(multiplyFlops(conv2.kernels![0], conv2), null);
});

Deno.test("ceiling: multiply kernels at the peak, the rest keeps its profiled share of the measured time", () => {
  // Profiled: multiplies 9.5 + 20 = 29.5 ms, other 0.5 + 10 + 10 = 20.5 ms; measured 100 ms.
  const c = ceiling([conv1, conv2, pool], 100, 10);
  assertAlmostEquals(c.multiplyGflop, 0.22, 1e-12);
  assertAlmostEquals(c.multiplyShare, 29.5 / 50, 1e-12);
  assertAlmostEquals(c.otherMs, 41, 1e-9);
  assertAlmostEquals(c.boundMs, 41 + 22, 1e-9); // 0.22 GFLOP at 10 GFLOP/s
  assertAlmostEquals(neededRate(c, 52), 0.22 / 0.011, 1e-9);
  assertEquals(neededRate(c, 41), Infinity);
});

Deno.test("ceiling: a report without kernel times or GEMM rows says what to rerun", () => {
  const noKernels = [{ layer: "conv1 forward", ms: 1, gflops: 1 }];
  assertThrows(() => ceiling(noKernels, 1, 1), Error, "rerun the bench with --kernels");
  assertThrows(() => ceilingReport({}, 0.8), Error, "no GEMM rows");
});

Deno.test("ceiling: the report puts each compared workload's bound beside PyTorch", () => {
  const report = {
    adapterName: "test adapter",
    commit: "abc",
    gemm: [{ gflops: 8 }, { gflops: 10 }],
    cifar: { size32: { batch: 100, msPerStep: 100, layers: [conv1, conv2, pool] } },
    comparison: [{ id: "cifar32-train128", workload: "CIFAR step", pytorchImagesPerSec: 2000 }],
  };
  const text = ceilingReport(report, 0.8);
  assertMatch(text, /GEMM peak of this run \(best 1024\^3 layout\): 10\.00 GFLOP\/s/);
  // Bound 63 ms -> 1587.3 images/s, 0.79x PyTorch; 0.8x needs 62.5 ms: (62.5 - 41) ms for 0.22 GFLOP.
  assertMatch(
    text,
    /\| CIFAR step \| 100 \| 59% \| 41 \| 63 \| 1000\.0 \/ 1587\.3 \/ 2000\.0 \| 0\.79x \| 10 GFLOP\/s \(1\.0x the peak\) \|/,
  );
});
