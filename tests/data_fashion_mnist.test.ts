import { assertEquals, assertMatch, assertRejects, assertStrictEquals, assertThrows } from "@std/assert";
import { FASHION_MNIST_CLASSES, loadFashionMnist, parseIdx } from "../src/data/fashion_mnist.ts";
import { classCounts, validateImageSet } from "../src/data/types.ts";
import { leftOut, requireFashionMnist } from "./helpers/needs.ts";

function idx(magicType: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  out.set([0, 0, magicType, dims.length]);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function gz(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test({
  name: "loadFashionMnist: the installed dataset",
  ignore: leftOut("fashion-mnist"),
  fn: async () => {
    requireFashionMnist();
    const ds = await loadFashionMnist();
    assertStrictEquals(ds.name, "fashion-mnist");
    for (const [set, n] of [[ds.train, 60000], [ds.test, 10000]] as const) {
      assertStrictEquals(set.count, n);
      assertEquals([set.channels, set.height, set.width], [1, 28, 28]);
      validateImageSet(set);
      assertEquals(classCounts(set), new Array(10).fill(n / 10));
    }
    assertEquals(ds.train.classes, FASHION_MNIST_CLASSES);
    // The first training image is an ankle boot (label 9), as in the dataset's own documentation.
    assertStrictEquals(ds.train.labels[0], 9);
    assertStrictEquals(Object.keys(ds.files!).length, 4);
    assertMatch(ds.checksum, /^[0-9a-f]{64}$/);
  },
});

Deno.test("parseIdx: errors name the file", () => {
  const good = idx(8, [2, 2, 2], new Uint8Array(8).fill(7));
  assertEquals(parseIdx(good, "g").dims, [2, 2, 2]);
  assertThrows(
    () => parseIdx(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0), "x.idx"),
    Error,
    "x.idx: bad IDX magic 0x1f8b0800",
  );
  assertThrows(
    () => parseIdx(idx(0x0d, [2], new Uint8Array(8)), "f.idx"),
    Error,
    "f.idx: IDX element type 0xd",
  );
  assertMatch(
    assertThrows(() => parseIdx(good.subarray(0, good.length - 3), "t.idx"), Error).message,
    /t\.idx: truncated IDX file.*2x2x2 = 8 bytes, found 5/,
  );
  assertThrows(() => parseIdx(good.subarray(0, 9), "h.idx"), Error, "h.idx: truncated IDX header");
  assertThrows(() => parseIdx(good, "d.idx", 1), Error, "d.idx: IDX file has 3 dimensions, expected 1");
});

Deno.test("loadFashionMnist: synthetic folder, plain and gzip'd, and its errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = async (name: string, bytes: Uint8Array, zip: boolean) =>
      await Deno.writeFile(`${dir}/${name}${zip ? ".gz" : ""}`, zip ? await gz(bytes) : bytes);
    const img = (n: number) => idx(8, [n, 3, 3], Uint8Array.from({ length: n * 9 }, (_, i) => i & 255));
    const lab = (n: number) => idx(8, [n], Uint8Array.from({ length: n }, (_, i) => i % 10));
    await write("train-images-idx3-ubyte", img(4), true);
    await write("train-labels-idx1-ubyte", lab(4), false);
    await write("t10k-images-idx3-ubyte", img(2), true);
    await write("t10k-labels-idx1-ubyte", lab(2), true);
    const ds = await loadFashionMnist(dir);
    assertEquals([ds.train.count, ds.test.count, ds.train.height], [4, 2, 3]);
    assertEquals(ds.train.labels, Int32Array.of(0, 1, 2, 3));
    assertStrictEquals(ds.train.pixels[10], 10);

    await write("t10k-labels-idx1-ubyte", lab(3), true);
    assertMatch(
      (await assertRejects(() => loadFashionMnist(dir), Error)).message,
      /t10k-labels-idx1-ubyte\.gz: 3 labels but .* holds 2 images/,
    );
    await write("t10k-labels-idx1-ubyte", idx(8, [2], Uint8Array.of(1, 12)), true);
    await assertRejects(() => loadFashionMnist(dir), Error, "t10k-labels-idx1-ubyte.gz: label 12 at index 1");
    const z = await gz(img(2));
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte.gz`, z.subarray(0, z.length - 6));
    await assertRejects(
      () => loadFashionMnist(dir),
      Error,
      "t10k-images-idx3-ubyte.gz: cannot decompress gzip data",
    );
    await Deno.remove(`${dir}/t10k-images-idx3-ubyte.gz`);
    assertMatch(
      (await assertRejects(() => loadFashionMnist(dir), Error)).message,
      /t10k-images-idx3-ubyte\(\.gz\) not found.*apt-get install/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
