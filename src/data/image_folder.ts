/**
 * ImageNet-style folders: root/train/<class>/*.{jpg,jpeg,png} and root/val/<class>/... (or root/test/...).
 * Each image is decoded once, scaled so its short side is S and centre-cropped to S x S (the paper's
 * preprocessing), and the result is cached as packed uint8 shards under the cache folder. The cache key hashes
 * (file list, sizes, mtimes, S), so a second load reads the shards without decoding and any change to the files
 * rebuilds them.
 */
import type { Dataset, ImageSet } from "./types.ts";
import { type PreparedImage, prepareImageFile } from "./image_decode.ts";
import {
  basename,
  defaultCacheDir,
  errorMessage,
  exists,
  isDirectory,
  joinPath,
  manifestChecksum,
  sha256File,
  sha256Hex,
  tempSibling,
} from "./util.ts";

import { imagenetNames } from "./imagenet_classes.ts";

export { extractTarGz } from "./tar.ts";

/** Bumped whenever decoding or preprocessing changes, so stale shards are never reused. */
const CACHE_FORMAT = 1;
/** Images per shard file (about 200 MB at S = 256). */
const SHARD_IMAGES = 1024;
const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** How loadImageFolder finds, preprocesses and caches the images. */
export interface ImageFolderOptions {
  /** Short side and crop size S (256 for the paper; 32 or 64 for quick runs). Default 256. */
  size?: number;
  /** Cache root; shards go to <cacheDir>/image-folder/<name>-s<S>-<key>/. Default defaultCacheDir(). */
  cacheDir?: string;
  /** "fail" (default): a corrupt or truncated image aborts the load, naming its path. "skip": warn and go on. */
  onBadImage?: "skip" | "fail";
  /** Use only the first N files (by name) of each class in each split, for quick runs. */
  maxPerClass?: number;
  /** Decode workers; default min(cores, 8); 0 decodes on the calling thread. */
  workers?: number;
  /** Folder name of the training split (default train). */
  trainDir?: string;
  /** Folder name of the test split (default the first of val and test that exists). */
  testDir?: string;
  /**
   * Decode the test split only (an evaluation): the training folder then only names the classes, and may be
   * absent (the test folder names them). ImageNet's training set would otherwise be decoded for nothing.
   */
  testOnly?: boolean;
  /** Dataset name (default: the root folder's name). */
  name?: string;
  /** Progress lines (default: stderr). */
  log?: (msg: string) => void;
  /** Bad-image warnings in skip mode (default: console.warn). */
  warn?: (msg: string) => void;
}

/** An image-folder dataset, with the files behind its images and the cache it was read through. */
export interface ImageFolderDataset extends Dataset {
  /** The dataset's root folder, without a trailing slash. */
  root: string;
  /** Side S of every stored image. */
  size: number;
  /** true when the shards were read from the cache (nothing decoded). */
  fromCache: boolean;
  /** The shard folder. */
  cachePath: string;
  /** Paths (relative to root) of the images behind train, in ImageSet order. */
  trainFiles: string[];
  /** Paths (relative to root) of the images behind test, in ImageSet order. */
  testFiles: string[];
  /** Paths (relative to root) skipped as unreadable, with the reason. */
  skipped: { file: string; error: string }[];
}

interface SplitListing {
  dir: string;
  files: { rel: string; label: number; size: number; mtime: number }[];
}

async function listDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (
      !e.name.startsWith(".") &&
      (e.isDirectory || (e.isSymlink && (await isDirectory(joinPath(dir, e.name)))))
    ) {
      out.push(e.name);
    }
  }
  return out.sort();
}

async function listSplit(
  root: string,
  split: string,
  classIds: string[],
  maxPerClass: number,
): Promise<SplitListing> {
  const dir = joinPath(root, split);
  const files: SplitListing["files"] = [];
  for (const cls of await listDirs(dir)) {
    const label = classIds.indexOf(cls);
    if (label < 0) throw new Error(`image-folder: ${dir}/${cls} is not a class of the training split`);
    const names: string[] = [];
    for await (const e of Deno.readDir(joinPath(dir, cls))) {
      if (!e.name.startsWith(".") && IMAGE_EXT.test(e.name)) names.push(e.name);
    }
    names.sort();
    for (const n of names.slice(0, maxPerClass)) {
      const rel = `${split}/${cls}/${n}`;
      const st = await Deno.stat(joinPath(root, rel));
      files.push({ rel, label, size: st.size, mtime: st.mtime?.getTime() ?? 0 });
    }
  }
  return { dir: split, files };
}

/**
 * The checksum loadImageFolder reports for `root` (the manifest of every listed file's sha-256), computed
 * without decoding anything: what `deno task data verify` compares with the known builds.
 */
