import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import {
  CIFAR10_ARCHIVE_SHA256,
  CIFAR10_CLASSES,
  CIFAR10_KNOWN_BIN_SHA256,
  downloadCifar10,
  type DownloadProgress,
  loadCifar10,
} from "../src/data/cifar10.ts";
import { readTarGz } from "../src/data/tar.ts";
import { sha256File } from "../src/data/util.ts";
import { tinyCifar10Archive } from "./helpers/cifar10.ts";
import { realCifar10 } from "./helpers/real_cifar10.ts";
import { run } from "./helpers/run.ts";

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

Deno.test("downloadCifar10: local server, checksum mismatch, cache hit, local path", async () => {
  const dir = await Deno.makeTempDir();
  const archive = await tinyArchive(dir);
  const body = await Deno.readFile(archive);
  const sha = await sha256File(archive);
  let requests = 0;
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (req) => {
      requests++;
      if (new URL(req.url).pathname === "/missing.tar.gz") return new Response("no", { status: 404 });
      return new Response(body, { headers: { "content-length": String(body.length) } });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}/cifar-10-binary.tar.gz`;
  try {
    const cacheDir = `${dir}/cache`;
    // Wrong digest (the default is the official archive's): error, nothing cached.
    assertMatch(
      (await assertRejects(() => downloadCifar10({ url, cacheDir, onProgress: () => {} }), Error)).message,
      new RegExp(`checksum mismatch.*expected sha-256 ${CIFAR10_ARCHIVE_SHA256}, got ${sha}`),
    );
    assertEquals([...Deno.readDirSync(cacheDir)], []);
    // Right digest: downloaded with progress reports.
    const seen: DownloadProgress[] = [];
    const r = await downloadCifar10({ url, cacheDir, sha256: sha, onProgress: (p) => seen.push({ ...p }) });
    assertStrictEquals(r.cached, false);
    assertStrictEquals(r.sha256, sha);
    assertStrictEquals(seen.at(-1)!.received, body.length);
    assertStrictEquals(seen.at(-1)!.total, body.length);
    assertEquals(await Deno.readFile(r.path), body);
    const ds = await loadCifar10(r.path);
    assertStrictEquals(ds.train.count, 15);
    // Cache hit: no request.
    const before = requests;
    const again = await downloadCifar10({ url, cacheDir, sha256: sha.toUpperCase(), onProgress: () => {} });
    assertStrictEquals(again.cached, true);
    assertStrictEquals(requests, before);
    // HTTP errors name the address; local paths work like mirrors.
    await assertRejects(
      () =>
        downloadCifar10({
          url: url.replace("cifar-10-binary", "missing"),
          cacheDir: `${dir}/c2`,
          sha256: sha,
        }),
      Error,
      "HTTP 404",
    );
    const local = await downloadCifar10({
      url: archive,
      cacheDir: `${dir}/c3`,
      sha256: sha,
      onProgress: () => {},
    });
    assertStrictEquals(local.sha256, sha);
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCifar10: the real data in the default cache (built there with prepare.sh when missing)", async () => {
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
