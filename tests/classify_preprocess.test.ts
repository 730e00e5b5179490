// Classification's crops follow torchvision's CenterCrop exactly: crop_top = int(round((height - crop) / 2.0))
// with Python's round (halves to even), so odd margins land where torchvision puts them. Training and
// evaluation keep their own rule (offsets rounded down, src/data/augment.ts), which committed results used.
// A per-channel std (torchvision's Normalize) divides each channel after the scale; without one, inputs are
// computed as they always were.
import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { centerCropSpec, tenCropSpecs } from "../src/data/augment.ts";
import type { RgbImage } from "../src/data/image_decode.ts";
import type { Preprocess } from "../src/io/checkpoint.ts";
import { inputPlan, storedPixels, torchvisionCenterOffset, writeInputs } from "../src/classify/preprocess.ts";

/** Python's int(round(x)) for x = m / 2: halves go to the even neighbour. */
function pythonRoundHalf(m: number): number {
  const f = Math.floor(m / 2);
  return m % 2 === 0 ? m / 2 : f % 2 === 0 ? f : f + 1;
}

/** An image whose red byte is the column and green byte the row, so a crop shows where it was taken. */
function coordinates(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgb.set([x, y, 7], (y * width + x) * 3);
  }
  return { width, height, rgb };
}

const pre = (resize: number, crop: number): Preprocess => ({
  resize,
  crop,
  scale: 1,
  mean: "none",
  channels: 3,
});

Deno.test("torchvisionCenterOffset: Python's round of half the margin, halves to even", () => {
  // round(0.5) = 0, round(1.5) = 2, round(2.5) = 2, round(3.5) = 4, round(5.5) = 6 in Python 3.
  const want = [0, 0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6];
  assertEquals(want.map((_, m) => torchvisionCenterOffset(100 + m, 100)), want);
  for (let m = 0; m < 200; m++) {
    assertStrictEquals(torchvisionCenterOffset(32 + m, 32), pythonRoundHalf(m), `m=${m}`);
  }
  assertMatch(assertThrows(() => torchvisionCenterOffset(31, 32), Error).message, /does not fit/);
});

Deno.test("storedPixels: the central square sits where torchvision's CenterCrop puts it", () => {
  // Already at the short side (no resampling): margins 3 (wide) and 7 (tall) are where floor and round differ.
  for (const [w, h, x0, y0] of [[35, 32, 2, 0], [32, 39, 0, 4], [37, 32, 2, 0], [32, 32, 0, 0]]) {
    const px = storedPixels(coordinates(w, h), pre(32, 32));
    const plane = 32 * 32;
    assertStrictEquals(px[0], x0, `${w}x${h}: first column`);
    assertStrictEquals(px[plane], y0, `${w}x${h}: first row`);
    assertStrictEquals(px[31], x0 + 31);
    assertStrictEquals(px[plane + 31 * 32], y0 + 31);
  }
});

Deno.test("inputPlan: the centre view of the stored square is torchvision's CenterCrop", () => {
  for (const [resize, crop] of [[36, 33], [40, 32], [35, 32], [32, 32], [256, 224], [39, 32]]) {
    const [v] = inputPlan(pre(resize, crop), null, false).views;
    const o = pythonRoundHalf(resize - crop);
    assertEquals(v, { x: o, y: o, width: crop, height: crop, flip: false }, `${resize} -> ${crop}`);
  }
});

Deno.test("inputPlan: ten views in torchvision's TenCrop order, its centre rule for both centre views", () => {
  // TenCrop = five_crop(img) + five_crop(hflip(img)); a crop of the mirrored image at x is the mirror of the
  // original's crop at (W - crop - x).
  const views = inputPlan(pre(36, 33), null, true).views;
  const c = pythonRoundHalf(3); // 2
  assertEquals(views.map(({ x, y, flip }) => [x, y, flip]), [
    [0, 0, false],
    [3, 0, false],
    [0, 3, false],
    [3, 3, false],
    [c, c, false],
    [3, 0, true],
    [0, 0, true],
    [3, 3, true],
    [0, 3, true],
    [3 - c, c, true],
  ]);
  assert(views.every((v) => v.width === 33 && v.height === 33));
});

Deno.test("training and evaluation keep their own centre rule (offsets rounded down)", () => {
  assertEquals(centerCropSpec(36, 36, 33), { x: 1, y: 1, width: 33, height: 33, flip: false });
  assertEquals(tenCropSpecs(36, 36, 33)[4], { x: 1, y: 1, width: 33, height: 33, flip: false });
});

Deno.test("writeInputs: a per-channel std divides each channel; a scalar scale alone is unchanged", () => {
  const side = 4, plane = side * side;
  const stored = Uint8Array.from({ length: 3 * plane }, (_, i) => (i * 37) % 256);
  const mean = Float32Array.of(0.485 * 255, 0.456 * 255, 0.406 * 255);
  const base: Preprocess = { resize: side, crop: side, scale: 1 / 255, mean: "channel", channels: 3 };
  const std = [0.229, 0.224, 0.225];
  const plain = new Float32Array(3 * plane), divided = new Float32Array(3 * plane);
  writeInputs(inputPlan(base, mean, false), [stored], plain);
  writeInputs(inputPlan({ ...base, std }, mean, false), [stored], divided);
  for (let c = 0; c < 3; c++) {
    for (let i = c * plane; i < (c + 1) * plane; i++) {
      // Without std: exactly writeCrop's (pixel - mean) * scale, rounded once to float32.
      assertStrictEquals(plain[i], Math.fround((stored[i] - mean[c]) * base.scale));
      // torchvision: (pixel / 255 - mean) / std, within float32 rounding.
      const want = (stored[i] / 255 - [0.485, 0.456, 0.406][c]) / std[c];
      assert(Math.abs(divided[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${divided[i]} vs ${want}`);
    }
  }
  assertThrows(() => inputPlan({ ...base, std: [1, 2] }, mean, false), Error, "preprocess.std [1,2]");
});
