// deno task classify: output formats, --top, --ten-crop, every kind of bad input, odd images, bad models and
// exit statuses. Most runs call main() in-process on one shared GPU; two run the real command for its exit code.

import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { Image } from "imagescript";
import { main } from "../src/cli/classify.ts";
import { CHECKPOINT_FORMAT, encodeCheckpoint } from "../src/io/checkpoint.ts";
import { encodeSafetensors } from "../src/io/safetensors.ts";
import { randomCheckpoint } from "../src/classify/random_checkpoint.ts";
import { buildModel } from "../src/models/index.ts";
import { initialValues } from "../src/nn/init.ts";
import { resolveModel } from "../src/nn/spec.ts";
import { cpuForward } from "../src/reference/cpu_network.ts";
import { crop, decodeImage, flipHorizontal, resizeShortSide } from "../src/data/image_decode.ts";
import { PROJECT_ROOT } from "../src/data/util.ts";
import { SHARED_DATA_DIR } from "../src/data/open.ts";
import { storedPixels } from "../src/classify/preprocess.ts";
import { testGpu } from "./helpers/gpu.ts";
import { runDeno } from "./helpers/run.ts";
import { leftOut } from "./helpers/needs.ts";

/** Every test here classifies the lab's photos: left out with the data (ALEXNET_TEST_WITHOUT=data). */
const test = leftOut("data") ? Deno.test.ignore : Deno.test;
const PHOTOS = `${SHARED_DATA_DIR}/photos`;
const FIX = `${PROJECT_ROOT}/tests/fixtures/data`;
const dir = await Deno.makeTempDir({ prefix: "classify-cli-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

// A random checkpoint with a spread-out last layer, so top-K orders are far from ties.
const MODEL = `${dir}/model.safetensors`;
const ckpt = randomCheckpoint({ sharpen: 30 });
await Deno.writeFile(MODEL, encodeCheckpoint(ckpt));

async function classify(args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), gpu: testGpu });
  return { code, out, err: err.join("\n") };
}

interface JsonResult {
  file: string;
  width?: number;
  height?: number;
  views?: number;
  top?: { rank: number; class: string; index: number; probability: number }[];
  logits?: number[];
  error?: string;
}
const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as JsonResult);

function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test("--json: one line per photo in input order, top-K sorted, matching the CPU reference", async () => {
  const r = await classify(["--model", MODEL, "--json", "--top", "3", "--batch", "7", PHOTOS]);
  assertStrictEquals(r.code, 0, r.err);
  const results = parse(r.out);
  const photos = [...Deno.readDirSync(PHOTOS)].map((e) => e.name).filter((n) => /\.(jpg|png)$/.test(n))
    .sort();
  assertStrictEquals(photos.length, 39);
  assertEquals(results.map((x) => x.file), photos.map((n) => `${PHOTOS}/${n}`));
  for (const x of results) {
    assertStrictEquals(x.views, 1);
    assertStrictEquals(x.top!.length, 3);
    assertEquals(x.top!.map((p) => p.rank), [1, 2, 3]);
    for (let i = 1; i < 3; i++) assert(x.top![i - 1].probability >= x.top![i].probability);
    for (const p of x.top!) assertStrictEquals(p.class, ckpt.meta.classes[p.index]);
  }
  // Independent path: decode, resize, crop, (pixel - channel mean) * scale by hand, float64 CPU network.
  const dog = results.find((x) => x.file.endsWith("darknet_dog.jpg"))!;
  assertEquals([dog.width, dog.height], [768, 576]);
  // 768x576 resizes to 43x32: torchvision's CenterCrop(32) starts at int(round(11 / 2.0)) = 6 (Python rounds
  // 5.5 to even), not at 5.
  const resized = resizeShortSide(await decodeImage(`${PHOTOS}/darknet_dog.jpg`), 32);
  assertEquals([resized.width, resized.height], [43, 32]);
  const img = crop(resized, 6, 0, 32, 32);
  const x = new Float32Array(3 * 32 * 32);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 32 * 32; p++) x[c * 1024 + p] = (img.rgb[p * 3 + c] - ckpt.mean![c]) / 255;
  }
  const probs = softmax(cpuForward(ckpt.meta.model, ckpt.weights, x, 1));
  const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a]).slice(0, 3);
  assertEquals(dog.top!.map((p) => p.index), order);
  dog.top!.forEach((p, i) => assert(Math.abs(p.probability - probs[order[i]]) < 1e-4));
});

