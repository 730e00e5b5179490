// Pooling, normalisation, activations, dropout, loss, mean subtraction and SGD against the CPU reference.
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import * as ref from "../src/reference/index.ts";
import {
  avgPoolBackward,
  avgPoolForward,
  maxPoolBackward,
  maxPoolForward,
  poolGeometry,
} from "../src/nn/ops/pool.ts";
import { lrnBackward, lrnForward, type LrnMode } from "../src/nn/ops/lrn.ts";
import {
  activationBackward,
  activationForward,
  dropoutBackward,
  dropoutForward,
  sgdUpdate,
  subtractMean,
} from "../src/nn/ops/elementwise.ts";
import { softmax, softmaxCrossEntropy, summariseStats } from "../src/nn/ops/loss.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";

const TOL = 2e-5;

const poolCases = [
  { name: "overlapping 3/2 on 13x13", n: 2, c: 3, h: 13, w: 13, k: 3, stride: 2, pad: 0, ceil: false },
  {
    name: "non-overlapping 2/2 on odd 7x9, batch 1",
    n: 1,
    c: 2,
    h: 7,
    w: 9,
    k: 2,
    stride: 2,
    pad: 0,
    ceil: false,
  },
  {
    name: "3/2 ceil mode on 8x10 (window does not divide)",
    n: 2,
    c: 2,
    h: 8,
    w: 10,
    k: 3,
    stride: 2,
    pad: 0,
    ceil: true,
  },
  { name: "3/2 with padding 1, ceil", n: 3, c: 1, h: 6, w: 5, k: 3, stride: 2, pad: 1, ceil: true },
];
for (const c of poolCases) {
  Deno.test(`max and average pooling: ${c.name}`, async () => {
    const gpu = await testGpu();
    const g = poolGeometry(c);
    const x = randomData(c.n * c.c * c.h * c.w, 21);
    const dy = randomData(c.n * c.c * g.oh * g.ow, 22);
    const tx = gpu.fromArray([c.n, c.c, c.h, c.w], x), tdy = gpu.fromArray([c.n, c.c, g.oh, g.ow], dy);
    const { y, argmax } = maxPoolForward(gpu, tx, g);
    const dx = maxPoolBackward(gpu, tdy, argmax, g);
    const ya = avgPoolForward(gpu, tx, g);
    const dxa = avgPoolBackward(gpu, tdy, g);
    assert(maxRelDiff(await y.read(), ref.maxPoolForward(x, c).y) < TOL, "max forward");
    assert(maxRelDiff(await dx.read(), ref.maxPoolBackward(dy, x, c)) < TOL, "max backward");
    assert(maxRelDiff(await ya.read(), ref.avgPoolForward(x, c)) < TOL, "avg forward");
    assert(maxRelDiff(await dxa.read(), ref.avgPoolBackward(dy, c)) < TOL, "avg backward");

    // Ties (values on a coarse grid): each window's first maximum in row-major order wins, as in the reference.
    const tied = x.map((v) => Math.round(v * 2) / 2);
    const tt = gpu.fromArray([c.n, c.c, c.h, c.w], tied);
    const t = maxPoolForward(gpu, tt, g);
    const want = ref.maxPoolForward(tied, c).argmax;
    const plane = c.h * c.w, perPlane = g.oh * g.ow;
    assertEquals([...await gpu.readU32(t.argmax)].map((a, o) => a + Math.floor(o / perPlane) * plane), [
      ...want,
    ]);
    gpu.release(tt, t.y, t.argmax);
  });
}

const lrnCases: [LrnMode, string, { n: number; c: number; h: number; w: number }, ref.LrnParams][] = [
  ["cross", "paper constants", { n: 2, c: 7, h: 3, w: 5 }, { k: 2, n: 5, alpha: 1e-4, beta: 0.75 }],
  ["cross", "strong alpha, window 9 > channels", { n: 1, c: 6, h: 4, w: 3 }, {
    k: 1,
    n: 9,
    alpha: 0.3,
    beta: 0.75,
  }],
  ["cross", "even window 4", { n: 2, c: 5, h: 2, w: 3 }, { k: 1.5, n: 4, alpha: 0.2, beta: 0.6 }],
  // 273 pixels: one thread each walks the channels, the last workgroup part-empty.
  ["cross", "window 1, 3 x 7 x 13 pixels", { n: 3, c: 4, h: 7, w: 13 }, {
    k: 1,
    n: 1,
    alpha: 0.5,
    beta: 0.75,
  }],
  ["within", "3x3, cuda-convnet", { n: 2, c: 2, h: 5, w: 7 }, { k: 1, n: 3, alpha: 0.1, beta: 0.75 }],
  ["within", "even 4x4 window", { n: 1, c: 3, h: 6, w: 5 }, { k: 1, n: 4, alpha: 0.05, beta: 0.75 }],
];
for (const [mode, name, shape, p] of lrnCases) {
  Deno.test(`LRN ${mode}-map: ${name}`, async () => {
    const gpu = await testGpu();
    const size = shape.n * shape.c * shape.h * shape.w;
    const x = randomData(size, 31, 2), dy = randomData(size, 32);
    const tx = gpu.fromArray([shape.n, shape.c, shape.h, shape.w], x), tdy = gpu.fromArray([size], dy);
    const { y, scale } = lrnForward(gpu, mode, tx, p);
    const dx = lrnBackward(gpu, mode, tx, scale, tdy, p);
    const fwd = mode === "cross" ? ref.lrnCrossMapForward : ref.lrnWithinMapForward;
    const bwd = mode === "cross" ? ref.lrnCrossMapBackward : ref.lrnWithinMapBackward;
    assert(maxRelDiff(await y.read(), fwd(x, shape, p)) < TOL, "forward");
    assert(maxRelDiff(await dx.read(), bwd(x, dy, shape, p)) < TOL, "backward");
  });
}

