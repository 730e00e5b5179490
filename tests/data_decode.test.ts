import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { Image } from "imagescript";
import {
  applyOrientation,
  centerCrop,
  decodeImage,
  decodeImageBytes,
  flipHorizontal,
  fromCHW,
  jpegOrientation,
  prepareImageFile,
  resize,
  resizeShortSide,
  type RgbImage,
  tenCrops,
  toCHW,
} from "../src/data/image_decode.ts";
import { leftOut, requireShared } from "./helpers/needs.ts";

const FIX = new URL("./fixtures/data/", import.meta.url).pathname;

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assertStrictEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.rgb[o], img.rgb[o + 1], img.rgb[o + 2]];
}

// Fixtures made by ImageMagick (tests/fixtures/data/make.sh); X.rgb is ImageMagick's own decode of X.
const cases: [string, number][] = [
  ["rgb8.png", 0],
  ["rgb16.png", 1],
  ["gray8.png", 0],
  ["gray16.png", 1],
  ["gray1.png", 0],
  ["palette.png", 0],
  ["palette_trns.png", 0],
  ["interlaced.png", 0],
  ["rgba8.png", 1],
  ["graya16.png", 1],
  // JPEG decoders differ in IDCT rounding: a few levels.
  ["rgb.jpg", 3],
  ["gray.jpg", 3],
  ["progressive.jpg", 3],
  ["cmyk.jpg", 4],
];

for (const [file, tol] of cases) {
  Deno.test(`decodeImage matches ImageMagick: ${file}`, async () => {
    const img = await decodeImage(FIX + file);
    assertStrictEquals(img.width, 37);
    assertStrictEquals(img.height, 23);
    const ref = await Deno.readFile(FIX + file.replace(/\.(png|jpg)$/, ".rgb"));
    assert(maxDiff(img.rgb, ref) <= tol, `${file}: max difference ${maxDiff(img.rgb, ref)} > ${tol}`);
  });
}

Deno.test("decodeImage: alpha is composited over white", async () => {
  // rgba8.png: alpha = x / width, so the left column is fully transparent -> white.
  const img = await decodeImage(FIX + "rgba8.png");
  assertEquals(pixel(img, 0, 12), [255, 255, 255]);
  const trns = await decodeImage(FIX + "palette_trns.png");
  assertEquals(pixel(trns, 33, 18), [255, 255, 255]);
});

Deno.test("decodeImage: clear errors naming the file", async () => {
  await assertRejects(() => decodeImage(FIX + "nope.jpg"), Error, "nope.jpg: no such file");
  await assertRejects(
    () => decodeImage(FIX + "make.sh"),
    Error,
    "make.sh: not a JPEG or PNG image (looks like a text file)",
  );
  await assertRejects(
    () => decodeImage(FIX + "truncated.jpg.bin"),
    Error,
    "truncated.jpg.bin: cannot decode: truncated JPEG",
  );
  await assertRejects(
    () => decodeImage(FIX + "truncated.png.bin"),
    Error,
    "truncated.png.bin: truncated PNG",
  );
  await assertRejects(() => decodeImageBytes(new Uint8Array(0), "empty.png"), Error, "empty.png: empty file");
  await assertRejects(() => decodeImage(FIX), Error, "is a directory");
  const png = await Deno.readFile(FIX + "rgb8.png");
  // Cut just before IEND: all pixel data present, but the file is still incomplete.
  await assertRejects(
    () => decodeImageBytes(png.subarray(0, png.length - 12), "cut.png"),
    Error,
    "cut.png: truncated PNG",
  );
  // Damage the compressed data.
  const bad = png.slice();
  bad.fill(0xaa, 60, 90);
  await assertRejects(() => decodeImageBytes(bad, "bad.png"), Error, "bad.png: ");
  const r = await prepareImageFile(FIX + "truncated.jpg.bin", 16);
  assertStrictEquals(r.pixels, undefined);
  assertMatch(r.error!, /truncated\.jpg\.bin/);
  assertMatch(r.sha256!, /^[0-9a-f]{64}$/);
});