test("--logits: the network's raw outputs for every class, as text or with --json", async () => {
  const cat = `${PHOTOS}/gnome_cat.jpg`;
  const j = await classify(["--model", MODEL, "--json", "--logits", "--top", "10", cat]);
  assertStrictEquals(j.code, 0, j.err);
  const [r] = parse(j.out);
  assertStrictEquals(r.logits!.length, 10);
  // They are the logits of the same input the CPU reference computes, and their softmax is the probabilities.
  const px = storedPixels(await decodeImage(cat), ckpt.meta.preprocess);
  const x = Float32Array.from(px, (v, i) => (v - ckpt.mean![Math.floor(i / 1024)]) / 255);
  const ref = cpuForward(ckpt.meta.model, ckpt.weights, x, 1);
  r.logits!.forEach((v, k) =>
    assert(Math.abs(v - ref[k]) < 1e-3 * Math.max(1, Math.abs(ref[k])), `class ${k}`)
  );
  const probs = softmax(r.logits!);
  for (const p of r.top!) assert(Math.abs(p.probability - probs[p.index]) < 1e-5);

  const t = await classify(["--model", MODEL, "--logits", cat]);
  assertStrictEquals(t.code, 0, t.err);
  const lines = t.out.join("\n").split("\n");
  assertStrictEquals(lines[0], `${cat} (512x512, logits)`);
  assertStrictEquals(lines.length, 11);
  lines.slice(1).forEach((line, k) => {
    const m = /^ +(\d+)\. (\S+) +(-?\d+\.\d+)$/.exec(line);
    assert(m, line);
    assertStrictEquals(Number(m[1]), k);
    assertStrictEquals(m[2], ckpt.meta.classes[k]);
    assert(Math.abs(Number(m[3]) - r.logits![k]) < 1e-5, line);
  });
  // Ten views have ten sets of logits: not what --logits prints.
  const ten = await classify(["--model", MODEL, "--logits", "--ten-crop", cat]);
  assertStrictEquals(ten.code, 2);
  assertMatch(ten.err, /--logits .*--ten-crop/);
});

test("text output: --top K lines per image with class names and percentages", async () => {
  const r = await classify([
    "--model",
    MODEL,
    "--top",
    "2",
    `${PHOTOS}/gnome_cat.jpg`,
    `${PHOTOS}/skimage_coffee.png`,
  ]);
  assertStrictEquals(r.code, 0, r.err);
  const text = r.out.join("\n").split("\n");
  assertStrictEquals(text.length, 6);
  assertStrictEquals(text[0], `${PHOTOS}/gnome_cat.jpg (512x512)`);
  assertMatch(text[1], /^ {3}1\. [a-z]+ +\d+\.\d\d%$/);
  assertMatch(text[2], /^ {3}2\. [a-z]+ +\d+\.\d\d%$/);
  assertStrictEquals(text[3], `${PHOTOS}/skimage_coffee.png (600x400)`);
  assertMatch(r.err, /model cifar-alexnet, 10 classes/);
  // --top beyond the class count lists every class once.
  const all = parse(
    (await classify(["--model", MODEL, "--json", "--top", "50", `${PHOTOS}/gnome_cat.jpg`])).out,
  );
  assertStrictEquals(all[0].top!.length, 10);
  assert(Math.abs(all[0].top!.reduce((s, p) => s + p.probability, 0) - 1) < 1e-4);
});

test("--ten-crop averages ten views: invariant to mirroring the photo, unlike the centre crop", async () => {
  // resize 40 > crop 32, so the corner crops differ from the centre.
  const wide = randomCheckpoint({ sharpen: 30, preprocess: { resize: 40 }, seed: 3 });
  const model = `${dir}/ten.safetensors`;
  await Deno.writeFile(model, encodeCheckpoint(wide));
  const src = await decodeImage(`${PHOTOS}/darknet_eagle.jpg`);
  const flipped = flipHorizontal(src);
  const image = new Image(flipped.width, flipped.height);
  for (let i = 0; i < flipped.width * flipped.height; i++) {
    image.bitmap.set([...flipped.rgb.subarray(3 * i, 3 * i + 3), 255], 4 * i);
  }
  const mirror = `${dir}/eagle_mirrored.png`;
  await Deno.writeFile(mirror, await image.encode());
  const inputs = [`${PHOTOS}/darknet_eagle.jpg`, mirror];
  const ten = parse(
    (await classify(["--model", model, "--json", "--top", "10", "--ten-crop", ...inputs])).out,
  );
  const one = parse((await classify(["--model", model, "--json", "--top", "10", ...inputs])).out);
  assertEquals(ten.map((x) => x.views), [10, 10]);
  const byClass = (x: JsonResult) =>
    x.top!.slice().sort((a, b) => a.index - b.index).map((p) => p.probability);
  const diff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  assert(diff(byClass(ten[0]), byClass(ten[1])) < 2e-3, "ten-crop of the mirror image differs");
  assert(diff(byClass(one[0]), byClass(one[1])) > 5 * diff(byClass(ten[0]), byClass(ten[1])));
  assert(diff(byClass(ten[0]), byClass(one[0])) > 1e-3, "ten-crop gave the centre crop's answer");
});

