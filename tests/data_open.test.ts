import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { openDataset } from "../src/data/index.ts";
import { defaultCacheDir, PROJECT_ROOT } from "../src/data/util.ts";
import { leftOut } from "./helpers/needs.ts";

Deno.test("openDataset: missing data gives actionable errors", async () => {
  const noFashion = await assertRejects(
    () => openDataset({ kind: "fashion-mnist", path: "/nonexistent/fmnist" }),
    Error,
  );
  assertMatch(noFashion.message, /apt-get install -y dataset-fashion-mnist.*pass path/);
  await assertRejects(
    () => openDataset({ kind: "cifar10", path: "/nonexistent/cifar" }),
    Error,
    "does not exist",
  );
  await assertRejects(
    () => openDataset({ kind: "image-folder", path: "/nonexistent/folder" }),
    Error,
    "is not a folder (expected train/<class>/ and val/<class>/ inside)",
  );
  await assertRejects(
    () => openDataset({ kind: "image-folder", path: "/nonexistent/x.tar.gz" }),
    Error,
    "archive /nonexistent/x.tar.gz does not exist",
  );
  // deno-lint-ignore no-explicit-any
  await assertRejects(() => openDataset({ kind: "mnist" as any }), Error, "unknown kind mnist");
});

Deno.test({
  name: "defaultCacheDir: <project>/.cache by default",
  // Only when ALEXNET_CACHE_DIR is unset; the test does not change the environment (tests share the process).
  ignore: Deno.env.get("ALEXNET_CACHE_DIR") !== undefined,
  fn: () => {
    assertStrictEquals(defaultCacheDir(), `${PROJECT_ROOT}/.cache`);
    assert(Deno.statSync(`${PROJECT_ROOT}/deno.json`).isFile);
  },
});

Deno.test({
  name: "openDataset: cifar10 from the default cache location (built there when missing), verified",
  ignore: leftOut("data"),
}, async () => {
  const ds = await openDataset({ kind: "cifar10" });
  assertStrictEquals(ds.name, "cifar10");
  assertStrictEquals(ds.train.count, 50000);
  assertStrictEquals(ds.test.count, 10000);
  assertEquals(ds.verification, { variant: "jpeg-q75" });
  // The checksum committed results are keyed by (results/<pipeline>/pipeline.lock.json).
  assertStrictEquals(ds.checksum, "04c1eabae4815673e656c342af1f8db31f0bd1a6268615dfccd09764a1a82b42");
  // Opened again (the files unchanged), it is verified from the marker: same answer.
  assertStrictEquals((await openDataset({ kind: "cifar10" })).checksum, ds.checksum);
});
