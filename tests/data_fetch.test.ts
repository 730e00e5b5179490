// `deno task data fetch` against a real HTTP server on 127.0.0.1 serving a small CIFAR-10-shaped archive, with a
// registry of the test's own: success with progress, a flipped byte refused with nothing left behind, a cut
// connection resumed, a 404 and a refused connection each one clear line, and `list` showing what happened.
import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { cifar10FolderDigests } from "../src/data/cifar10.ts";
import { manifestChecksum, sha256File } from "../src/data/util.ts";
import { tinyCifar10Archive } from "./helpers/cifar10.ts";
import { closedPort, serveMirror } from "./helpers/http_mirror.ts";
import { runDeno, type RunResult } from "./helpers/run.ts";

const DATA_CLI = new URL("../src/cli/data.ts", import.meta.url).pathname;

interface Setup {
  dir: string;
  mirrorDir: string;
  archive: Uint8Array;
  env: Record<string, string>;
}

/** A registry naming one dataset, "tiny", whose only build is the tiny archive (records: its size). */
async function setup(records = 400): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "data-fetch-" });
  const archivePath = await tinyCifar10Archive(`${dir}/build`, records);
  const content = await manifestChecksum(await cifar10FolderDigests(`${dir}/build/src/cifar-10-batches-bin`));
  const sha = await sha256File(archivePath);
  const archive = await Deno.readFile(archivePath);
  await Deno.writeTextFile(
    `${dir}/registry.yaml`,
    `tiny:
  title: Tiny
  what: a CIFAR-10-shaped test set
  licence: test data
  homepage: https://example.invalid/
  loader: cifar10
  layout: cifar-10-batches-bin/*.bin
  folder: cifar-10-batches-bin
  root_marker: data_batch_1.bin
  builds:
    only: { about: the test's archive, content: ${content} }
  sources:
    - file: cifar-10-binary.tar.gz
      bytes: ${archive.length}
      sha256: ${sha}
      build: only
`,
  );
  const mirrorDir = `${dir}/mirror`;
  await Deno.mkdir(mirrorDir);
  return {
    dir,
    mirrorDir,
    archive,
    env: {
      ALEXNET_DATASETS: `${dir}/registry.yaml`,
      ALEXNET_CACHE_DIR: `${dir}/cache`,
      ALEXNET_SHARED_DATA: "none",
    },
  };
}

function data(s: Setup, args: string[], mirror: string): Promise<RunResult> {
  return runDeno(["run", "-A", DATA_CLI, ...args], { env: { ...s.env, ALEXNET_DATA_MIRROR: mirror } });
}

/** Everything under the cache, recursively (the lock files builds take turns with aside). */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      out.push(rel + e.name + (e.isDirectory ? "/" : ""));
      if (e.isDirectory) walk(`${d}/${e.name}`, `${rel}${e.name}/`);
    }
  };
  walk(dir, "");
  return out.sort();
}

