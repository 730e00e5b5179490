// CIFAR-10 is checked against the known builds on every open: a build that fails or is refused leaves nothing
// behind, corrupted files in the default location are refused each time, user data (path) that matches no
// known build needs allowUnknownData, and unchanged files are not hashed again (the verified marker).
import {
  assertEquals,
  assertMatch,
  assertNotStrictEquals,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { CIFAR10_KNOWN_BIN_SHA256, describeCifar10Mismatch, loadCifar10 } from "../src/data/cifar10.ts";
import { type DatasetSpec, openDataset } from "../src/data/open.ts";
import type { Dataset } from "../src/data/types.ts";
import { tinyCifar10Archive, tinyCifar10Folder } from "./helpers/cifar10.ts";

const quiet = () => {};

/** A stand-in for prepare.sh: copies `from`'s files into OUT/cifar-10-batches-bin, then exits with `code`. */
async function fakePrepare(dir: string, from: string, code: number): Promise<string> {
  const script = `${dir}/prepare-${code}.sh`;
  await Deno.writeTextFile(
    script,
    `set -e\nmkdir -p "$1/cifar-10-batches-bin"\ncp ${from}/* "$1/cifar-10-batches-bin/"\n` +
      `echo "prepare: checksums do not match" >&2\nexit ${code}\n`,
  );
  return script;
}

/** What a folder holds besides the lock file builds take turns with. */
const names = (dir: string) => {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== ".cifar10-build.lock").sort();
  } catch {
    return [];
  }
};

