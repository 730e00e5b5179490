import assert from "node:assert/strict";
import { openDataset } from "../src/data/index.ts";
import { defaultCacheDir, PROJECT_ROOT } from "../src/data/util.ts";

Deno.test("openDataset: missing data gives actionable errors", async () => {
  await assert.rejects(
    () => openDataset({ kind: "fashion-mnist", path: "/nonexistent/fmnist" }),
    /apt-get install -y dataset-fashion-mnist.*pass path/,
  );
  await assert.rejects(() => openDataset({ kind: "cifar10", path: "/nonexistent/cifar" }), /does not exist/);
  await assert.rejects(
    () => openDataset({ kind: "image-folder", path: "/nonexistent/folder" }),
    /is not a folder \(expected train\/<class>\/ and val\/<class>\/ inside\)/,
  );
  await assert.rejects(
    () => openDataset({ kind: "image-folder", path: "/nonexistent/x.tar.gz" }),
    /archive \/nonexistent\/x\.tar\.gz does not exist/,
  );
  // deno-lint-ignore no-explicit-any
  await assert.rejects(() => openDataset({ kind: "mnist" as any }), /unknown kind mnist/);
});

Deno.test({
  name: "defaultCacheDir: <project>/.cache by default",
  // Only when ALEXNET_CACHE_DIR is unset; the test does not change the environment (tests share the process).
  ignore: Deno.env.get("ALEXNET_CACHE_DIR") !== undefined,
  fn: () => {
    assert.equal(defaultCacheDir(), `${PROJECT_ROOT}/.cache`);
    assert.ok(Deno.statSync(`${PROJECT_ROOT}/deno.json`).isFile);
  },
});

Deno.test("openDataset: cifar10 from the default cache location (built there when missing), verified", async () => {
  const ds = await openDataset({ kind: "cifar10" });
  assert.equal(ds.name, "cifar10");
  assert.equal(ds.train.count, 50000);
  assert.equal(ds.test.count, 10000);
  assert.deepEqual(ds.verification, { variant: "jpeg-q75" });
  // The checksum committed results are keyed by (results/<pipeline>/pipeline.lock.json).
  assert.equal(ds.checksum, "04c1eabae4815673e656c342af1f8db31f0bd1a6268615dfccd09764a1a82b42");
  // Opened again (the files unchanged), it is verified from the marker: same answer.
  assert.equal((await openDataset({ kind: "cifar10" })).checksum, ds.checksum);
});