export async function imageFolderContentChecksum(root: string): Promise<string> {
  root = root.replace(/\/+$/, "");
  let testDir: string | undefined;
  for (const d of ["val", "test"]) if (!testDir && (await isDirectory(joinPath(root, d)))) testDir = d;
  if (!testDir) throw new Error(`image-folder: ${root} has neither val/ nor test/ next to train/`);
  const classIds = await listDirs(joinPath(root, "train"));
  const files: Record<string, string> = {};
  for (const split of ["train", testDir]) {
    for (const f of (await listSplit(root, split, classIds, Infinity)).files) {
      files[f.rel] = await sha256File(joinPath(root, f.rel));
    }
  }
  return manifestChecksum(files);
}

/**
 * Display names from an Imagenette-style classes.tsv (columns wnid and name), when the root has one; for
 * ImageNet's 1000 WordNet-id folders, ImageNet's class names.
 */
async function classNames(root: string, ids: string[]): Promise<string[]> {
  const tsv = joinPath(root, "classes.tsv");
  if (!(await exists(tsv))) return (await imagenetNames(ids)) ?? ids;
  const lines = (await Deno.readTextFile(tsv)).split("\n").filter((l) => l.trim().length > 0);
  const head = lines[0].split("\t");
  const wi = head.indexOf("wnid"), ni = head.indexOf("name");
  if (wi < 0 || ni < 0) return ids;
  const map = new Map(lines.slice(1).map((l) => l.split("\t")).map((c) => [c[wi], c[ni]]));
  return ids.map((id) => map.get(id) ?? id);
}

/** Runs prepareImageFile over all paths, on workers when asked, calling back as results arrive. */
async function decodeAll(
  paths: string[],
  size: number,
  workers: number,
  onResult: (i: number, r: PreparedImage) => void,
): Promise<void> {
  if (workers <= 0 || paths.length < 8) {
    for (let i = 0; i < paths.length; i++) onResult(i, await prepareImageFile(paths[i], size));
    return;
  }
  const pool = Array.from(
    { length: Math.min(workers, Math.ceil(paths.length / 4)) },
    () => new Worker(new URL("./decode_worker.ts", import.meta.url).href, { type: "module" }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let sent = 0, done = 0;
      const send = (w: Worker) => {
        if (sent < paths.length) {
          w.postMessage({ id: sent, path: paths[sent], size });
          sent++;
        }
      };
      for (const w of pool) {
        w.onmessage = (e: MessageEvent<PreparedImage & { id: number }>) => {
          try {
            onResult(e.data.id, e.data);
          } catch (err) {
            reject(err);
            return;
          }
          done++;
          if (done === paths.length) resolve();
          else send(w);
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`image-folder: decode worker failed: ${e.message}`));
        };
        // Two tasks in flight per worker hide the message round trip.
        send(w);
        send(w);
      }
    });
  } finally {
    for (const w of pool) w.terminate();
  }
}

interface CacheMeta {
  format: number;
  name: string;
  size: number;
  classes: string[];
  classIds: string[];
  checksum: string;
  files: Record<string, string>;
  skipped: { file: string; error: string }[];
  splits: Record<
    "train" | "test",
    { count: number; shards: { file: string; count: number }[]; files: string[] }
  >;
}

async function readInto(path: string, out: Uint8Array): Promise<void> {
  using f = await Deno.open(path);
  let off = 0;
  while (off < out.length) {
    const n = await f.read(out.subarray(off));
    if (n === null) {
      throw new Error(`image-folder: cache shard ${path} is truncated (${off} of ${out.length} bytes)`);
    }
    off += n;
  }
}

async function readCached(path: string, meta: CacheMeta, split: "train" | "test"): Promise<ImageSet> {
  const s = meta.splits[split];
  const img = 3 * meta.size * meta.size;
  const pixels = new Uint8Array(s.count * img);
  let at = 0;
  for (const sh of s.shards) {
    await readInto(joinPath(path, sh.file), pixels.subarray(at * img, (at + sh.count) * img));
    at += sh.count;
  }
  const lb = await Deno.readFile(joinPath(path, `${split}.labels.i32`));
  if (lb.length !== s.count * 4) {
    throw new Error(`image-folder: cache labels of ${split} in ${path} are truncated`);
  }
  const dv = new DataView(lb.buffer, lb.byteOffset, lb.byteLength);
  const labels = Int32Array.from({ length: s.count }, (_, i) => dv.getInt32(4 * i, true));
  return {
    classes: meta.classes,
    classIds: meta.classIds,
    channels: 3,
    height: meta.size,
    width: meta.size,
    count: s.count,
    pixels,
    labels,
  };
}