Deno.test("decodeImage: tiny images (1x1, 3x2) in both formats", async () => {
  for (const [w, h] of [[1, 1], [3, 2]]) {
    const im = new Image(w, h);
    im.fill(Image.rgbaToColor(200, 30, 60, 255));
    const png = await decodeImageBytes(await im.encode(), "tiny.png");
    assertStrictEquals(png.width, w);
    assertEquals(pixel(png, w - 1, h - 1), [200, 30, 60]);
    const jpg = await decodeImageBytes(await im.encodeJPEG(95), "tiny.jpg");
    assertStrictEquals(jpg.height, h);
    assert(maxDiff(Uint8Array.from(pixel(jpg, 0, 0)), Uint8Array.of(200, 30, 60)) <= 4);
    // Upscaling a tiny image to the network size works (bilinear).
    const big = centerCrop(resizeShortSide(png, 64), 64);
    assertStrictEquals(big.width, 64);
    assertEquals(pixel(big, 10, 50), [200, 30, 60]);
  }
});

/** A minimal JPEG APP1 Exif segment holding only an orientation tag, inserted after SOI. */
function withOrientation(jpeg: Uint8Array, o: number): Uint8Array {
  const tiff = [
    0x4d,
    0x4d,
    0,
    42,
    0,
    0,
    0,
    8,
    0,
    1,
    0x01,
    0x12,
    0,
    3,
    0,
    0,
    0,
    1,
    0,
    o,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ];
  const body = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const seg = [0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255, ...body];
  const out = new Uint8Array(jpeg.length + seg.length);
  out.set(jpeg.subarray(0, 2));
  out.set(seg, 2);
  out.set(jpeg.subarray(2), 2 + seg.length);
  return out;
}

Deno.test("decodeImage: EXIF orientation gives the upright view", async () => {
  const jpg = await Deno.readFile(FIX + "rgb.jpg");
  const plain = await decodeImageBytes(jpg, "rgb.jpg");
  assertStrictEquals(jpegOrientation(jpg), 1);
  for (let o = 2; o <= 8; o++) {
    const b = withOrientation(jpg, o);
    assertStrictEquals(jpegOrientation(b), o);
    const img = await decodeImageBytes(b, `o${o}.jpg`);
    assertEquals([img.width, img.height], o >= 5 ? [23, 37] : [37, 23]);
    assertEquals(img, applyOrientation(plain, o));
    assertEquals(await decodeImageBytes(b, "x", { orientation: false }), plain);
  }
  // 6 = rotate 90 degrees clockwise: the green block (top left) moves to the top right.
  const r6 = await decodeImageBytes(withOrientation(jpg, 6), "o6.jpg");
  const [r, g, b] = pixel(r6, 20, 2);
  assert(g > 200 && r < 60 && b < 60, `expected green, got ${[r, g, b]}`);
});

Deno.test("resize: area filter averages exactly; bilinear upscale keeps flat regions", () => {
  // 4x2 -> 2x1: each output pixel is the mean of a 2x2 block.
  const src: RgbImage = { width: 4, height: 2, rgb: new Uint8Array(24) };
  const vals = [0, 10, 100, 200, 20, 30, 50, 50];
  vals.forEach((v, i) => src.rgb.fill(v, i * 3, i * 3 + 3));
  const out = resize(src, 2, 1);
  assertEquals(Array.from(out.rgb), [15, 15, 15, 100, 100, 100]);
  // 3 -> 2 (fractional coverage): output 0 = (a + b/2) / 1.5.
  const s3: RgbImage = { width: 3, height: 1, rgb: Uint8Array.of(0, 0, 0, 90, 90, 90, 180, 180, 180) };
  assertEquals(Array.from(resize(s3, 2, 1).rgb), [30, 30, 30, 150, 150, 150]);
  const up = resize({ width: 2, height: 1, rgb: Uint8Array.of(0, 0, 0, 100, 100, 100) }, 4, 1);
  assertEquals(Array.from(up.rgb).filter((_, i) => i % 3 === 0), [0, 25, 75, 100]);
});

