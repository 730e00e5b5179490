/**
 * CIFAR-10 in its "binary version" layout: data_batch_1..5.bin and test_batch.bin, each record one label byte and
 * 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32x32), which is already our CHW uint8 layout.
 */
import type { Dataset, ImageSet } from "./types.ts";
import { readTarGz } from "./tar.ts";
import {
  basename,
  dirname,
  errorMessage,
  exists,
  isDirectory,
  joinPath,
  manifestChecksum,
  sha256File,
  sha256Hex,
  tempSibling,
} from "./util.ts";

/** The ten class names in label order, as batches.meta.txt lists them. */
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

const BIN_FILES = [
  "data_batch_1.bin",
  "data_batch_2.bin",
  "data_batch_3.bin",
  "data_batch_4.bin",
  "data_batch_5.bin",
  "test_batch.bin",
];

/**
 * Per-file digests of the two known builds, which label `variant` (openVerifiedCifar10 refuses data matching
 * neither unless told otherwise):
 * "official" from the extracted official archive (as pinned by torchvision's Ruby port; not verified here because
 * the archive cannot be fetched in this environment), "jpeg-q75" from ../shared/data/cifar10/SHA256SUMS (the
 * binary files rebuilt from a JPEG quality-75 copy, so pixels differ slightly from the official ones). The
 * archives they come in, with their digests, are in datasets/registry.yaml.
 */
export const CIFAR10_KNOWN_BIN_SHA256: Record<string, Record<string, string>> = {
  official: {
    "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
  },
  "jpeg-q75": {
    "data_batch_1.bin": "8da035fc1631e8ce5f25904206b8993b0f3ad02a504c0584d662e806fd76c12b",
    "data_batch_2.bin": "106eeaad9f1fa7a999292fdafe68ee909080f58aee038a76994035aedf40ba26",
    "data_batch_3.bin": "99cb88ba00fca88bf28c517a74307b6b78a346c6ea747a561cb8e660c787d5cb",
    "data_batch_4.bin": "76b482bc3bb79c0370e48ea71bb6e4f567a3770d224dc09a9ddc8cfa2369f294",
    "data_batch_5.bin": "490f5ead4f04a3eb71d5898eb551e0d8d2c592feb778fb9b109a006b3f231495",
    "test_batch.bin": "2696e48ae3fe74d50ecaacc0b8092b89bf95cd3f6471d079f4cbd39a956c18c3",
  },
};

const RECORD = 3073;

/** CIFAR-10 as loaded: 50,000 training and 10,000 test images of 3x32x32, per-file digests in `files`. */
export interface Cifar10Dataset extends Dataset {
  /** "official", "jpeg-q75" (the shared rebuild) or "unknown", from the per-file digests. */
  variant: string;
}

function parseBatches(
  files: Map<string, Uint8Array>,
  names: string[],
  classes: string[],
  src: string,
): ImageSet {
  let count = 0;
  for (const n of names) {
    const data = files.get(n)!;
    if (data.length === 0 || data.length % RECORD !== 0) {
      throw new Error(
        `${src}/${n}: ${data.length} bytes is not a whole number of ${RECORD}-byte CIFAR-10 records ` +
          `(truncated or not a CIFAR-10 binary batch)`,
      );
    }
    count += data.length / RECORD;
  }
  const pixels = new Uint8Array(count * 3072);
  const labels = new Int32Array(count);
  let i = 0;
  for (const n of names) {
    const data = files.get(n)!;
    for (let off = 0; off < data.length; off += RECORD, i++) {
      const label = data[off];
      if (label >= classes.length) {
        throw new Error(`${src}/${n}: record ${off / RECORD} has label ${label} (> 9)`);
      }
      labels[i] = label;
      pixels.set(data.subarray(off + 1, off + RECORD), i * 3072);
    }
  }
  return { classes, channels: 3, height: 32, width: 32, count, pixels, labels };
}

function classesFromMeta(meta: Uint8Array | undefined): string[] {
  if (!meta) return [...CIFAR10_CLASSES];
  const names = new TextDecoder().decode(meta).split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
  return names.length === 10 ? names : [...CIFAR10_CLASSES];
}

async function readFromFolder(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const n of [...BIN_FILES, "batches.meta.txt"]) {
    try {
      files.set(n, await Deno.readFile(joinPath(dir, n)));
    } catch (e) {
      if (n === "batches.meta.txt" && e instanceof Deno.errors.NotFound) continue;
      throw new Error(`CIFAR-10: cannot read ${joinPath(dir, n)}: ${errorMessage(e)}`);
    }
  }
  return files;
}

async function readFromArchive(archive: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const entry of readTarGz(archive)) {
    const name = basename(entry.name);
    if (entry.type === "file" && (BIN_FILES.includes(name) || name === "batches.meta.txt")) {
      files.set(name, await entry.bytes());
    }
  }
  const missing = BIN_FILES.filter((n) => !files.has(n));
  if (missing.length > 0) {
    throw new Error(`${archive}: not a CIFAR-10 binary archive (missing ${missing.join(", ")})`);
  }
  return files;
}