async function writeAll(path: string, data: Uint8Array): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  let off = 0;
  while (off < data.length) off += await f.write(data.subarray(off));
}

/**
 * Loads an image folder as a Dataset of S x S RGB images (see the file comment). checksum: manifest sha-256 of
 * every listed source file (bad ones included), so it changes whenever any image does.
 */
export async function loadImageFolder(
  root: string,
  opts: ImageFolderOptions = {},
): Promise<ImageFolderDataset> {
  root = root.replace(/\/+$/, "");
  const size = opts.size ?? 256;
  const onBad = opts.onBadImage ?? "fail";
  const log = opts.log ?? ((m: string) => console.error(m));
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const name = opts.name ?? basename(root);
  const maxPerClass = opts.maxPerClass ?? Infinity;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`image-folder: size must be a positive integer`);
  const trainDir = opts.trainDir ?? "train";
  const testOnly = opts.testOnly ?? false;
  const hasTrain = await isDirectory(joinPath(root, trainDir));
  if (!hasTrain && !testOnly) {
    throw new Error(
      `image-folder: ${joinPath(root, trainDir)} is missing (expected root/train/<class>/*.jpg)`,
    );
  }
  let testDir = opts.testDir;
  if (!testDir) {
    for (const d of ["val", "test"]) if (!testDir && (await isDirectory(joinPath(root, d)))) testDir = d;
    if (!testDir) throw new Error(`image-folder: ${root} has neither val/ nor test/ next to train/`);
  }
  const classDir = joinPath(root, hasTrain ? trainDir : testDir);
  const classIds = await listDirs(classDir);
  if (classIds.length === 0) throw new Error(`image-folder: no class folders in ${classDir}`);
  const classes = await classNames(root, classIds);
  const listing = {
    train: testOnly ? { dir: trainDir, files: [] } : await listSplit(root, trainDir, classIds, maxPerClass),
    test: await listSplit(root, testDir, classIds, maxPerClass),
  };
  if (listing.train.files.length === 0 && !testOnly) {
    throw new Error(`image-folder: no images under ${joinPath(root, trainDir)}`);
  }

  const key = (await sha256Hex(JSON.stringify({
    format: CACHE_FORMAT,
    size,
    classIds,
    files: [...listing.train.files, ...listing.test.files].map((f) => [f.rel, f.size, f.mtime]),
    // Only a test-only load adds the key, so every other cache keeps its name.
    ...(testOnly ? { testOnly } : {}),
  }))).slice(0, 16);
  const cacheRoot = joinPath(opts.cacheDir ?? defaultCacheDir(), "image-folder");
  const cachePath = joinPath(cacheRoot, `${name.replace(/[^\w.-]+/g, "_")}-s${size}-${key}`);
  const metaPath = joinPath(cachePath, "meta.json");

  const finish = (
    meta: CacheMeta,
    train: ImageSet,
    test: ImageSet,
    fromCache: boolean,
  ): ImageFolderDataset => {
    if (meta.skipped.length > 0) {
      if (onBad === "fail") {
        throw new Error(
          `image-folder: bad image ${joinPath(root, meta.skipped[0].file)}: ${meta.skipped[0].error}` +
            (meta.skipped.length > 1 ? ` (and ${meta.skipped.length - 1} more)` : "") +
            `; pass onBadImage: "skip" to leave such files out`,
        );
      }
      if (fromCache) {
        warn(`image-folder: ${meta.skipped.length} bad image(s) skipped (listed in ${metaPath})`);
      }
    }
    return {
      name,
      train,
      test,
      checksum: meta.checksum,
      files: meta.files,
      root,
      size,
      fromCache,
      cachePath,
      trainFiles: meta.splits.train.files,
      testFiles: meta.splits.test.files,
      skipped: meta.skipped,
    };
  };

  if (await exists(metaPath)) {
    try {
      const meta = JSON.parse(await Deno.readTextFile(metaPath)) as CacheMeta;
      if (meta.format === CACHE_FORMAT && meta.size === size) {
        // Names are not part of the cache key: the ones read now stand.
        meta.classes = classes;
        const train = await readCached(cachePath, meta, "train");
        const test = await readCached(cachePath, meta, "test");
        return finish(meta, train, test, true);
      }
    } catch (e) {
      if (errorMessage(e).startsWith("image-folder: bad image")) throw e;
      log(`image-folder: ignoring unreadable cache ${cachePath}: ${errorMessage(e)}`);
    }
  }

  // Decode everything once, straight into one buffer per split.
  const all = [...listing.train.files, ...listing.test.files];
  const nTrain = listing.train.files.length;
  const img = 3 * size * size;
  const buffers = [new Uint8Array(nTrain * img), new Uint8Array(listing.test.files.length * img)];
  const ok = new Uint8Array(all.length);
  const files: Record<string, string> = {};
  const skipped: { file: string; error: string }[] = [];
  const workers = opts.workers ?? Math.min(navigator.hardwareConcurrency || 1, 8);
  const t0 = performance.now();
  let lastLog = t0, done = 0;
  log(`image-folder: decoding ${all.length} images of ${root} to ${size}x${size} (${workers} workers)`);
  await decodeAll(all.map((f) => joinPath(root, f.rel)), size, workers, (i, r) => {
    if (r.sha256) files[all[i].rel] = r.sha256;
    if (r.pixels) {
      if (r.pixels.length !== img) throw new Error(`image-folder: internal size mismatch for ${all[i].rel}`);
      if (i < nTrain) buffers[0].set(r.pixels, i * img);
      else buffers[1].set(r.pixels, (i - nTrain) * img);
      ok[i] = 1;
    } else {
      const error = r.error ?? "unknown error";
      if (onBad === "fail") {
        throw new Error(`image-folder: bad image ${error}; pass onBadImage: "skip" to leave such files out`);
      }
      warn(`image-folder: skipping bad image ${error}`);
      skipped.push({ file: all[i].rel, error });
    }
    done++;
    const now = performance.now();
    if (now - lastLog > 5000) {
      lastLog = now;
      log(`image-folder: ${done}/${all.length} decoded (${((now - t0) / 1000).toFixed(0)} s)`);
    }
  });
  skipped.sort((a, b) => (a.file < b.file ? -1 : 1));

  // Close the gaps of skipped images in place (no second copy of a multi-GB buffer).
  const build = (pixels: Uint8Array, from: number, n: number) => {
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!ok[from + i]) continue;
      if (keep.length !== i) pixels.copyWithin(keep.length * img, i * img, (i + 1) * img);
      keep.push(from + i);
    }
    const set: ImageSet = {
      classes,
      classIds,
      channels: 3,
      height: size,
      width: size,
      count: keep.length,
      pixels: pixels.subarray(0, keep.length * img),
      labels: Int32Array.from(keep, (i) => all[i].label),
    };
    return { set, files: keep.map((i) => all[i].rel) };
  };
  const train = build(buffers[0], 0, nTrain);
  const test = build(buffers[1], nTrain, listing.test.files.length);
  const meta: CacheMeta = {
    format: CACHE_FORMAT,
    name,
    size,
    classes,
    classIds,
    checksum: await manifestChecksum(files),
    files,
    skipped,
    splits: {
      train: { count: train.set.count, shards: [], files: train.files },
      test: { count: test.set.count, shards: [], files: test.files },
    },
  };
  // Write into a temporary folder and rename: a crash or a concurrent loader never sees half a cache.
  try {
    await Deno.mkdir(cacheRoot, { recursive: true });
    const tmp = tempSibling(cachePath);
    await Deno.mkdir(tmp);
    for (const split of ["train", "test"] as const) {
      const set = split === "train" ? train.set : test.set;
      for (let s = 0; s * SHARD_IMAGES < set.count || (s === 0 && set.count === 0); s++) {
        const n = Math.min(SHARD_IMAGES, set.count - s * SHARD_IMAGES);
        const file = `${split}-${String(s).padStart(4, "0")}.u8`;
        await writeAll(
          joinPath(tmp, file),
          set.pixels.subarray(s * SHARD_IMAGES * img, (s * SHARD_IMAGES + n) * img),
        );
        meta.splits[split].shards.push({ file, count: n });
      }
      const lb = new Uint8Array(set.count * 4);
      const dv = new DataView(lb.buffer);
      set.labels.forEach((l, i) => dv.setInt32(4 * i, l, true));
      await writeAll(joinPath(tmp, `${split}.labels.i32`), lb);
    }
    await Deno.writeTextFile(joinPath(tmp, "meta.json"), JSON.stringify(meta));
    try {
      await Deno.rename(tmp, cachePath);
    } catch {
      // Another process wrote the same cache first (same key, same content), or a stale folder without
      // meta.json is in the way: replace the latter, keep the former.
      if (await exists(metaPath)) await Deno.remove(tmp, { recursive: true });
      else {
        await Deno.remove(cachePath, { recursive: true }).catch(() => {});
        await Deno.rename(tmp, cachePath);
      }
    }
  } catch (e) {
    log(`image-folder: could not write the cache ${cachePath}: ${errorMessage(e)}`);
  }
  log(
    `image-folder: ${train.set.count} train + ${test.set.count} test images ready in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s (cached in ${cachePath})`,
  );
  return finish(meta, train.set, test.set, false);
}