Deno.test("resizeShortSide, centerCrop, tenCrops, CHW round trip", async () => {
  const img = await decodeImage(FIX + "rgb8.png");
  const r = resizeShortSide(img, 16);
  assertEquals([r.width, r.height], [26, 16]);
  const tall = resizeShortSide({ width: 10, height: 40, rgb: new Uint8Array(1200) }, 5);
  assertEquals([tall.width, tall.height], [5, 20]);
  const c = centerCrop(img, 20);
  assertEquals(pixel(c, 0, 0), pixel(img, 8, 1));
  const ten = tenCrops(img, 20);
  assertStrictEquals(ten.length, 10);
  assertEquals(pixel(ten[0], 0, 0), pixel(img, 0, 0));
  assertEquals(pixel(ten[1], 19, 0), pixel(img, 36, 0));
  assertEquals(pixel(ten[3], 19, 19), pixel(img, 36, 22));
  assertEquals(ten[4], c);
  assertEquals(ten[5], flipHorizontal(ten[0]));
  assertEquals(fromCHW(toCHW(img), img.width, img.height), img);
  assertThrows(() => centerCrop(img, 30), Error, "does not fit");
});

/** A PNG with a smooth gradient, written with our own minimal encoder (fast for big images). */
async function bigPng(w: number, h: number): Promise<Uint8Array> {
  const raw = new Uint8Array(h * (w * 3 + 1));
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1);
    for (let x = 0; x < w; x++) {
      raw[row + 1 + x * 3] = (x * 255) / w;
      raw[row + 2 + x * 3] = (y * 255) / h;
      raw[row + 3 + x * 3] = 128;
    }
  }
  const z = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"))).arrayBuffer(),
  );
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    return out; // CRC left 0: our decoder (like most) does not need it
  };
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10),
    chunk("IHDR", ihdr),
    chunk("IDAT", z),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// How fast this is belongs in `deno task bench`; here only what comes out.
Deno.test("huge image: 4000x3000 decode + resize to 256", async () => {
  const bytes = await bigPng(4000, 3000);
  const img = await decodeImageBytes(bytes, "huge.png");
  const small = centerCrop(resizeShortSide(img, 256), 256);
  assertEquals([img.width, img.height, small.width], [4000, 3000, 256]);
  // Centre pixel of the gradient survives the area filter.
  const [r, g, b] = pixel(small, 128, 128);
  assert(Math.abs(r - 127) <= 2 && Math.abs(g - 127) <= 2 && b === 128, `${[r, g, b]}`);
});

Deno.test("huge image: 4000x3000 JPEG", async () => {
  const im = new Image(4000, 3000);
  im.fill(Image.rgbaToColor(40, 160, 220, 255));
  const bytes = await im.encodeJPEG(80);
  const small = centerCrop(resizeShortSide(await decodeImageBytes(bytes, "huge.jpg"), 256), 256);
  assertEquals([small.width, small.height], [256, 256]);
  assert(maxDiff(Uint8Array.from(pixel(small, 3, 250)), Uint8Array.of(40, 160, 220)) <= 3);
});

Deno.test({ name: "photos from ../shared/data decode", ignore: leftOut("shared-data") }, async () => {
  const dir = requireShared("photos") + "/";
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  assert(names.length > 0, `${dir} holds no photos`);
  for (const n of names.filter((_, i) => i % 8 === 0)) {
    const img = await decodeImage(dir + n);
    assert(img.width >= 300 || img.height >= 300, n);
    const s = centerCrop(resizeShortSide(img, 64), 64);
    assertStrictEquals(s.rgb.length, 64 * 64 * 3);
  }
});