Deno.test("cifar10: a build that prepare refuses leaves nothing, so the next open is refused too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar-verify-" });
  try {
    const bad = await tinyCifar10Folder(`${dir}/bad`);
    const spec: DatasetSpec = { kind: "cifar10", cacheDir: `${dir}/cache`, log: quiet };
    Object.assign(spec, { prepareScript: await fakePrepare(dir, bad, 1) });
    for (let attempt = 0; attempt < 2; attempt++) {
      assertMatch(
        (await assertRejects(() => openDataset(spec), Error)).message,
        /failed \(exit 1\)/,
        `attempt ${attempt + 1}`,
      );
      assertEquals(names(`${dir}/cache/data`), [], `attempt ${attempt + 1} left files behind`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar10: a build whose files match no known build is refused and not put in place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar-verify-" });
  try {
    const bad = await tinyCifar10Folder(`${dir}/bad`);
    const spec: DatasetSpec = { kind: "cifar10", cacheDir: `${dir}/cache`, log: quiet };
    // prepare says it succeeded; the digests say otherwise.
    Object.assign(spec, { prepareScript: await fakePrepare(dir, bad, 0) });
    for (let attempt = 0; attempt < 2; attempt++) {
      assertMatch(
        (await assertRejects(() => openDataset(spec), Error)).message,
        /not a known CIFAR-10 build.*nothing was kept/s,
      );
      assertEquals(names(`${dir}/cache/data`), []);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar10: builds of the default copy take turns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar-verify-" });
  try {
    const log = `${dir}/log`;
    const script = `${dir}/slow.sh`;
    await Deno.writeTextFile(script, `echo start >> ${log}\nsleep 1\necho end >> ${log}\nexit 1\n`);
    const spec: DatasetSpec = { kind: "cifar10", cacheDir: `${dir}/cache`, log: quiet };
    Object.assign(spec, { prepareScript: script });
    const results = await Promise.allSettled([openDataset(spec), openDataset(spec)]);
    assertEquals(results.map((r) => r.status), ["rejected", "rejected"]);
    assertEquals((await Deno.readTextFile(log)).trim().split("\n"), ["start", "end", "start", "end"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar10: corrupted files in the default location are refused on every open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar-verify-" });
  try {
    // What an earlier, refused prepare.sh run used to leave in the cache.
    await tinyCifar10Folder(`${dir}/cache/data/x`);
    await Deno.rename(
      `${dir}/cache/data/x/src/cifar-10-batches-bin`,
      `${dir}/cache/data/cifar-10-batches-bin`,
    );
    await Deno.remove(`${dir}/cache/data/x`, { recursive: true });
    const spec: DatasetSpec = { kind: "cifar10", cacheDir: `${dir}/cache`, log: quiet };
    for (let attempt = 0; attempt < 2; attempt++) {
      assertMatch(
        (await assertRejects(() => openDataset(spec), Error)).message,
        /not a known CIFAR-10 build: none of its 6 \.bin files matches a known build \(official, jpeg-q75\): data_batch_1\.bin sha-256 [0-9a-f]{16}.*Remove .*cifar-10-batches-bin to have it built again/s,
      );
    }
    // A folder left half-written (no test batch) is refused as well, not half-used.
    await Deno.remove(`${dir}/cache/data/cifar-10-batches-bin/test_batch.bin`);
    assertMatch(
      (await assertRejects(() => openDataset(spec), Error)).message,
      /cannot read .*test_batch\.bin.*to have it built again/s,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar10: data at a given path that matches no known build needs allowUnknownData", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar-verify-" });
  try {
    const archive = await tinyCifar10Archive(dir);
    const cacheDir = `${dir}/cache`;
    for (const path of [archive, `${dir}/src`]) {
      assertMatch(
        (await assertRejects(() => openDataset({ kind: "cifar10", path, cacheDir }), Error)).message,
        /is not a known CIFAR-10 build.*--allow-unknown-data/s,
      );
      const spec: DatasetSpec = { kind: "cifar10", path, cacheDir };
      Object.assign(spec, { allowUnknownData: true });
      const ds = await openDataset(spec) as Dataset & { verification?: unknown };
      assertStrictEquals(ds.train.count, 15);
      // The checksum is the loader's, whether verified or not.
      assertStrictEquals(ds.checksum, (await loadCifar10(archive)).checksum);
      assertEquals(ds.verification, { variant: "unknown", allowUnknownData: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar10: unchanged files are not hashed again; a changed file is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar-verify-" });
  try {
    const bin = await tinyCifar10Folder(dir);
    const spec: DatasetSpec = { kind: "cifar10", path: `${dir}/src`, cacheDir: `${dir}/cache` };
    Object.assign(spec, { allowUnknownData: true });
    const first = await openDataset(spec);
    const markerFile = `${dir}/cache/data/cifar10-verified.json`;
    const marker = JSON.parse(await Deno.readTextFile(markerFile));
    const entry = marker.entries[await Deno.realPath(bin)];
    assertEquals(entry.digests, first.files);
    // The marker is what a reopen of unchanged files goes by: a digest planted there comes back.
    entry.digests["test_batch.bin"] = "0".repeat(64);
    await Deno.writeTextFile(markerFile, JSON.stringify(marker));
    assertStrictEquals((await openDataset(spec)).files!["test_batch.bin"], "0".repeat(64));
    // Rewriting a file (same size) changes its identity: it is hashed again.
    const tb = `${bin}/test_batch.bin`;
    const bytes = await Deno.readFile(tb);
    bytes[100] ^= 1;
    await Deno.writeFile(tb, bytes);
    const changed = await openDataset(spec);
    assertNotStrictEquals(changed.files!["test_batch.bin"], "0".repeat(64));
    assertNotStrictEquals(changed.files!["test_batch.bin"], first.files!["test_batch.bin"]);
    assertStrictEquals(changed.files!["data_batch_1.bin"], first.files!["data_batch_1.bin"]);
    assertNotStrictEquals(changed.checksum, first.checksum);
    // The same goes for archives.
    const archive = await tinyCifar10Archive(`${dir}/a`);
    const a = await openDataset({ ...spec, path: archive });
    assertStrictEquals(a.checksum, first.checksum);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeCifar10Mismatch: names the closest build and the files that differ from it", () => {
  const digests = { ...CIFAR10_KNOWN_BIN_SHA256["jpeg-q75"], "data_batch_3.bin": "ab".repeat(32) };
  assertStrictEquals(
    describeCifar10Mismatch(digests),
    "5 of its 6 .bin files match the jpeg-q75 build, data_batch_3.bin does not (sha-256 abababababababab, " +
      "expected 99cb88ba00fca88b)",
  );
});
