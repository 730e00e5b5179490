// The dataset registry is data: the project's own file parses and names what the data layer expects, a bad
// file is refused naming the file and the field, and `deno task data verify imagenet` checks ImageNet's layout
// against the 1000 WordNet ids.
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { findDataset, loadRegistry, REGISTRY_FILE } from "../src/data/registry.ts";
import { runDeno } from "./helpers/run.ts";

const DATA_CLI = new URL("../src/cli/data.ts", import.meta.url).pathname;
const WNIDS = new URL("../datasets/imagenet-wnids.txt", import.meta.url).pathname;

Deno.test("registry: the project's file names every dataset with builds, sources and checksums", async () => {
  const reg = await loadRegistry(REGISTRY_FILE);
  assertEquals(reg.datasets.map((d) => d.name), ["cifar10", "imagenette", "fashion-mnist", "imagenet"]);
  const cifar = findDataset(reg, "cifar10");
  // The build the committed results were trained on, by the checksum their records keep.
  assertStrictEquals(
    cifar.builds.find((b) => b.name === "jpeg-q75")?.content,
    "04c1eabae4815673e656c342af1f8db31f0bd1a6268615dfccd09764a1a82b42",
  );
  const official = cifar.sources.find((s) => s.kind === "download");
  assert(official?.kind === "download");
  assertEquals(official.files[0], {
    file: "cifar-10-binary.tar.gz",
    bytes: 170052171,
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
  });
  assertStrictEquals(official.url, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  const imagenette = findDataset(reg, "imagenette");
  assertStrictEquals(
    imagenette.builds.find((b) => b.name === "imagenette2-224")?.content,
    "10a94830db05b30a17123cb472a51dc4892437ac229abd072409609e2cbc69aa",
  );
  assertEquals(findDataset(reg, "imagenet").sources, []);
  assertMatch(
    assertThrows(() => findDataset(reg, "mnist"), Error).message,
    /unknown dataset "mnist"/,
  );
});

Deno.test("registry: a bad file is refused naming the file and the field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "registry-" });
  try {
    const cases: [string, RegExp][] = [
      ["x: [", /registry\.yaml: not valid YAML/],
      [
        "x:\n  title: X\n  what: x\n  licence: l\n  homepage: h\n  loader: tar\n  layout: l\n",
        /x\.loader: expected/,
      ],
      [
        "x:\n  title: X\n  what: x\n  licence: l\n  homepage: h\n  loader: cifar10\n  layout: l\n  colour: red\n",
        /registry\.yaml: x\.colour: unknown key/,
      ],
      [
        "x:\n  title: X\n  what: x\n  licence: l\n  homepage: h\n  loader: cifar10\n  layout: l\n" +
        "  builds: { a: { about: a } }\n  sources:\n    - file: a.tgz\n      build: a\n",
        /x\.sources\[0\]: a download needs sha256 or md5/,
      ],
      [
        "x:\n  title: X\n  what: x\n  licence: l\n  homepage: h\n  loader: cifar10\n  layout: l\n" +
        "  builds: { a: { about: a } }\n  sources:\n    - file: a.tgz\n      md5: 123\n      build: a\n",
        /x\.sources\[0\]\.md5: expected 32 hex digits/,
      ],
    ];
    for (const [text, expected] of cases) {
      await Deno.writeTextFile(`${dir}/registry.yaml`, text);
      assertMatch((await assertRejects(() => loadRegistry(`${dir}/registry.yaml`), Error)).message, expected);
    }
    // Digests that YAML would read as numbers stay as written, leading zeros and all.
    const md5 = "0".repeat(31) + "1";
    const sha256 = "1".repeat(40) + "e" + "2".repeat(23);
    await Deno.writeTextFile(
      `${dir}/registry.yaml`,
      "x:\n  title: X\n  what: x\n  licence: l\n  homepage: h\n  loader: cifar10\n  layout: l\n" +
        `  builds: { a: { about: a } }\n  sources:\n    - file: a.tgz\n      md5: ${md5}\n` +
        `      sha256: ${sha256}\n      build: a\n`,
    );
    const source = findDataset(await loadRegistry(`${dir}/registry.yaml`), "x").sources[0];
    assert(source.kind === "download");
    assertEquals([source.files[0].md5, source.files[0].sha256], [md5, sha256]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data verify imagenet: the 1000 WordNet-id folders, or what is missing and unknown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imagenet-layout-" });
  try {
    const ids = (await Deno.readTextFile(WNIDS)).trim().split("\n");
    assertStrictEquals(ids.length, 1000);
    assertEquals([...ids].sort(), ids, "sorted: torchvision's class order");
    for (const split of ["train", "val"]) {
      for (const id of ids) {
        await Deno.mkdir(`${dir}/${split}/${id}`, { recursive: true });
        await Deno.writeFile(`${dir}/${split}/${id}/a.JPEG`, new Uint8Array(1));
      }
    }
    const ok = await runDeno(["run", "-A", DATA_CLI, "verify", "imagenet", "--data-path", dir]);
    assertStrictEquals(ok.code, 0, ok.text);
    assertMatch(ok.stdout, /imagenet: val\/: 1000 class folders, 1000 images/);
    assertMatch(ok.stdout, /layout verified \(1000 classes/);
    await Deno.rename(`${dir}/val/${ids[7]}`, `${dir}/val/cock`);
    const bad = await runDeno(["run", "-A", DATA_CLI, "verify", "imagenet", "--data-path", dir]);
    assertStrictEquals(bad.code, 1, bad.text);
    assertMatch(
      bad.stderr,
      new RegExp(`val/ does not have .*1 missing \\(e\\.g\\. ${ids[7]}\\); 1 unknown \\(e\\.g\\. cock\\)`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
