import {
  assert,
  assertEquals,
  assertNotEquals,
  assertNotStrictEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { BatchLoader, centerCropBatch, tenCropBatch } from "../src/data/loader.ts";
import { computeMeanImage, computeRgbPca, symmetricEigen } from "../src/data/augment.ts";
import { fromCHW, tenCrops, toCHW } from "../src/data/image_decode.ts";
import { permutation } from "../src/data/rng.ts";
import { type ImageSet, selectImageSet, sliceImageSet } from "../src/data/types.ts";

/** n images of C x H x W whose pixel (c, y, x) of image i is (c*64 + y*8 + x + i) & 255; label i % 3. */
function coded(n: number, C = 3, H = 8, W = 8): ImageSet {
  const pixels = new Uint8Array(n * C * H * W);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) pixels[((i * C + c) * H + y) * W + x] = (c * 64 + y * 8 + x + i) & 255;
      }
    }
  }
  return {
    classes: ["a", "b", "c"],
    channels: C,
    height: H,
    width: W,
    count: n,
    pixels,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
  };
}

function collect(loader: BatchLoader, batches: number) {
  const out = [];
  for (let b = 0; b < batches; b++) {
    const { x, labels, indices, epoch, index, n } = loader.next();
    out.push({ x: x.slice(), labels: labels.slice(), indices: indices.slice(), epoch, index, n });
  }
  return out;
}

const augmented = { batchSize: 4, crop: 5, randomCrop: true, flip: true, scale: 1, seed: 7 };