Deno.test("data fetch: from a mirror over HTTP, with progress, verified, then listed", async () => {
  const s = await setup();
  const mirror = serveMirror(s.mirrorDir);
  try {
    await Deno.writeFile(`${s.mirrorDir}/cifar-10-binary.tar.gz`, s.archive);
    const out = await data(s, ["fetch", "tiny"], mirror.url);
    assertStrictEquals(out.code, 0, out.text);
    assertMatch(out.stderr, /tiny: cifar-10-binary\.tar\.gz: .* MB\/s.*done/);
    assertMatch(out.stdout, /tiny: only build at .*cifar-10-batches-bin/);
    assertEquals(mirror.requests.map((r) => r.status), [200]);
    // Nothing but the data and its verified marker: no partial download, no unpacking folder.
    const inData = (p: string) =>
      p.startsWith("data/cifar-10-batches-bin/") && p !== "data/cifar-10-batches-bin/";
    assertEquals(listTree(`${s.dir}/cache`).filter((p) => !inData(p)), [
      "data/",
      "data/.verified/",
      "data/.verified/tiny.json",
      "data/cifar-10-batches-bin/",
      "downloads/",
    ]);
    const list = await data(s, ["list"], mirror.url);
    assertStrictEquals(list.code, 0, list.text);
    assertMatch(list.stdout, /tiny\s+verified: only\s/);
    // A second fetch finds it and asks nothing.
    const again = await data(s, ["fetch", "tiny"], mirror.url);
    assertMatch(again.stdout, /already here \(only\)/);
    assertStrictEquals(mirror.requests.length, 1);
  } finally {
    await mirror.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("data fetch: one flipped byte is refused, naming expected and actual, and nothing is kept", async () => {
  const s = await setup();
  const mirror = serveMirror(s.mirrorDir);
  try {
    const bad = s.archive.slice();
    bad[bad.length >> 1] ^= 0x01;
    await Deno.writeFile(`${s.mirrorDir}/cifar-10-binary.tar.gz`, bad);
    const badSha = await sha256File(`${s.mirrorDir}/cifar-10-binary.tar.gz`);
    const out = await data(s, ["fetch", "tiny"], mirror.url);
    assertStrictEquals(out.code, 1, out.text);
    assertMatch(out.stderr, new RegExp(`expected sha-256 [0-9a-f]{64}, got sha-256 ${badSha}`));
    assertMatch(out.stderr, /refused/);
    assertEquals(listTree(`${s.dir}/cache`).filter((p) => p !== "data/" && p !== "downloads/"), []);
    const list = await data(s, ["list"], mirror.url);
    assertMatch(list.stdout, /tiny\s+absent/);
  } finally {
    await mirror.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("data fetch: a connection cut halfway is resumed with a range request and ends verified", async () => {
  const s = await setup(2000);
  const mirror = serveMirror(s.mirrorDir, { cutOnce: "cifar-10-binary.tar.gz" });
  try {
    await Deno.writeFile(`${s.mirrorDir}/cifar-10-binary.tar.gz`, s.archive);
    const out = await data(s, ["fetch", "tiny"], mirror.url);
    assertStrictEquals(out.code, 0, out.text);
    assertMatch(out.stderr, /connection lost at .*; resuming \(retry 1 of 5\)|ended at .* resuming/);
    assertEquals(mirror.requests.map((r) => r.status), [200, 206]);
    assertStrictEquals(mirror.requests[1].range, `bytes=${s.archive.length >> 1}-`);
    assertMatch(out.stdout, /tiny: only build at/);
  } finally {
    await mirror.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("data fetch: a killed download resumes from its partial file on the next fetch", async () => {
  const s = await setup(2000);
  const mirror = serveMirror(s.mirrorDir);
  try {
    await Deno.writeFile(`${s.mirrorDir}/cifar-10-binary.tar.gz`, s.archive);
    // What a run killed at 40% leaves behind.
    const cut = Math.floor(s.archive.length * 0.4);
    await Deno.mkdir(`${s.dir}/cache/downloads`, { recursive: true });
    await Deno.writeFile(`${s.dir}/cache/downloads/cifar-10-binary.tar.gz.part`, s.archive.subarray(0, cut));
    const out = await data(s, ["fetch", "tiny"], mirror.url);
    assertStrictEquals(out.code, 0, out.text);
    assertMatch(out.stderr, /resuming at/);
    assertEquals(mirror.requests.map((r) => r.range), [`bytes=${cut}-`]);
  } finally {
    await mirror.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("data fetch: a 404 and a refused connection each give one clear line", async () => {
  const s = await setup();
  const mirror = serveMirror(s.mirrorDir); // empty: every file is a 404
  try {
    const missing = await data(s, ["fetch", "tiny"], mirror.url);
    assertStrictEquals(missing.code, 1, missing.text);
    const notFound = missing.stderr.split("\n").filter((l) => l.includes("404"));
    assert(notFound.length >= 1, missing.text);
    assertMatch(
      notFound[0],
      new RegExp(`${mirror.url}/cifar-10-binary\\.tar\\.gz answered HTTP 404 Not Found`),
    );
    const refusedUrl = `http://127.0.0.1:${closedPort()}`;
    const refused = await data(s, ["fetch", "tiny"], refusedUrl);
    assertStrictEquals(refused.code, 1, refused.text);
    const lines = refused.stderr.split("\n").filter((l) => l.includes("cannot reach"));
    assertStrictEquals(lines.length, 1, refused.text);
    assertMatch(
      lines[0],
      new RegExp(`cannot reach ${refusedUrl}/cifar-10-binary\\.tar\\.gz: .*refused`, "i"),
    );
    // The final error says how to give the data by hand.
    assertMatch(refused.stderr, /error: tiny: no source could deliver it.*--data-path DIR/);
    assertEquals(listTree(`${s.dir}/cache`).filter((p) => p !== "data/" && p !== "downloads/"), []);
  } finally {
    await mirror.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});
