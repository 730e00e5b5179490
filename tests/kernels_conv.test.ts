// GPU convolution, locally connected and fully connected layers against the float64 CPU reference.
import { assert, assertStrictEquals, assertThrows } from "@std/assert";
import * as ref from "../src/reference/index.ts";
import { batchSlices, conv2dForward, convGeometry } from "../src/nn/ops/conv2d.ts";
import { localBackward, localForward, localGeometry } from "../src/nn/ops/local.ts";
import { linearBackward, linearForward, linearGeometry } from "../src/nn/ops/linear.ts";
import { padMatrix, unpadMatrix } from "../src/nn/layout.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";
import { assertConvMatchesReference } from "./helpers/conv_check.ts";
import type { Gpu } from "../src/gpu/runtime.ts";

const TOL = 2e-5;

const convCases = [
  {
    name: "odd sizes, batch 1",
    n: 1,
    cin: 3,
    h: 7,
    w: 9,
    cout: 5,
    kh: 3,
    kw: 3,
    stride: 1,
    pad: 1,
    groups: 1,
  },
  {
    name: "groups 2, batch 3",
    n: 3,
    cin: 4,
    h: 6,
    w: 5,
    cout: 6,
    kh: 3,
    kw: 2,
    stride: 1,
    pad: 0,
    groups: 2,
  },
  {
    name: "11x11 stride 4 pad 2",
    n: 2,
    cin: 3,
    h: 23,
    w: 21,
    cout: 8,
    kh: 11,
    kw: 11,
    stride: 4,
    pad: 2,
    groups: 1,
  },
  {
    name: "5x5 pad 2 groups 2",
    n: 2,
    cin: 6,
    h: 9,
    w: 9,
    cout: 10,
    kh: 5,
    kw: 5,
    stride: 1,
    pad: 2,
    groups: 2,
  },
  {
    name: "stride 3, groups 3",
    n: 2,
    cin: 6,
    h: 10,
    w: 11,
    cout: 9,
    kh: 3,
    kw: 3,
    stride: 3,
    pad: 1,
    groups: 3,
  },
];

for (const c of convCases) {
  Deno.test(`conv2d forward and backward: ${c.name}`, async () => {
    const g = convGeometry({ ...c, algorithm: "im2col" });
    await assertConvMatchesReference(c, g, 1, TOL);
  });
}

// The direct forward and, for a first layer (no dx), its weight gradient: one to four channels, strides 1-4, padding on every side,
// rows wider and narrower than a thread's 8 outputs and channel counts that leave its 16- or 32-channel block part-empty.
const directCases = [
  {
    name: "1 channel, 5x5 pad 2, 20 wide",
    n: 2,
    cin: 1,
    h: 9,
    w: 20,
    cout: 17,
    kh: 5,
    kw: 5,
    stride: 1,
    pad: 2,
  },
  {
    name: "3 channels, 11x11 stride 4 pad 2",
    n: 2,
    cin: 3,
    h: 31,
    w: 35,
    cout: 8,
    kh: 11,
    kw: 11,
    stride: 4,
    pad: 2,
  },
  {
    name: "4 channels, 3x2 stride 2, no pad",
    n: 3,
    cin: 4,
    h: 7,
    w: 6,
    cout: 5,
    kh: 3,
    kw: 2,
    stride: 2,
    pad: 0,
  },
  {
    name: "3 channels, 5x5 pad 2, CIFAR's 32x32",
    n: 1,
    cin: 3,
    h: 32,
    w: 32,
    cout: 64,
    kh: 5,
    kw: 5,
    stride: 1,
    pad: 2,
  },
];
for (const c of directCases) {
  Deno.test(`conv2d direct forward, im2col backward: ${c.name}`, async () => {
    const g = convGeometry({ ...c, groups: 1, algorithm: "direct" });
    assert(g.direct);
    await assertConvMatchesReference({ ...c, groups: 1 }, g, 3, TOL);
  });
  Deno.test(`conv2d direct forward and weight gradient (a first layer): ${c.name}`, async () => {
    const g = convGeometry({ ...c, groups: 1, algorithm: "direct" });
    await assertConvMatchesReference({ ...c, groups: 1 }, g, 5, TOL, false);
  });
}

