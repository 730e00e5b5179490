// Winograd convolution: the float64 transforms against direct correlation, then the GPU path (forward, input
// gradient and weight gradient) against the CPU reference on awkward shapes.
import { assert, assertStrictEquals, assertThrows } from "@std/assert";
import * as ref from "../src/reference/index.ts";
import { winogradMatrices } from "../src/math/winograd.ts";
import { winogradCorrelate2d } from "../src/reference/winograd.ts";
import { conv2dForward, convGeometry } from "../src/nn/ops/conv2d.ts";
import { WINOGRAD_TILES } from "../src/nn/ops/conv_geometry.ts";
import { winogradTileFor } from "../src/nn/ops/winograd.ts";
import { padMatrix } from "../src/nn/layout.ts";
import { resolveModel } from "../src/nn/spec.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";
import { assertConvMatchesReference, convErrors } from "./helpers/conv_check.ts";

const TOL = 2e-5;

for (const [m, r] of [[2, 3], [2, 5], [4, 3], [4, 5]]) {
  Deno.test(`winograd F(${m}x${m}, ${r}x${r}) transforms equal direct correlation in float64`, () => {
    const mat = winogradMatrices(m, r);
    assertStrictEquals(mat.alpha, m + r - 1);
    for (const [h, w, pad] of [[7, 9, Math.floor(r / 2)], [r, r + 2, 0], [6, 5, r - 1]]) {
      const x = randomData(h * w, h + w), k = randomData(r * r, r);
      const got = winogradCorrelate2d(x, h, w, k, pad, mat);
      const want = ref.conv2dForward(x, k, null, {
        n: 1,
        cin: 1,
        h,
        w,
        cout: 1,
        kh: r,
        kw: r,
        stride: 1,
        pad,
        groups: 1,
      });
      assert(maxRelDiff(got, want) < 1e-12, `${h}x${w} pad ${pad}`);
    }
  });
}

const cases = [
  {
    name: "3x3 pad 1, odd sizes, batch 3",
    n: 3,
    cin: 5,
    h: 7,
    w: 9,
    cout: 6,
    kh: 3,
    kw: 3,
    pad: 1,
    groups: 1,
  },
  {
    name: "5x5 pad 2, groups 2, batch 2",
    n: 2,
    cin: 10,
    h: 9,
    w: 11,
    cout: 6,
    kh: 5,
    kw: 5,
    pad: 2,
    groups: 2,
  },
  { name: "5x5 pad 0, batch 1", n: 1, cin: 3, h: 8, w: 7, cout: 9, kh: 5, kw: 5, pad: 0, groups: 1 },
  {
    name: "3x3 pad 2 (output larger than input)",
    n: 2,
    cin: 4,
    h: 5,
    w: 6,
    cout: 3,
    kh: 3,
    kw: 3,
    pad: 2,
    groups: 1,
  },
  {
    name: "3x3 pad 1, groups 2, 13x13 as AlexNet's conv4",
    n: 2,
    cin: 16,
    h: 13,
    w: 13,
    cout: 12,
    kh: 3,
    kw: 3,
    pad: 1,
    groups: 2,
  },
];

for (const tile of WINOGRAD_TILES) {
  for (const c of cases) {
    Deno.test(`winograd F(${tile}x${tile}) conv2d forward and backward: ${c.name}`, async () => {
      const g = convGeometry({ ...c, stride: 1, algorithm: "winograd", winogradTile: tile });
      assert(g.winograd);
      await assertConvMatchesReference({ ...c, stride: 1 }, g, 11, TOL);
    });
  }
}

