import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { CIFAR10_CLASSES, CIFAR10_KNOWN_BIN_SHA256, loadCifar10 } from "../src/data/cifar10.ts";
import { readTarGz } from "../src/data/tar.ts";
import { tinyCifar10Archive } from "./helpers/cifar10.ts";
import { realCifar10 } from "./helpers/real_cifar10.ts";
import { run } from "./helpers/run.ts";
import { leftOut } from "./helpers/needs.ts";

/** The loader's checksum of the shared CIFAR-10 rebuild, as committed results record it (results/<pipeline>/pipeline.lock.json). */
const JPEG_Q75_CHECKSUM = "04c1eabae4815673e656c342af1f8db31f0bd1a6268615dfccd09764a1a82b42";

const tinyArchive = tinyCifar10Archive;

Deno.test("loadCifar10: synthetic archive and folder give the same data and checksum", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const archive = await tinyArchive(dir);
    const a = await loadCifar10(archive);
    const f = await loadCifar10(`${dir}/src`);
    const g = await loadCifar10(`${dir}/src/cifar-10-batches-bin`);
    assertStrictEquals(a.train.count, 15);
    assertStrictEquals(a.test.count, 3);
    assertEquals(a.train.classes, CIFAR10_CLASSES);
    assertEquals(Array.from(a.train.labels.subarray(0, 6)), [0, 1, 2, 1, 2, 3]);
    // Image 4 of the train set = batch 2 (b = 1), record 1: pixels (16 + 1).
    assertStrictEquals(a.train.pixels[4 * 3072 + 100], 17);
    assertEquals(a.test.labels, Int32Array.of(5, 6, 7));
    assertStrictEquals(a.checksum, f.checksum);
    assertStrictEquals(g.checksum, f.checksum);
    assertEquals(a.train.pixels, f.train.pixels);
    assertStrictEquals(a.variant, "unknown");
    // A folder holding only the archive also works.
    const only = `${dir}/only`;
    await Deno.mkdir(only);
    await Deno.copyFile(archive, `${only}/cifar-10-binary.tar.gz`);
    assertStrictEquals((await loadCifar10(only)).checksum, a.checksum);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCifar10: clear errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadCifar10(`${dir}/missing`), Error, "does not exist");
    await assertRejects(() => loadCifar10(dir), Error, "holds neither cifar-10-batches-bin");
    const archive = await tinyArchive(dir);
    // A truncated batch file.
    const b1 = `${dir}/src/cifar-10-batches-bin/data_batch_1.bin`;
    await Deno.writeFile(b1, (await Deno.readFile(b1)).subarray(0, 5000));
    await assertRejects(
      () => loadCifar10(`${dir}/src`),
      Error,
      "data_batch_1.bin: 5000 bytes is not a whole number",
    );
    // A truncated archive.
    const bytes = await Deno.readFile(archive);
    await Deno.writeFile(`${dir}/cut.tar.gz`, bytes.subarray(0, bytes.length >> 1));
    await assertRejects(() => loadCifar10(`${dir}/cut.tar.gz`), Error, "cut.tar.gz: ");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "loadCifar10: the real data in the default cache (built there with prepare.sh when missing)",
  ignore: leftOut("data"),
}, async () => {
  const ds = await loadCifar10(await realCifar10());
  assertStrictEquals(ds.train.count, 50000);
  assertStrictEquals(ds.test.count, 10000);
  assertStrictEquals(ds.train.pixels.length, 50000 * 3072);
  assertStrictEquals(ds.variant, "jpeg-q75");
  assertEquals(ds.files, CIFAR10_KNOWN_BIN_SHA256["jpeg-q75"]);
  assertStrictEquals(ds.checksum, JPEG_Q75_CHECKSUM);
  // README: test record j has class j mod 10; every class has 5000 training images.
  for (let j = 0; j < 10000; j += 997) assertStrictEquals(ds.test.labels[j], j % 10);
  const counts = new Array(10).fill(0);
  for (const l of ds.train.labels) counts[l]++;
  assertEquals(counts, new Array(10).fill(5000));
});

Deno.test("readTarGz: GNU long names and pax paths", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const long = "d".repeat(120) + "/" + "f".repeat(110) + ".txt";
    await Deno.mkdir(`${dir}/src/${"d".repeat(120)}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/${long}`, "hello");
    for (const format of ["gnu", "pax"]) {
      const out = await run("tar", [
        `--format=${format}`,
        "-czf",
        `${dir}/${format}.tar.gz`,
        "-C",
        `${dir}/src`,
        ".",
      ]);
      assertStrictEquals(out.code, 0, out.text);
      const names: string[] = [];
      for await (const e of readTarGz(`${dir}/${format}.tar.gz`)) {
        names.push(e.name);
        if (e.type === "file") assertStrictEquals(new TextDecoder().decode(await e.bytes()), "hello");
      }
      assert(names.includes(long), `${format}: ${names}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