test("bad inputs are reported on stderr by name; the other images are still classified", async () => {
  const bad = `${dir}/bad`;
  await Deno.mkdir(`${bad}/empty`, { recursive: true });
  await Deno.mkdir(`${bad}/mixed`, { recursive: true });
  await Deno.writeTextFile(`${bad}/notes.txt`, "not an image at all\n");
  await Deno.writeFile(`${bad}/empty.jpg`, new Uint8Array(0));
  await Deno.copyFile(`${FIX}/truncated.jpg.bin`, `${bad}/truncated.jpg`);
  await Deno.copyFile(`${FIX}/truncated.png.bin`, `${bad}/truncated.png`);
  await Deno.writeTextFile(`${bad}/mixed/readme.md`, "skipped: not an image extension");
  await Deno.writeTextFile(`${bad}/mixed/fake.jpg`, "<html>a web page saved as .jpg</html>");
  await Deno.copyFile(`${PHOTOS}/opencv_orange.jpg`, `${bad}/mixed/orange.jpg`);
  const r = await classify([
    "--model",
    MODEL,
    "--json",
    `${bad}/missing.jpg`,
    `${bad}/notes.txt`,
    `${bad}/empty`,
    `${bad}/empty.jpg`,
    `${bad}/truncated.jpg`,
    `${PHOTOS}/gnome_cat.jpg`,
    `${bad}/truncated.png`,
    `${bad}/mixed`,
  ]);
  assertStrictEquals(r.code, 0, r.err);
  const expected: [string, RegExp][] = [
    [`${bad}/missing.jpg`, /no such file or folder/],
    [`${bad}/notes.txt`, /not a JPEG or PNG image \(looks like a text file\)/],
    [`${bad}/empty`, /folder holds no \.jpg, \.jpeg or \.png files/],
    [`${bad}/empty.jpg`, /empty file/],
    [`${bad}/truncated.jpg`, /truncated JPEG/],
    [`${bad}/truncated.png`, /truncat/i],
    [`${bad}/mixed/fake.jpg`, /not a JPEG or PNG image/],
  ];
  for (const [file, why] of expected) {
    const line = r.err.split("\n").find((l) => l.includes(file));
    assert(line, `no message names ${file}:\n${r.err}`);
    assertMatch(line!, why);
  }
  const results = parse(r.out);
  assertEquals(results.map((x) => x.file), [
    `${bad}/missing.jpg`,
    `${bad}/notes.txt`,
    `${bad}/empty`,
    `${bad}/empty.jpg`,
    `${bad}/truncated.jpg`,
    `${PHOTOS}/gnome_cat.jpg`,
    `${bad}/truncated.png`,
    `${bad}/mixed/fake.jpg`,
    `${bad}/mixed/orange.jpg`,
  ]);
  assertEquals(results.map((x) => x.top ? "ok" : "error"), [
    "error",
    "error",
    "error",
    "error",
    "error",
    "ok",
    "error",
    "error",
    "ok",
  ]);
  assertMatch(r.err, /classified 2 of 9 inputs/);
});

test("any JPEG/PNG: grey, alpha, 16-bit, CMYK, progressive, palette, tiny and huge; grey models get luma", async () => {
  const odd = [
    "gray.jpg",
    "gray16.png",
    "graya16.png",
    "rgba8.png",
    "rgb16.png",
    "cmyk.jpg",
    "progressive.jpg",
  ]
    .concat(["palette_trns.png", "gray1.png", "interlaced.png"]).map((n) => `${FIX}/${n}`);
  // 4000x3000: decoded and area-downscaled without trouble.
  const huge = new Image(4000, 3000);
  const px = new Uint32Array(huge.bitmap.buffer);
  for (let i = 0; i < px.length; i++) px[i] = 0xff000000 | ((i % 4000) * 0x010203 & 0xffffff);
  await Deno.writeFile(`${dir}/huge.jpg`, await huge.encodeJPEG(70));
  const r = await classify(["--model", MODEL, "--json", ...odd, `${dir}/huge.jpg`]);
  assertStrictEquals(r.code, 0, r.err);
  const results = parse(r.out);
  assertStrictEquals(results.length, odd.length + 1);
  for (const x of results) assert(x.top, `${x.file}: ${x.error}`);
  assertEquals([results[0].width, results[0].height], [37, 23]);
  assertEquals([results.at(-1)!.width, results.at(-1)!.height], [4000, 3000]);

  // A grey model (1 input channel): an RGB photo is converted to luma, so it classifies like its grey copy.
  const grey = randomCheckpoint({
    model: buildModel("cifar-alexnet", { channels: 1 }),
    sharpen: 30,
    preprocess: { mean: "image" },
  });
  const greyModel = `${dir}/grey.safetensors`;
  await Deno.writeFile(greyModel, encodeCheckpoint(grey));
  const photo = await decodeImage(`${PHOTOS}/skimage_chelsea.png`);
  const greyImage = new Image(photo.width, photo.height);
  for (let i = 0; i < photo.width * photo.height; i++) {
    const [r8, g8, b8] = photo.rgb.subarray(3 * i, 3 * i + 3);
    const l = (r8 * 19595 + g8 * 38470 + b8 * 7471 + 0x8000) >>> 16;
    greyImage.bitmap.set([l, l, l, 255], 4 * i);
  }
  await Deno.writeFile(`${dir}/chelsea_grey.png`, await greyImage.encode());
  const g = await classify([
    "--model",
    greyModel,
    "--json",
    `${PHOTOS}/skimage_chelsea.png`,
    `${dir}/chelsea_grey.png`,
  ]);
  assertStrictEquals(g.code, 0, g.err);
  const [colour, grey2] = parse(g.out);
  assertEquals(colour.top!.map((p) => p.index), grey2.top!.map((p) => p.index));
  colour.top!.forEach((p, i) => assert(Math.abs(p.probability - grey2.top![i].probability) < 2e-3));
});