/** Where a CIFAR-10 source's six batches are: a folder of .bin files, or an archive holding them. */
export type Cifar10Location = { kind: "folder"; path: string } | { kind: "archive"; path: string };

/**
 * Resolves a CIFAR-10 source as loadCifar10 reads it: a folder holding cifar-10-batches-bin/, the bin folder
 * itself, a folder holding only cifar-10-binary.tar.gz, or the archive.
 */
export async function locateCifar10(source: string): Promise<Cifar10Location> {
  if (await isDirectory(source)) {
    const nested = joinPath(source, "cifar-10-batches-bin");
    if (await isDirectory(nested)) return { kind: "folder", path: nested };
    if (await exists(joinPath(source, "data_batch_1.bin"))) return { kind: "folder", path: source };
    const archive = joinPath(source, "cifar-10-binary.tar.gz");
    if (await exists(archive)) return { kind: "archive", path: archive };
    throw new Error(
      `CIFAR-10: ${source} holds neither cifar-10-batches-bin/, data_batch_*.bin nor cifar-10-binary.tar.gz`,
    );
  }
  if (await exists(source)) return { kind: "archive", path: source };
  throw new Error(`CIFAR-10: ${source} does not exist`);
}

/** The known build whose per-file digests these are ("official", "jpeg-q75"), or "unknown". */
export function cifar10Variant(digests: Record<string, string>): string {
  return Object.entries(CIFAR10_KNOWN_BIN_SHA256).find(([, known]) =>
    BIN_FILES.every((n) => known[n] === digests[n])
  )?.[0] ?? "unknown";
}

/** What loadCifar10 may take as already known instead of computing it. */
export interface LoadCifar10Options {
  /**
   * The per-file sha-256 of exactly these files, already known (a verified marker, see openVerifiedCifar10):
   * the files are then read but not hashed again.
   */
  digests?: Record<string, string>;
}

/**
 * Loads CIFAR-10. `source`: a folder holding cifar-10-batches-bin/, the bin folder itself, or a
 * cifar-10-binary.tar.gz (read in memory, nothing extracted). checksum = sha-256 of the sha256sum-style manifest
 * of the six .bin files, identical for a folder and the archive it was packed from. `variant` names the known
 * build the files match; nothing is refused here (openVerifiedCifar10 and openDataset refuse unknown data).
 */
export async function loadCifar10(source: string, opts: LoadCifar10Options = {}): Promise<Cifar10Dataset> {
  const at = await locateCifar10(source);
  const where = at.path;
  const files = at.kind === "folder" ? await readFromFolder(at.path) : await readFromArchive(at.path);
  const digests: Record<string, string> = {};
  for (const n of BIN_FILES) digests[n] = opts.digests?.[n] ?? await sha256Hex(files.get(n)!);
  const variant = cifar10Variant(digests);
  const classes = classesFromMeta(files.get("batches.meta.txt"));
  return {
    name: "cifar10",
    train: parseBatches(files, BIN_FILES.slice(0, 5), classes, where),
    test: parseBatches(files, ["test_batch.bin"], classes, where),
    checksum: await manifestChecksum(digests),
    files: digests,
    variant,
  };
}

/** The CIFAR-10 source files a location stands for: the six .bin files of a folder, or the archive. */
function locationFiles(at: Cifar10Location): string[] {
  return at.kind === "folder" ? BIN_FILES.map((n) => joinPath(at.path, n)) : [at.path];
}

/**
 * What identifies a file's content without reading it: size, modification and change times, inode and device.
 * Writing the file changes the times (and ctime cannot be set back), so an unchanged identity means the digest
 * recorded for it still holds. null when the file cannot be stat'ed.
 */
async function fileIdentity(path: string): Promise<string | null> {
  try {
    const s = await Deno.stat(path);
    return [s.size, s.mtime?.getTime() ?? "-", s.ctime?.getTime() ?? "-", s.ino ?? "-", s.dev].join(":");
  } catch {
    return null;
  }
}

interface MarkerEntry {
  /** fileIdentity of each of the location's files, in locationFiles order. */
  identity: string[];
  digests: Record<string, string>;
}

interface MarkerFile {
  format: string;
  /** By the real path of the location (bin folder or archive). */
  entries: Record<string, MarkerEntry>;
}

const MARKER_FORMAT = "alexnet-webgpu-cifar10-verified/1";

async function readMarker(path: string): Promise<MarkerFile> {
  try {
    const m = JSON.parse(await Deno.readTextFile(path)) as MarkerFile;
    if (m && m.format === MARKER_FORMAT && m.entries && typeof m.entries === "object") return m;
  } catch {
    // Missing or unreadable: nothing is remembered, the files are hashed.
  }
  return { format: MARKER_FORMAT, entries: {} };
}

/**
 * Remembers the digests of the files at `source` under their current identity, in `markerFile` (written
 * atomically; a marker that cannot be written only means the files are hashed again next time).
 */