// The error bound stated in conv_geometry.ts, on the layer shapes the engine runs through Winograd (CIFAR
// net conv2 on a batch of 8, AlexNet's conv2 and conv3 on one image), with weights at the nets' init scale.
// Measured: im2col <= 2e-6, F(2x2) <= 2.5e-5 (its weight gradient sums 4x more tiles), F(4x4) <= 1.3e-5.
const layers = [
  { name: "CIFAR conv2", n: 8, cin: 64, h: 16, w: 16, cout: 64, kh: 5, kw: 5, stride: 1, pad: 2, groups: 1 },
  {
    name: "AlexNet conv2",
    n: 1,
    cin: 96,
    h: 27,
    w: 27,
    cout: 256,
    kh: 5,
    kw: 5,
    stride: 1,
    pad: 2,
    groups: 2,
  },
  {
    name: "AlexNet conv3",
    n: 1,
    cin: 256,
    h: 13,
    w: 13,
    cout: 384,
    kh: 3,
    kw: 3,
    stride: 1,
    pad: 1,
    groups: 1,
  },
];
for (const c of layers) {
  Deno.test(`winograd F(2x2) and F(4x4) stay within 3e-5 of float64 on ${c.name}`, async () => {
    for (const tile of WINOGRAD_TILES) {
      const g = convGeometry({ ...c, algorithm: "winograd", winogradTile: tile });
      const e = await convErrors(c, g, 1, 0.05);
      for (const [what, err] of Object.entries(e)) assert(err < 3e-5, `F(${tile}x${tile}) ${what}: ${err}`);
    }
  });
}

Deno.test("winograd picks F(4x4) for a batch with tiles enough and F(2x2) for one small image", () => {
  const g = convGeometry({ cin: 64, h: 13, w: 13, cout: 64, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1 });
  assertStrictEquals(winogradTileFor(g, 1), 2);
  assertStrictEquals(winogradTileFor(g, 16), 4);
  assertStrictEquals(winogradTileFor(convGeometry({ ...g, winogradTile: 2 }), 16), 2);
  assertThrows(() => convGeometry({ ...g, winogradTile: 3 }), Error, "tile 3 is not one of 2, 4");
});

Deno.test("winograd conv2d splits the batch when its transformed tiles would exceed the binding limit", async () => {
  const gpu = await testGpu();
  const c = { n: 5, cin: 8, h: 6, w: 6, cout: 8, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1 };
  const g = convGeometry({ ...c, algorithm: "winograd" });
  const x = randomData(c.n * c.cin * 36, 15), w = randomData(c.cout * g.K, 16);
  const tx = gpu.fromArray([c.n, c.cin, 6, 6], x);
  const tw = gpu.fromArray([c.cout, g.Kp], padMatrix(w, c.cout, g.K, c.cout, g.Kp));
  const saved = gpu.maxBinding;
  // 16 transformed values x 8 channels x 9 tiles per image: room for two images (plus slack), so three chunks.
  (gpu as { maxBinding: number }).maxBinding = 2 * 4 * 16 * 8 * 9 + 4 * 16 * 8 * 4 + 64;
  try {
    const y = conv2dForward(gpu, tx, tw, null, g);
    (gpu as { maxBinding: number }).maxBinding = saved;
    assert(maxRelDiff(await y.read(), ref.conv2dForward(x, w, null, c)) < TOL);
    gpu.release(tx, tw, y);
  } finally {
    (gpu as { maxBinding: number }).maxBinding = saved;
  }
});

Deno.test("conv algorithm: auto picks winograd only where it applies and pays; a forced one that cannot run is refused", () => {
  const base = { cin: 64, h: 16, w: 16, cout: 64, kh: 5, kw: 5, stride: 1, pad: 2, groups: 1 };
  assertStrictEquals(convGeometry(base).winograd, true);
  assertStrictEquals(convGeometry({ ...base, algorithm: "im2col" }).winograd, false);
  assertStrictEquals(convGeometry({ ...base, cin: 3 }).winograd, false, "too few input channels");
  assertStrictEquals(convGeometry({ ...base, stride: 2 }).winograd, false);
  assertStrictEquals(convGeometry({ ...base, kh: 11, kw: 11 }).winograd, false);
  assertThrows(() => convGeometry({ ...base, stride: 4, algorithm: "winograd" }), Error, "stride 1");
});

Deno.test("a model file naming an unknown conv algorithm is refused with the layer named", () => {
  const spec = {
    name: "bad-algorithm",
    description: "",
    input: [3, 8, 8] as [number, number, number],
    classes: 2,
    layers: [{ type: "conv" as const, name: "c1", out: 4, kernel: 3, algorithm: "fft" as "auto" }],
  };
  assertThrows(
    () => resolveModel(spec),
    Error,
    `layer 1 (conv): algorithm "fft" is not one of auto, im2col, winograd`,
  );
});