test("unusable models: missing, not safetensors, plain weights, weights of another model, truncated", async () => {
  const plain = `${dir}/plain.safetensors`;
  await Deno.writeFile(
    plain,
    encodeSafetensors(new Map([["w", { shape: [2], data: Float32Array.of(1, 2) }]])),
  );
  const mismatched = `${dir}/mismatched.safetensors`;
  await Deno.writeFile(mismatched, mismatchedCheckpoint());
  const full = encodeCheckpoint(ckpt);
  await Deno.writeFile(`${dir}/cut.safetensors`, full.subarray(0, full.length >> 1));
  const cases: [string, RegExp][] = [
    [`${dir}/nope.safetensors`, /no such checkpoint file/],
    [`${PHOTOS}/gnome_cat.jpg`, /not a checkpoint/],
    [plain, /not an alexnet-webgpu checkpoint/],
    [mismatched, /is not a parameter of model|needs "|expects/],
    [`${dir}/cut.safetensors`, /truncated/],
  ];
  for (const [model, why] of cases) {
    const r = await classify(["--model", model, `${PHOTOS}/gnome_cat.jpg`]);
    assertStrictEquals(r.code, 1, model);
    assertStrictEquals(r.out.length, 0);
    assert(r.err.includes(model), r.err);
    assertMatch(r.err, why);
  }
});

/** A checkpoint whose metadata names cifar-alexnet but whose tensors are Figure 1's four-layer net. */
function mismatchedCheckpoint(): Uint8Array {
  const fig1 = buildModel("fig1-four-layer");
  const values = initialValues(fig1, 1);
  const tensors = new Map(
    resolveModel(fig1).flatMap((l) => l.params).map((
      p,
    ) => [p.name, { shape: p.shape, data: values.get(p.name)! }]),
  );
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, meta: JSON.stringify(ckpt.meta) });
}

test("usage errors exit 2; --help documents the exit statuses", async () => {
  for (const args of [["--top", "0", "x.jpg"], ["--frobnicate", "x.jpg"], [], ["--batch"], ["--model"]]) {
    const r = await classify(args);
    assertStrictEquals(r.code, 2, args.join(" "));
    assertMatch(r.err, /see --help/);
  }
  const help = await classify(["--help"]);
  assertStrictEquals(help.code, 0);
  assertMatch(help.out.join("\n"), /Exit status: 0 when at least one image was classified; 1 when none/);
});

test("the real command: exit 0 when some images were classified, 1 when none could be", async () => {
  const classify = async (...args: string[]) => {
    const r = await runDeno(["run", "-A", `${PROJECT_ROOT}/src/cli/classify.ts`, "--model", MODEL, ...args], {
      cwd: PROJECT_ROOT,
    });
    return { code: r.code, out: r.stdout, err: r.stderr };
  };
  await Deno.mkdir(`${dir}/nothing`, { recursive: true });
  const some = await classify(`${dir}/missing.png`, `${PHOTOS}/opencv_apple.jpg`);
  assertStrictEquals(some.code, 0, some.err);
  assertMatch(some.out, /opencv_apple\.jpg \(512x512\)\n {3}1\. /);
  assertMatch(some.err, /missing\.png: no such file or folder/);
  const none = await classify(`${dir}/nothing`, `${FIX}/truncated.jpg.bin`);
  assertStrictEquals(none.code, 1);
  assertStrictEquals(none.out, "");
  assertMatch(none.err, /nothing: folder holds no/);
  assertMatch(none.err, /truncated\.jpg\.bin: cannot decode: truncated JPEG/);
});