Deno.test("BatchLoader: same seed, same batches; every image once per epoch", () => {
  const set = coded(10);
  const a = collect(new BatchLoader(set, augmented), 9);
  const b = collect(new BatchLoader(set, augmented), 9);
  assertEquals(a, b);
  const c = collect(new BatchLoader(set, { ...augmented, seed: 8 }), 9);
  assertNotEquals(a.map((x) => x.indices), c.map((x) => x.indices));
  // 10 images, batch 4: 4 + 4 + 2 per epoch, then the next epoch in a new order.
  assertEquals(a.map((x) => x.n), [4, 4, 2, 4, 4, 2, 4, 4, 2]);
  assertEquals(a.map((x) => x.epoch), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
  for (let e = 0; e < 3; e++) {
    const seen = a.slice(3 * e, 3 * e + 3).flatMap((x) => Array.from(x.indices));
    assertEquals([...seen].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assertEquals(seen, Array.from(permutation(10, 7, e)));
  }
  assertNotEquals(a[0].indices, a[3].indices);
  for (const x of a) assertEquals(x.labels, Int32Array.from(x.indices, (i) => i % 3));
});

Deno.test("BatchLoader: dropLast, no shuffle, epoch() generator", () => {
  const set = coded(10);
  const l = new BatchLoader(set, { batchSize: 4, dropLast: true, shuffle: false, scale: 1 });
  assertStrictEquals(l.batchesPerEpoch, 2);
  const ep = [...l.epoch()];
  assertEquals(ep.map((b) => Array.from(b.indices)), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  assertStrictEquals(ep[1].last, true);
  assertEquals(l.state(), { epoch: 1, index: 0 });
  assertThrows(() => new BatchLoader(set, { batchSize: 11, dropLast: true }), Error, "yields nothing");
});

Deno.test("BatchLoader: state/restore resumes exactly, across epoch ends, with prefetch", () => {
  const set = coded(10);
  const full = collect(new BatchLoader(set, { ...augmented, pcaNoise: 0.1, pca: computeRgbPca(set) }), 8);
  for (const k of [1, 2, 3, 5]) {
    const a = new BatchLoader(set, { ...augmented, pcaNoise: 0.1, pca: computeRgbPca(set) });
    collect(a, k);
    a.prefetch(); // a prepared batch is not part of the saved position
    const saved = JSON.parse(JSON.stringify(a.state()));
    const b = new BatchLoader(set, { ...augmented, pcaNoise: 0.1, pca: computeRgbPca(set) });
    b.restore(saved);
    assertEquals(collect(b, 8 - k), full.slice(k));
    assertEquals(collect(a, 8 - k), full.slice(k));
  }
  // Prefetching before every batch changes nothing.
  const p = new BatchLoader(set, { ...augmented, pcaNoise: 0.1, pca: computeRgbPca(set) });
  const withPrefetch = [];
  for (let i = 0; i < 8; i++) {
    p.prefetch();
    p.prefetch(); // idempotent
    withPrefetch.push(collect(p, 1)[0]);
  }
  assertEquals(withPrefetch, full);
  assertThrows(() => p.restore({ epoch: 0, index: 10 }), Error, "past the epoch");
});

Deno.test("BatchLoader: crops and mirrors are windows of the stored image", () => {
  const set = coded(6);
  const l = new BatchLoader(set, { ...augmented, batchSize: 6 });
  const offsets = new Set<string>();
  let flips = 0, total = 0;
  for (let e = 0; e < 20; e++) {
    const b = l.next();
    for (let k = 0; k < b.n; k++) {
      const img = b.indices[k];
      const o = b.x.subarray(k * 75, (k + 1) * 75);
      // Recover the window from the coded values: top-left value = y0*8 + x0 + img (or the top-right when flipped).
      const flip = o[0] > o[1];
      const v0 = flip ? o[4] : o[0];
      const x0 = (v0 - img) % 8, y0 = Math.floor((v0 - img) / 8);
      offsets.add(`${x0},${y0}`);
      if (flip) flips++;
      total++;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 5; y++) {
          for (let x = 0; x < 5; x++) {
            const sx = x0 + (flip ? 4 - x : x);
            assertStrictEquals(o[(c * 5 + y) * 5 + x], c * 64 + (y0 + y) * 8 + sx + img);
          }
        }
      }
    }
  }
  assertStrictEquals(offsets.size, 16); // all 4 x 4 positions occur
  assert(flips > total * 0.3 && flips < total * 0.7, `${flips} flips of ${total}`);
});

Deno.test("BatchLoader: mean subtraction before cropping, scale, centre crop", () => {
  const set = coded(4);
  const mean = computeMeanImage(set);
  // Mean of values v + i over i = 0..3 is v + 1.5.
  assertStrictEquals(mean[9], 9 + 1.5);
  const l = new BatchLoader(set, { batchSize: 4, crop: 4, mean, scale: 0.5, shuffle: false });
  const b = l.next();
  // Centre crop of 8 -> 4 starts at (2, 2); (pixel - mean) * 0.5 = (i - 1.5) / 2 everywhere.
  for (let i = 0; i < 4; i++) assert(b.x.subarray(i * 48, (i + 1) * 48).every((v) => v === (i - 1.5) / 2));
  const plain = centerCropBatch(set, 1, 2, { crop: 4, scale: 1 });
  assertStrictEquals(plain.n, 2);
  assertStrictEquals(plain.x[0], 2 * 8 + 2 + 1);
  assertEquals(plain.labels, Int32Array.of(1, 2));
  assertThrows(
    () => new BatchLoader(set, { batchSize: 2, mean: new Float32Array(5) }),
    Error,
    "mean has 5 values",
  );
  assertThrows(() => new BatchLoader(set, { batchSize: 2, crop: 9 }), Error, "crop 9 does not fit");
  assertThrows(() => new BatchLoader(set, { batchSize: 2, pcaNoise: 0.1 }), Error, "needs pca");
});

Deno.test("tenCropBatch matches image_decode.tenCrops, image-major", () => {
  const set = coded(2);
  const t = tenCropBatch(set, 0, 5, { crop: 5, scale: 1 });
  assertStrictEquals(t.n, 2);
  assertStrictEquals(t.x.length, 2 * 10 * 75);
  for (let i = 0; i < 2; i++) {
    const crops = tenCrops(fromCHW(set.pixels.subarray(i * 192, (i + 1) * 192), 8, 8), 5);
    for (let v = 0; v < 10; v++) {
      assertEquals(
        t.x.subarray((i * 10 + v) * 75, (i * 10 + v + 1) * 75),
        Float32Array.from(toCHW(crops[v])),
      );
    }
  }
});

Deno.test("symmetricEigen and computeRgbPca", () => {
  const a = [[4, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 1]];
  const { eigenvalues: l, eigenvectors: v } = symmetricEigen(a);
  assert(l[0] >= l[1] && l[1] >= l[2]);
  for (let i = 0; i < 3; i++) {
    // A v = lambda v, |v| = 1, v_i . v_j = 0.
    for (let r = 0; r < 3; r++) {
      const av = a[r][0] * v[i][0] + a[r][1] * v[i][1] + a[r][2] * v[i][2];
      assert(Math.abs(av - l[i] * v[i][r]) < 1e-9);
    }
    for (let j = 0; j < 3; j++) {
      const dot = v[i][0] * v[j][0] + v[i][1] * v[j][1] + v[i][2] * v[j][2];
      assert(Math.abs(dot - (i === j ? 1 : 0)) < 1e-9);
    }
  }
  // Grey images: all variance along (1, 1, 1)/sqrt(3).
  const n = 50, pixels = new Uint8Array(n * 3 * 16);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 16; p++) {
      for (let c = 0; c < 3; c++) pixels[(i * 3 + c) * 16 + p] = (i * 37 + p * 11) & 255;
    }
  }
  const grey: ImageSet = {
    classes: ["x"],
    channels: 3,
    height: 4,
    width: 4,
    count: n,
    pixels,
    labels: new Int32Array(n),
  };
  const pca = computeRgbPca(grey);
  assert(pca.eigenvalues[1] < 1e-9 && pca.eigenvalues[0] > 0.01);
  for (const c of pca.eigenvectors[0]) assert(Math.abs(c - 1 / Math.sqrt(3)) < 1e-6);
  // The colour shift then moves all three channels of an image by the same amount, constant over the image.
  const l2 = new BatchLoader(grey, { batchSize: n, pcaNoise: 0.1, pca, scale: 1 / 255, seed: 3 });
  const b = l2.next();
  const shifts: number[] = [];
  for (let k = 0; k < n; k++) {
    const img = b.indices[k];
    const d = Array.from({ length: 48 }, (_, j) => b.x[k * 48 + j] - pixels[img * 48 + j] / 255);
    for (const v of d) assert(Math.abs(v - d[0]) < 1e-6);
    shifts.push(d[0]);
  }
  const sd = Math.sqrt(shifts.reduce((s, v) => s + v * v, 0) / n);
  const expected = 0.1 * pca.eigenvalues[0] / Math.sqrt(3);
  assert(sd > expected * 0.6 && sd < expected * 1.5, `shift std ${sd} vs ${expected}`);
});