export async function rememberCifar10Digests(
  markerFile: string,
  source: string,
  digests: Record<string, string>,
): Promise<void> {
  try {
    const at = await locateCifar10(source);
    const identity = await Promise.all(locationFiles(at).map(fileIdentity));
    if (identity.some((i) => i === null)) return;
    const marker = await readMarker(markerFile);
    marker.entries[await Deno.realPath(at.path)] = {
      identity: identity as string[],
      digests: { ...digests },
    };
    await Deno.mkdir(dirname(markerFile), { recursive: true });
    const tmp = tempSibling(markerFile);
    try {
      await Deno.writeTextFile(tmp, JSON.stringify(marker, null, 1) + "\n");
      await Deno.rename(tmp, markerFile);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  } catch {
    // Best effort (a read-only cache): verification still happens, only by hashing.
  }
}

/** The digests `markerFile` remembers for `source`, when its files are unchanged since; else null. */
async function rememberedDigests(markerFile: string, source: string): Promise<Record<string, string> | null> {
  const at = await locateCifar10(source);
  const identity = await Promise.all(locationFiles(at).map(fileIdentity));
  if (identity.some((i) => i === null)) return null;
  let real: string;
  try {
    real = await Deno.realPath(at.path);
  } catch {
    return null;
  }
  const entry = (await readMarker(markerFile)).entries[real];
  if (!entry || !Array.isArray(entry.identity) || entry.identity.join("|") !== identity.join("|")) {
    return null;
  }
  return BIN_FILES.every((n) => typeof entry.digests?.[n] === "string") ? entry.digests : null;
}

/** Data that matches no known CIFAR-10 build, refused without allowUnknownData. */
export class UnknownCifar10DataError extends Error {}

/** Why digests are not a known build: the closest build and the files that differ from it. */
export function describeCifar10Mismatch(digests: Record<string, string>): string {
  const builds = Object.keys(CIFAR10_KNOWN_BIN_SHA256);
  let best = builds[0], bestSame = -1;
  for (const name of builds) {
    const same = BIN_FILES.filter((n) => CIFAR10_KNOWN_BIN_SHA256[name][n] === digests[n]).length;
    if (same > bestSame) [best, bestSame] = [name, same];
  }
  const short = (hex: string | undefined) => hex?.slice(0, 16) ?? "?";
  if (bestSame === 0) {
    return `none of its ${BIN_FILES.length} .bin files matches a known build (${builds.join(", ")}): ` +
      BIN_FILES.map((n) => `${n} sha-256 ${short(digests[n])}`).join(", ");
  }
  const known = CIFAR10_KNOWN_BIN_SHA256[best];
  const differ = BIN_FILES.filter((n) => known[n] !== digests[n]);
  return `${bestSame} of its ${BIN_FILES.length} .bin files match the ${best} build, ` +
    differ.map((n) => `${n} does not (sha-256 ${short(digests[n])}, expected ${short(known[n])})`).join(", ");
}

/** How openVerifiedCifar10 checks the data against the known builds. */
export interface VerifyCifar10Options {
  /**
   * JSON file remembering the digests of sources verified before, under their files' size, times and inode: a
   * reopen of unchanged files costs a stat instead of hashing 180 MB. Without it every open hashes.
   */
  markerFile?: string;
  /** Use data that matches no known build (the choice is reported in `verification`). */
  allowUnknownData?: boolean;
}

/**
 * loadCifar10, then a check of the six .bin files against the known builds (CIFAR10_KNOWN_BIN_SHA256): data
 * that matches none is refused with UnknownCifar10DataError unless allowUnknownData. The digests come from
 * `markerFile` when the files are unchanged since they were last hashed, else from hashing (and are
 * remembered there). The dataset's `verification` says what was found.
 */
export async function openVerifiedCifar10(
  source: string,
  opts: VerifyCifar10Options = {},
): Promise<Cifar10Dataset> {
  const remembered = opts.markerFile ? await rememberedDigests(opts.markerFile, source) : null;
  const ds = await loadCifar10(source, { digests: remembered ?? undefined });
  if (opts.markerFile && !remembered) await rememberCifar10Digests(opts.markerFile, source, ds.files!);
  if (ds.variant === "unknown") {
    if (!opts.allowUnknownData) {
      throw new UnknownCifar10DataError(
        `CIFAR-10: ${source} is not a known CIFAR-10 build: ${describeCifar10Mismatch(ds.files!)}; ` +
          `Pass --allow-unknown-data (train, evaluate; allowUnknownData: true in a data config) to use it ` +
          `anyway; the choice is recorded in the checkpoint's provenance`,
      );
    }
    ds.verification = { variant: "unknown", allowUnknownData: true };
  } else {
    ds.verification = { variant: ds.variant };
  }
  return ds;
}

/** sha-256 of each .bin file in a folder, streamed (verifying a fresh build before it is put in place). */
export async function cifar10FolderDigests(dir: string): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  for (const n of BIN_FILES) {
    try {
      digests[n] = await sha256File(joinPath(dir, n));
    } catch (e) {
      throw new Error(`CIFAR-10: cannot read ${joinPath(dir, n)}: ${errorMessage(e)}`);
    }
  }
  return digests;
}