Deno.test("ReLU and tanh forward and backward", async () => {
  const gpu = await testGpu();
  const x = randomData(1001, 41, 3), dy = randomData(1001, 42);
  const tx = gpu.fromArray([1001], x), tdy = gpu.fromArray([1001], dy);
  for (const kind of ["relu", "tanh"] as const) {
    const y = activationForward(gpu, kind, tx);
    const dx = activationBackward(gpu, kind, y, tdy);
    const yRef = kind === "relu" ? ref.reluForward(x) : ref.tanhForward(x);
    const dxRef = kind === "relu" ? ref.reluBackward(x, dy) : ref.tanhBackward(yRef, dy);
    assert(maxRelDiff(await y.read(), yRef) < 1e-6, `${kind} forward`);
    assert(maxRelDiff(await dx.read(), dxRef) < 1e-5, `${kind} backward`);
  }
});

Deno.test("dropout mask is the reference's, bit for bit, and reproducible from the seed", async () => {
  const gpu = await testGpu();
  const n = 70001;
  const x = randomData(n, 43), dy = randomData(n, 44);
  const tx = gpu.fromArray([n], x), tdy = gpu.fromArray([n], dy);
  const draw = { prob: 0.5, seed: 1234, counter: 7 };
  const y1 = await dropoutForward(gpu, tx, draw).read();
  const y2 = await dropoutForward(gpu, tx, draw).read();
  const y3 = await dropoutForward(gpu, tx, { ...draw, counter: 8 }).read();
  const want = ref.dropoutForward(x, 0.5, 1234, 7);
  assertEquals(y1, y2);
  assert(maxRelDiff(y1, want.y) < 1e-6);
  let same = 0;
  for (let i = 0; i < n; i++) if ((y1[i] === 0) === (y3[i] === 0)) same++;
  assert(same / n < 0.6, "a new counter draws a new mask");
  const dx = await dropoutBackward(gpu, tdy, draw).read();
  assert(maxRelDiff(dx, ref.dropoutBackward(dy, want.mask, 0.5)) < 1e-6);
});

Deno.test("softmax cross-entropy: loss, gradient, top-1/top-5 counts (10 classes padded to 12)", async () => {
  const gpu = await testGpu();
  const n = 9, classes = 10, ld = 12;
  const logits = randomData(n * classes, 51, 4);
  const labels = new Int32Array(n).map((_, i) => (i * 7) % classes);
  const padded = new Float32Array(n * ld);
  for (let i = 0; i < n; i++) padded.set(logits.subarray(i * classes, (i + 1) * classes), i * ld);
  const tl = gpu.fromArray([n, ld], padded);
  const tlab = gpu.tensor([n]);
  gpu.writeU32(tlab, labels);
  const { dlogits, stats } = softmaxCrossEntropy(gpu, tl, tlab, classes);
  const want = ref.softmaxCrossEntropy(logits, labels, n, classes);
  const s = summariseStats(await stats.read(), n);
  assert(Math.abs(s.loss - want.loss) < 1e-5);
  assertStrictEquals(s.top1, want.top1);
  assertStrictEquals(s.top5, want.top5);
  const d = await dlogits.read();
  const dense = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    dense.set(d.subarray(i * ld, i * ld + classes), i * classes);
    assertStrictEquals(d[i * ld + 10], 0);
    assertStrictEquals(d[i * ld + 11], 0);
  }
  assert(maxRelDiff(dense, want.dlogits) < 1e-5);
  const probs = await softmax(gpu, tl, classes).read();
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    assert(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  }
});

Deno.test("mean image subtraction broadcasts over the batch", async () => {
  const gpu = await testGpu();
  const x = randomData(3 * 75, 61), mean = randomData(75, 62);
  const y = subtractMean(gpu, gpu.fromArray([3, 75], x), gpu.fromArray([75], mean));
  assert(maxRelDiff(await y.read(), ref.meanSubtract(x, mean, 3, true)) < 1e-6);
});

Deno.test("SGD step is the paper's update", async () => {
  const gpu = await testGpu();
  const w = randomData(257, 71), v = randomData(257, 72), g = randomData(257, 73);
  const tw = gpu.fromArray([257], w), tv = gpu.fromArray([257], v), tg = gpu.fromArray([257], g);
  const h = { lr: 0.01, momentum: 0.9, weightDecay: 0.0005 };
  sgdUpdate(gpu, tw, tv, tg, h);
  const w64 = Float64Array.from(w), v64 = Float64Array.from(v);
  ref.sgdStep(w64, v64, g, h);
  assert(maxRelDiff(await tw.read(), w64) < 1e-6);
  assert(maxRelDiff(await tv.read(), v64) < 1e-6);
});