Deno.test("the direct weight gradient's batch slices cover every image once, none empty", () => {
  for (const [n, threads] of [[1, 24], [128, 24], [128, 396], [7, 3000], [100, 33], [2049, 1]]) {
    const { perSlice, slices } = batchSlices(n, threads);
    assert(perSlice * slices >= n && perSlice * (slices - 1) < n, `${n} images, ${threads} threads`);
  }
  assertStrictEquals(batchSlices(128, 24).slices, 64);
});

Deno.test("conv algorithm: auto picks the direct forward for one group of up to four channels", () => {
  const base = { cin: 3, h: 32, w: 32, cout: 64, kh: 5, kw: 5, stride: 1, pad: 2, groups: 1 };
  assertStrictEquals(convGeometry(base).direct, true);
  assertStrictEquals(convGeometry({ ...base, cin: 5 }).direct, false);
  assertStrictEquals(convGeometry({ ...base, cin: 4, groups: 2 }).direct, false);
  assertStrictEquals(convGeometry({ ...base, algorithm: "im2col" }).direct, false);
  assertThrows(() => convGeometry({ ...base, cin: 4, groups: 2, algorithm: "direct" }), Error, "one group");
});

Deno.test("conv2d splits the batch when the column matrix would exceed the binding limit", async () => {
  const gpu = await testGpu();
  const c = { n: 5, cin: 2, h: 8, w: 8, cout: 4, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1 };
  const g = convGeometry({ ...c, algorithm: "im2col" });
  const x = randomData(c.n * c.cin * 64, 5);
  const w = randomData(c.cout * g.K, 6);
  const saved = gpu.maxBinding;
  // Room for two images' columns only, so the op runs as three chunks.
  (gpu as { maxBinding: number }).maxBinding = 2 * g.Kp * 64 * 4 + 64;
  try {
    const y = conv2dForward(
      gpu,
      gpu.fromArray([c.n, c.cin, 8, 8], x),
      gpu.fromArray([c.cout, g.Kp], padMatrix(w, c.cout, g.K, c.cout, g.Kp)),
      null,
      g,
    );
    (gpu as { maxBinding: number }).maxBinding = saved;
    assert(maxRelDiff(await y.read(), ref.conv2dForward(x, w, null, c)) < TOL);
  } finally {
    (gpu as { maxBinding: number }).maxBinding = saved;
  }
});