Deno.test("reuseBuffers alternates two buffers; slice/select helpers", () => {
  const set = coded(8);
  const l = new BatchLoader(set, { batchSize: 2, reuseBuffers: true, shuffle: false, scale: 1 });
  const b0 = l.next(), b1 = l.next(), b2 = l.next();
  assertStrictEquals(b0.x.buffer, b2.x.buffer);
  assertNotStrictEquals(b0.x.buffer, b1.x.buffer);
  const s = sliceImageSet(set, 2, 5);
  assertStrictEquals(s.count, 3);
  assertStrictEquals(s.pixels[0], set.pixels[2 * 192]);
  const sel = selectImageSet(set, [7, 0]);
  assertEquals(sel.labels, Int32Array.of(1, 0));
});

// Its speed is measured by `deno task bench`, not asserted here: under load a time limit fails correct code.
Deno.test("BatchLoader: paper-size batch (128 x 3 x 224 x 224 crops of 256, mirrors, PCA noise)", () => {
  const n = 128, size = 3 * 256 * 256;
  const pixels = new Uint8Array(n * size);
  for (let i = 0; i < pixels.length; i += 4099) pixels[i] = i & 255;
  const set: ImageSet = {
    classes: ["x"],
    channels: 3,
    height: 256,
    width: 256,
    count: n,
    pixels,
    labels: new Int32Array(n),
  };
  const mean = computeMeanImage(set);
  const pca = {
    eigenvalues: [0.2, 0.02, 0.005],
    eigenvectors: [[0.58, 0.58, 0.58], [-0.7, 0, 0.7], [0.4, -0.8, 0.4]],
  };
  const l = new BatchLoader(set, {
    batchSize: 128,
    crop: 224,
    randomCrop: true,
    flip: true,
    pcaNoise: 0.1,
    pca,
    mean,
  });
  l.next();
  const b = l.next();
  assertStrictEquals(b.n, 128);
  assertStrictEquals(b.x.length, 128 * 3 * 224 * 224);
  assert(b.x.every(Number.isFinite));
});
