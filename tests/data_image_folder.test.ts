import {
  assert,
  assertEquals,
  assertMatch,
  assertNotStrictEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { Image } from "imagescript";
import { extractTarGz, loadImageFolder } from "../src/data/image_folder.ts";
import { openDataset } from "../src/data/open.ts";
import { classCounts, validateImageSet } from "../src/data/types.ts";
import { leftOut, requireShared } from "./helpers/needs.ts";
import { run } from "./helpers/run.ts";

const quiet = { log: () => {}, warn: () => {} };

async function solid(path: string, w: number, h: number, rgb: [number, number, number]): Promise<void> {
  const im = new Image(w, h);
  im.fill(Image.rgbaToColor(...rgb, 255));
  await Deno.writeFile(path, path.endsWith(".png") ? await im.encode() : await im.encodeJPEG(95));
}

/** train/cat: 4 good + 1 truncated JPEG; train/dog: 3; val: 1 + 1; plus a non-image file that is ignored. */
async function makeFolder(root: string): Promise<void> {
  for (const d of ["train/cat", "train/dog", "val/cat", "val/dog"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await solid(`${root}/train/cat/a.png`, 40, 30, [255, 0, 0]);
  await solid(`${root}/train/cat/b.jpg`, 30, 50, [10, 200, 10]);
  await solid(`${root}/train/cat/c.PNG`, 20, 20, [0, 0, 255]);
  await solid(`${root}/train/cat/d.jpeg`, 100, 60, [120, 120, 120]);
  await solid(`${root}/train/dog/e.png`, 16, 16, [1, 2, 3]);
  await solid(`${root}/train/dog/f.png`, 33, 17, [200, 100, 50]);
  await solid(`${root}/train/dog/g.jpg`, 64, 64, [250, 250, 250]);
  await solid(`${root}/val/cat/h.png`, 24, 24, [255, 0, 0]);
  await solid(`${root}/val/dog/i.png`, 24, 24, [0, 255, 0]);
  const jpg = await Deno.readFile(`${root}/train/cat/d.jpeg`);
  await Deno.writeFile(`${root}/train/cat/broken.jpg`, jpg.subarray(0, jpg.length >> 1));
  await Deno.writeTextFile(`${root}/train/cat/notes.txt`, "not an image");
}

Deno.test("loadImageFolder: decode, skip/fail bad images, cache hit and invalidation", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/pets`;
  const cacheDir = `${dir}/cache`;
  try {
    await makeFolder(root);
    assertMatch(
      (await assertRejects(() => loadImageFolder(root, { size: 8, cacheDir, ...quiet }), Error)).message,
      /bad image .*train\/cat\/broken\.jpg: cannot decode: truncated JPEG.*onBadImage: "skip"/,
    );
    const warnings: string[] = [];
    const opts = {
      size: 8,
      cacheDir,
      onBadImage: "skip" as const,
      log: () => {},
      warn: (m: string) => warnings.push(m),
    };
    const ds = await loadImageFolder(root, opts);
    assertStrictEquals(warnings.length, 1);
    assertMatch(warnings[0], /skipping bad image .*train\/cat\/broken\.jpg/);
    assertStrictEquals(ds.fromCache, false);
    assertEquals(ds.skipped.map((s) => s.file), ["train/cat/broken.jpg"]);
    assertEquals(ds.train.classes, ["cat", "dog"]);
    assertStrictEquals(ds.train.count, 7);
    assertStrictEquals(ds.test.count, 2);
    validateImageSet(ds.train);
    validateImageSet(ds.test);
    assertEquals(classCounts(ds.train), [4, 3]);
    assertEquals(ds.trainFiles, [
      "train/cat/a.png",
      "train/cat/b.jpg",
      "train/cat/c.PNG",
      "train/cat/d.jpeg",
      "train/dog/e.png",
      "train/dog/f.png",
      "train/dog/g.jpg",
    ]);
    // a.png is solid red: every pixel of its 8x8 CHW block is (255, 0, 0).
    const a = ds.train.pixels.subarray(0, 192);
    assert(a.subarray(0, 64).every((v) => v === 255) && a.subarray(64).every((v) => v === 0));
    assertEquals(ds.test.labels, Int32Array.of(0, 1));
    // The checksum covers every listed file, the bad one too.
    assertStrictEquals(Object.keys(ds.files!).length, 10);

    // Second load: from the shards, identical, nothing decoded.
    const again = await loadImageFolder(root, opts);
    assertStrictEquals(again.fromCache, true);
    assertEquals(again.train.pixels, ds.train.pixels);
    assertEquals(again.test.labels, ds.test.labels);
    assertStrictEquals(again.checksum, ds.checksum);
    assertMatch(warnings.at(-1)!, /1 bad image\(s\) skipped/);
    // fail mode still refuses a cache that skipped files.
    await assertRejects(() => loadImageFolder(root, { size: 8, cacheDir, ...quiet }), Error, "broken.jpg");

    // Changing a file (mtime) or S gives a new cache entry.
    await Deno.utime(`${root}/val/dog/i.png`, new Date(), new Date(Date.now() + 5000));
    const touched = await loadImageFolder(root, { ...opts, warn: () => {} });
    assertStrictEquals(touched.fromCache, false);
    assertNotStrictEquals(touched.cachePath, ds.cachePath);
    const s16 = await loadImageFolder(root, { ...opts, size: 16, warn: () => {} });
    assertStrictEquals(s16.train.height, 16);
    assertStrictEquals(s16.fromCache, false);

    // Workers and the calling thread decode identically.
    const inline = await loadImageFolder(root, {
      ...opts,
      cacheDir: `${dir}/c2`,
      workers: 0,
      warn: () => {},
    });
    assertEquals(inline.train.pixels, touched.train.pixels);
    assertStrictEquals(inline.checksum, touched.checksum);

    const few = await loadImageFolder(root, { ...opts, maxPerClass: 1, cacheDir: `${dir}/c3` });
    assertEquals(few.trainFiles, ["train/cat/a.png", "train/dog/e.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadImageFolder: layout errors and class names from classes.tsv", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadImageFolder(dir, quiet), Error, "train is missing");
    await Deno.mkdir(`${dir}/train/n01`, { recursive: true });
    await assertRejects(() => loadImageFolder(dir, quiet), Error, "neither val/ nor test/");
    await Deno.mkdir(`${dir}/test/n02`, { recursive: true });
    await solid(`${dir}/train/n01/x.png`, 10, 10, [9, 9, 9]);
    await assertRejects(
      () => loadImageFolder(dir, quiet),
      Error,
      "test/n02 is not a class of the training split",
    );
    await Deno.remove(`${dir}/test/n02`);
    await Deno.mkdir(`${dir}/test/n01`);
    await Deno.writeTextFile(`${dir}/classes.tsv`, "idx\twnid\tname\n0\tn01\ttench\n");
    const ds = await loadImageFolder(dir, { size: 4, cacheDir: `${dir}/.c`, ...quiet });
    assertEquals(ds.train.classes, ["tench"]);
    assertEquals(ds.train.classIds, ["n01"]);
    assertStrictEquals(ds.test.count, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extractTarGz and openDataset on an image-folder archive", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeFolder(`${dir}/src/pets`);
    await Deno.remove(`${dir}/src/pets/train/cat/broken.jpg`);
    const tgz = `${dir}/pets.tar.gz`;
    const out = await run("tar", ["-czf", tgz, "-C", `${dir}/src`, "pets"]);
    assertStrictEquals(out.code, 0, out.text);
    assertStrictEquals(await extractTarGz(tgz, `${dir}/x`, { filter: (n) => !n.includes("/dog/") }), true);
    assert(Deno.statSync(`${dir}/x/pets/train/cat/a.png`).isFile);
    assertThrows(() => Deno.statSync(`${dir}/x/pets/train/dog/e.png`));
    assertStrictEquals(await extractTarGz(tgz, `${dir}/x`), false); // already there: left alone
    const ds = await openDataset({
      kind: "image-folder",
      path: tgz,
      cacheDir: `${dir}/cache`,
      size: 8,
      ...quiet,
    });
    assertStrictEquals(ds.name, "pets");
    assertStrictEquals(ds.train.count, 7);
    assert(Deno.statSync(`${dir}/cache/data/pets/pets/val/dog/i.png`).isFile);
    const whole = await Deno.readFile(tgz);
    await Deno.writeFile(`${dir}/cut.tar.gz`, whole.subarray(0, whole.length >> 1));
    await assertRejects(() => extractTarGz(`${dir}/cut.tar.gz`, `${dir}/y`), Error, "cut.tar.gz: ");
    assertThrows(() => Deno.statSync(`${dir}/y`)); // nothing half-extracted left behind
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "Imagenette: two images per class and split from the shared archive",
  ignore: leftOut("shared-data"),
  fn: async () => {
    const IMAGENETTE = requireShared("imagenette/imagenette2-224.tar.gz");
    const dir = await Deno.makeTempDir();
    try {
      const taken = new Map<string, number>();
      await extractTarGz(IMAGENETTE, `${dir}/x`, {
        filter: (name) => {
          const m = name.match(/^imagenette\/(train|val)\/(n\d+)\/.+\.JPEG$/);
          if (!m) return name === "imagenette/classes.tsv" || name.endsWith("/");
          const k = `${m[1]}/${m[2]}`;
          const n = taken.get(k) ?? 0;
          taken.set(k, n + 1);
          return n < 2;
        },
      });
      const ds = await loadImageFolder(`${dir}/x/imagenette`, {
        size: 64,
        cacheDir: `${dir}/cache`,
        ...quiet,
      });
      assertStrictEquals(ds.train.count, 20);
      assertStrictEquals(ds.test.count, 20);
      assertStrictEquals(ds.train.classes[0], "tench");
      assertStrictEquals(ds.train.classIds![0], "n01440764");
      assertEquals(classCounts(ds.test), new Array(10).fill(2));
      // Real photos are not flat: some spread of values in every image.
      for (let i = 0; i < ds.train.count; i++) {
        const px = ds.train.pixels.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3);
        assert(Math.max(...px) - Math.min(...px) > 50, ds.trainFiles[i]);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("loadImageFolder testOnly: only the test split is decoded; train/ may be absent", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/pets`;
  try {
    await makeFolder(root);
    // The broken training JPEG is never opened: an evaluation does not need the training images.
    const ds = await loadImageFolder(root, { size: 8, cacheDir: `${dir}/c`, testOnly: true, ...quiet });
    assertStrictEquals(ds.train.count, 0);
    assertStrictEquals(ds.test.count, 2);
    assertEquals(ds.train.classes, ["cat", "dog"]);
    assertEquals(Array.from(ds.test.labels), [0, 1]);
    // Its cache is its own: a full load afterwards still decodes (and refuses) the training split.
    await assertRejects(
      () => loadImageFolder(root, { size: 8, cacheDir: `${dir}/c`, ...quiet }),
      Error,
      "bad image",
    );
    await Deno.remove(`${root}/train`, { recursive: true });
    const valOnly = await loadImageFolder(root, { size: 8, cacheDir: `${dir}/c2`, testOnly: true, ...quiet });
    assertEquals(valOnly.test.classes, ["cat", "dog"]);
    assertStrictEquals(valOnly.test.count, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