// Taps not a multiple of 4 (padded weights), a batch of 1 and of 5 (padded image columns), taps a multiple
// of 4 (the weights used in place), and a binding limit that splits the batch into chunks.
const localCases = [
  { name: "3x3 pad 1 at 5x6", n: 2, cin: 3, h: 5, w: 6, cout: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
  { name: "stride 2, batch 1", n: 1, cin: 2, h: 7, w: 7, cout: 3, kh: 3, kw: 2, stride: 2, pad: 0 },
  {
    name: "taps a multiple of 4, batch 5",
    n: 5,
    cin: 4,
    h: 4,
    w: 4,
    cout: 5,
    kh: 3,
    kw: 3,
    stride: 1,
    pad: 1,
  },
  {
    name: "chunks of images",
    n: 7,
    cin: 2,
    h: 4,
    w: 5,
    cout: 3,
    kh: 2,
    kw: 2,
    stride: 1,
    pad: 0,
    // cols of one image: 12 positions x 8 taps x 4 bytes; room for 4 images, so chunks of 4 and 3.
    maxBinding: 4 * 12 * 8 * 4,
  },
];
for (const c of localCases) {
  Deno.test(`locally connected forward and backward: ${c.name}`, async () => {
    const gpu = await testGpu();
    const saved = gpu.maxBinding;
    if (c.maxBinding) (gpu as { maxBinding: number }).maxBinding = c.maxBinding;
    try {
      await localCase(gpu, c);
    } finally {
      (gpu as { maxBinding: number }).maxBinding = saved;
    }
  });
}

async function localCase(gpu: Gpu, c: (typeof localCases)[number]) {
  {
    const g = localGeometry(c);
    const P = g.oh * g.ow;
    const x = randomData(c.n * c.cin * c.h * c.w, 7);
    const w = randomData(P * c.cout * g.K, 8);
    const b = randomData(c.cout * P, 9);
    const dy = randomData(c.n * c.cout * P, 10);
    const tx = gpu.fromArray([c.n, c.cin, c.h, c.w], x), tw = gpu.fromArray([w.length], w);
    const tb = gpu.fromArray([b.length], b), tdy = gpu.fromArray([dy.length], dy);
    const dw = gpu.tensor([w.length]), db = gpu.tensor([b.length]);
    const y = localForward(gpu, tx, tw, tb, g);
    const dx = localBackward(gpu, tx, tw, tdy, g, { dw, db })!;
    const shape = { ...c, groups: 1 };
    const grads = ref.localBackward(x, w, dy, shape);
    assert(maxRelDiff(await y.read(), ref.localForward(x, w, b, shape)) < TOL, "forward");
    assert(maxRelDiff(await dx.read(), grads.dx) < TOL, "dx");
    assert(maxRelDiff(await dw.read(), grads.dw) < TOL, "dw");
    assert(maxRelDiff(await db.read(), grads.db) < TOL, "db");
  }
}

const linearCases = [
  { name: "odd in/out, batch 1", n: 1, inF: 7, outF: 10 },
  { name: "batch 5", n: 5, inF: 36, outF: 13 },
  { name: "split into row chunks", n: 3, inF: 20, outF: 30, maxBinding: 20 * 4 * 8 },
];
for (const c of linearCases) {
  Deno.test(`linear forward and backward: ${c.name}`, async () => {
    const gpu = await testGpu();
    const g = linearGeometry(c.inF, c.outF, c.maxBinding ?? gpu.maxBinding);
    if (c.maxBinding) assert(g.chunks.length > 1, "expected several chunks");
    const x = randomData(c.n * c.inF, 11), w = randomData(c.outF * c.inF, 12), b = randomData(c.outF, 13);
    const dy = randomData(c.n * c.outF, 14);
    const wp = padMatrix(w, c.outF, c.inF, g.outP, g.inP);
    const tw = g.chunks.map(([r0, r1]) =>
      gpu.fromArray([r1 - r0, g.inP], wp.subarray(r0 * g.inP, r1 * g.inP))
    );
    const dw = g.chunks.map(([r0, r1]) => gpu.tensor([r1 - r0, g.inP]));
    const tx = gpu.fromArray([c.n, g.inP], padMatrix(x, c.n, c.inF, c.n, g.inP));
    const tb = gpu.fromArray([g.outP], padMatrix(b, 1, c.outF, 1, g.outP));
    const tdy = gpu.fromArray([c.n, g.outP], padMatrix(dy, c.n, c.outF, c.n, g.outP));
    const db = gpu.tensor([g.outP]);
    const y = linearForward(gpu, tx, tw, tb, g);
    const dx = linearBackward(gpu, tx, tw, tdy, g, { dw, db })!;
    const s = { n: c.n, inF: c.inF, outF: c.outF };
    const grads = ref.linearBackward(x, w, dy, s);
    assert(
      maxRelDiff(unpadMatrix(await y.read(), c.n, c.outF, g.outP), ref.linearForward(x, w, b, s)) < TOL,
    );
    assert(maxRelDiff(unpadMatrix(await dx.read(), c.n, c.inF, g.inP), grads.dx) < TOL, "dx");
    const dwAll = new Float32Array(g.outP * g.inP);
    for (let i = 0; i < dw.length; i++) dwAll.set(await dw[i].read(), g.chunks[i][0] * g.inP);
    assert(maxRelDiff(unpadMatrix(dwAll, c.outF, c.inF, g.inP), grads.dw) < TOL, "dw");
    assert(maxRelDiff((await db.read()).subarray(0, c.outF), grads.db) < TOL, "db");
  });
}
