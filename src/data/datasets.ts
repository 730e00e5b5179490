/**
 * Named datasets on this machine: where each lives, which build it is, and how it gets here from the sources
 * the registry lists (the lab's copy, a Debian package, a mirror, the official address). Nothing is put in
 * place before its checksum or its content has been matched against a known build; a refused or interrupted
 * fetch leaves no data behind (only a partial download, which the next fetch resumes).
 */
import { cifar10FolderDigests } from "./cifar10.ts";
import { buildCifar10, CIFAR10_MARKER_FILE } from "./cifar10_build.ts";
import { type DownloadError, downloadToPart, formatBytes } from "./download.ts";
import { loadFashionMnist } from "./fashion_mnist.ts";
import { imageFolderContentChecksum } from "./image_folder.ts";
import {
  buildOfContent,
  type DatasetBuild,
  type DatasetEntry,
  type DatasetSource,
  downloadBytes,
  findDataset,
  loadRegistry,
  type Registry,
  type SourceFile,
} from "./registry.ts";
import { extractTarGz } from "./tar.ts";
import {
  defaultCacheDir,
  dirname,
  errorMessage,
  exists,
  fileDigests,
  isDirectory,
  joinPath,
  manifestChecksum,
  PROJECT_ROOT,
  tempSibling,
} from "./util.ts";

/** Where data is looked for and put: the cache, the lab's shared copy (if any) and a mirror (if set). */
export interface DataPlaces {
  /** <cache>/data: everything fetched or unpacked. */
  dataDir: string;
  /** <cache>/downloads: partial downloads, resumed by the next fetch. */
  downloadsDir: string;
  /** The lab's shared data folder, or null where there is none. */
  sharedDir: string | null;
  /** $ALEXNET_DATA_MIRROR: a base URL (or folder) holding the archives under their official names. */
  mirror: string | null;
}

/** The lab's shared data beside the project: ../shared/data. */
export const DEFAULT_SHARED_DATA_DIR: string = joinPath(dirname(PROJECT_ROOT), "shared", "data");

function env(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/**
 * The places from the environment: $ALEXNET_CACHE_DIR (default <project>/.cache), $ALEXNET_SHARED_DATA (default
 * ../shared/data; "none" turns it off) and $ALEXNET_DATA_MIRROR.
 */
export function dataPlaces(cacheDir = defaultCacheDir()): DataPlaces {
  const shared = env("ALEXNET_SHARED_DATA") ?? DEFAULT_SHARED_DATA_DIR;
  return {
    dataDir: joinPath(cacheDir, "data"),
    downloadsDir: joinPath(cacheDir, "downloads"),
    sharedDir: shared === "none" ? null : shared,
    mirror: env("ALEXNET_DATA_MIRROR")?.replace(/\/+$/, "") ?? null,
  };
}

/** Data a command needs that is not on this machine; `missingInput` lets the pipeline runner tell it apart. */
export class DataAbsentError extends Error {
  /** `remedy` is the one command that gets it. */
  readonly missingInput: { name: string; remedy: string };
  constructor(readonly dataset: string, command: string, message: string) {
    super(message);
    this.missingInput = { name: dataset, remedy: command };
  }
}

/** "deno task data fetch cifar10 (170.1 MB)". */
export function fetchCommand(entry: DatasetEntry): string {
  return `deno task data fetch ${entry.name}${sizeNote(entry)}`;
}

/** " (170.1 MB)", or "" where the registry states no size. */
function sizeNote(entry: DatasetEntry): string {
  const bytes = downloadBytes(entry);
  return bytes ? ` (${formatBytes(bytes)})` : "";
}

// ---- where a dataset lives --------------------------------------------------------------------------------

/** The folder a source puts its data in: its own `folder`, or the dataset's. */
function sourceFolder(entry: DatasetEntry, source: DatasetSource, places: DataPlaces): string | null {
  if (source.kind === "local") return source.path;
  const folder = ("folder" in source && source.folder) || entry.folder;
  return folder ? joinPath(places.dataDir, folder) : null;
}

/** The folder holding the dataset's root marker: `dir` itself or a folder up to two levels below it. */
export async function findRoot(entry: DatasetEntry, dir: string): Promise<string | null> {
  if (!(await isDirectory(dir))) return null;
  const marker = entry.rootMarker;
  if (!marker) return dir;
  const search = async (d: string, depth: number): Promise<string | null> => {
    if (await exists(joinPath(d, marker))) return d;
    if (depth === 0) return null;
    const subs: string[] = [];
    for await (const e of Deno.readDir(d)) if (e.isDirectory && !e.name.startsWith(".")) subs.push(e.name);
    for (const s of subs.sort()) {
      const found = await search(joinPath(d, s), depth - 1);
      if (found) return found;
    }
    return null;
  };
  return search(dir, 2);
}

/** Where a dataset is installed: the first source's folder that holds its root. */
export async function installedRoot(
  entry: DatasetEntry,
  places: DataPlaces,
): Promise<{ root: string; folder: string; source: DatasetSource } | null> {
  for (const source of entry.sources) {
    const folder = sourceFolder(entry, source, places);
    if (!folder) continue;
    const root = await findRoot(entry, folder);
    if (root) return { root, folder, source };
  }
  return null;
}

// ---- what a dataset is --------------------------------------------------------------------------------------

/** The loader's content checksum of a dataset root (the value stage records keep), computed from the files. */
export async function contentChecksum(entry: DatasetEntry, root: string): Promise<string> {
  switch (entry.loader) {
    case "cifar10":
      return manifestChecksum(await cifar10FolderDigests(root));
    case "fashion-mnist":
      return (await loadFashionMnist(root)).checksum;
    case "image-folder":
      return imageFolderContentChecksum(root);
  }
}

/** What `deno task data verify` and a fetch remember about a checked folder, in <data>/.verified/<name>.json. */
interface VerifiedMarker {
  dataset: string;
  root: string;
  build: string | null;
  content: string;
  /** Size and modification time of the root and its files' folder, so a changed folder is noticed. */
  identity: string;
  from: string;
  verifiedAt: string;
}

function markerPath(places: DataPlaces, name: string): string {
  return joinPath(places.dataDir, ".verified", `${name}.json`);
}

async function folderIdentity(root: string): Promise<string> {
  const parts: string[] = [];
  for (const p of [root, joinPath(root, "train"), joinPath(root, "val")]) {
    try {
      const s = await Deno.stat(p);
      parts.push(`${s.mtime?.getTime() ?? 0}:${s.ino ?? 0}`);
    } catch {
      parts.push("-");
    }
  }
  return parts.join("|");
}

async function readMarker(places: DataPlaces, name: string): Promise<VerifiedMarker | null> {
  try {
    const m = JSON.parse(await Deno.readTextFile(markerPath(places, name))) as VerifiedMarker;
    return m && m.dataset === name && typeof m.content === "string" ? m : null;
  } catch {
    return null;
  }
}

async function writeMarker(places: DataPlaces, marker: VerifiedMarker): Promise<void> {
  const path = markerPath(places, marker.dataset);
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  await Deno.writeTextFile(tmp, JSON.stringify(marker, null, 1) + "\n");
  await Deno.rename(tmp, path);
}

/** The first source that needs no network and is here (the lab's copy, a package's folder), if any. */
export async function localSource(entry: DatasetEntry, places: DataPlaces): Promise<string | null> {
  for (const s of entry.sources) {
    if (s.kind === "shared" && places.sharedDir && (await exists(joinPath(places.sharedDir, s.path)))) {
      return joinPath(places.sharedDir, s.path);
    }
    if (s.kind === "local" && (await exists(s.path))) return s.path;
  }
  return null;
}

/** A dataset's state on this machine, as `deno task data list` shows it (nothing is hashed). */
export type DatasetState =
  | { status: "absent" }
  | { status: "not downloadable" }
  | { status: "verified"; root: string; build: string; from: string }
  | { status: "unknown build"; root: string; content: string }
  | { status: "not verified"; root: string };

export async function datasetState(entry: DatasetEntry, places: DataPlaces): Promise<DatasetState> {
  return stateAt(entry, places, await installedRoot(entry, places));
}

/** The state of the dataset installed at `at` (installedRoot's answer, so callers that have it look once). */
async function stateAt(
  entry: DatasetEntry,
  places: DataPlaces,
  at: Awaited<ReturnType<typeof installedRoot>>,
): Promise<DatasetState> {
  if (!at) return entry.sources.length === 0 ? { status: "not downloadable" } : { status: "absent" };
  const marker = await readMarker(places, entry.name);
  if (marker && marker.root === at.root && marker.identity === await folderIdentity(at.root)) {
    return marker.build
      ? { status: "verified", root: at.root, build: marker.build, from: marker.from }
      : { status: "unknown build", root: at.root, content: marker.content };
  }
  return { status: "not verified", root: at.root };
}

/** Checks a folder's content against the known builds (hashing every file) and remembers the answer. */
export async function verifyDataset(
  entry: DatasetEntry,
  root: string,
  places: DataPlaces,
  from = "checked in place",
): Promise<{ content: string; build?: DatasetBuild }> {
  const content = await contentChecksum(entry, root);
  const build = buildOfContent(entry, content);
  // Only the default location is remembered: a folder given by hand is checked each time it is asked.
  const installed = await installedRoot(entry, places);
  if (installed?.root === root) {
    await writeMarker(places, {
      dataset: entry.name,
      root,
      build: build?.name ?? null,
      content,
      identity: await folderIdentity(root),
      from,
      verifiedAt: new Date().toISOString(),
    });
  }
  return { content, build };
}

// ---- getting a dataset here -----------------------------------------------------------------------------------

export interface FetchOptions {
  log?: (line: string) => void;
  /** Fetch again even when the data is there (the old copy stays until the new one is verified). */
  force?: boolean;
  /** Only sources that need no network: the lab's copy and local packages (what commands do unasked). */
  localOnly?: boolean;
  /** Replaces the lab's build script (tests). */
  prepareScript?: string;
}

/** A source that could not deliver, and why (one line). */
interface SourceFailure {
  source: string;
  why: string;
}

export interface Fetched {
  root: string;
  build: string;
  from: string;
  /** true when the data was already in place. */
  present: boolean;
}

function describeSource(source: DatasetSource, places: DataPlaces): string {
  switch (source.kind) {
    case "shared":
      return places.sharedDir ? joinPath(places.sharedDir, source.path) : `the lab's copy (${source.path})`;
    case "local":
      return source.path;
    case "download":
      return sourceUrls(source, places)?.[0] ?? `${source.files[0].file} (mirror only)`;
  }
}

/** The addresses a download source is fetched from: the mirror's when one is set, else the official ones. */
function sourceUrls(
  source: Extract<DatasetSource, { kind: "download" }>,
  places: DataPlaces,
): string[] | null {
  if (places.mirror) return source.files.map((f) => `${places.mirror}/${f.file}`);
  if (!source.url) return null;
  if (source.archive) return [source.url];
  const base = source.url.endsWith("/") ? source.url : `${source.url}/`;
  return source.files.map((f) => base + f.file);
}

/**
 * Makes `entry` present: returns at once when it is installed (unless force), else tries its sources in order
 * and returns the first that delivers a verified build. Every failed source is logged in one line; when all
 * fail, the error lists them and how to give the data by hand.
 */
export async function fetchDataset(
  entry: DatasetEntry,
  places: DataPlaces,
  opts: FetchOptions = {},
): Promise<Fetched> {
  const log = opts.log ?? ((line: string) => console.error(line));
  if (!opts.force) {
    const at = await installedRoot(entry, places);
    if (at) {
      const state = await stateAt(entry, places, at);
      return {
        root: at.root,
        build: state.status === "verified" ? state.build : at.source.build,
        from: state.status === "verified" ? state.from : describeSource(at.source, places),
        present: true,
      };
    }
  }
  if (entry.sources.length === 0) {
    throw new DataAbsentError(
      entry.name,
      `--data-path DIR (${entry.name} cannot be downloaded: ${entry.homepage})`,
      `${entry.name}: not downloadable; ${entry.obtain ?? "pass --data-path DIR"}`,
    );
  }
  const failures: SourceFailure[] = [];
  for (const source of entry.sources) {
    if (opts.localOnly && source.kind === "download") continue;
    const what = describeSource(source, places);
    try {
      const got = await fetchFromSource(entry, source, places, opts, log);
      if (got) return got;
    } catch (e) {
      const why = errorMessage(e).split("\n")[0];
      failures.push({ source: what, why });
      log(`${entry.name}: ${why}`);
    }
  }
  if (opts.localOnly) {
    // A local source that failed (a refused build) says why; nothing there at all is plain absence.
    if (failures.length) throw new Error(failures.map((f) => f.why).join("; "));
    throw new DataAbsentError(
      entry.name,
      fetchCommand(entry),
      `${entry.name} is not on this machine: fetch it with \`deno task data fetch ${entry.name}\`` +
        `${sizeNote(entry)}, or add --fetch`,
    );
  }
  const tried = failures.length
    ? ` (${failures.length} source${failures.length === 1 ? "" : "s"} failed)`
    : "";
  throw new DataAbsentError(
    entry.name,
    fetchCommand(entry),
    `${entry.name}: no source could deliver it${tried}; give the data by hand: put it in ${
      joinPath(places.dataDir, entry.folder ?? entry.name)
    } or pass ` +
      `--data-path DIR (${entry.layout}); or set ALEXNET_DATA_MIRROR to a mirror holding ` +
      entry.sources.flatMap((s) => s.kind === "download" ? s.files.map((f) => f.file) : []).join(", "),
  );
}

/** One source: null when it does not apply here (no lab copy, no package, no address); throws when it fails. */
async function fetchFromSource(
  entry: DatasetEntry,
  source: DatasetSource,
  places: DataPlaces,
  opts: FetchOptions,
  log: (line: string) => void,
): Promise<Fetched | null> {
  const what = describeSource(source, places);
  if (source.kind === "local") {
    const root = await findRoot(entry, source.path);
    if (!root) return null;
    const { build } = await verifyDataset(entry, root, places, source.path);
    if (!build) throw new Error(`${source.path} holds no known build of ${entry.name}`);
    return { root, build: build.name, from: what, present: false };
  }
  if (source.kind === "shared") {
    const script = source.script ? opts.prepareScript ?? null : null;
    if (!places.sharedDir && !script) return null;
    const path = script ?? joinPath(places.sharedDir!, source.path);
    if (!(await exists(path))) return null;
    const folder = sourceFolder(entry, source, places)!;
    if (source.script) {
      const dir = dirname(folder);
      await buildCifar10(path, dir, joinPath(dir, CIFAR10_MARKER_FILE), log);
    } else {
      log(`${entry.name}: unpacking ${path} to ${folder}`);
      await extractTarGz(path, folder);
    }
    const root = await findRoot(entry, folder);
    if (!root) throw new Error(`${path} did not give ${entry.layout}`);
    const { build } = await verifyDataset(entry, root, places, path);
    const known = entry.builds.find((b) => b.name === source.build);
    if (known?.content && !build) {
      throw new Error(
        `${path} gave data that is no known build of ${entry.name}; ${folder} holds it, unverified`,
      );
    }
    return { root, build: build?.name ?? source.build, from: path, present: false };
  }
  const urls = sourceUrls(source, places);
  if (!urls) return null;
  log(`${entry.name}: fetching from ${what}`);
  return source.archive
    ? await fetchArchive(entry, source, source.files[0], urls[0], places, log)
    : await fetchFiles(entry, source, urls, places, log);
}

/** "sha-256 c4a38c50a1bc..." for what the registry expects of a file. */
function expected(file: SourceFile): string {
  return [file.sha256 ? `sha-256 ${file.sha256}` : "", file.md5 ? `md5 ${file.md5}` : ""].filter(Boolean)
    .join(", ");
}

function digestMatches(file: SourceFile, got: { sha256: string; md5: string }): boolean {
  return (!file.sha256 || file.sha256 === got.sha256) && (!file.md5 || file.md5 === got.md5);
}

async function download(
  entry: DatasetEntry,
  file: SourceFile,
  url: string,
  places: DataPlaces,
  log: (line: string) => void,
): Promise<{ part: string; got: { sha256: string; md5: string } }> {
  await Deno.mkdir(places.downloadsDir, { recursive: true });
  const part = joinPath(places.downloadsDir, `${file.file}.part`);
  await downloadToPart({ url, partPath: part, label: `${entry.name}: ${file.file}`, bytes: file.bytes, log });
  return { part, got: await fileDigests(part, ["sha256", "md5"]) };
}

async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch(() => {});
}

/** Moves `from` to `to`; an older copy at `to` (a forced fetch) is moved aside first and removed after. */
async function putInPlace(from: string, to: string): Promise<void> {
  await Deno.mkdir(dirname(to), { recursive: true });
  const old = (await exists(to)) ? tempSibling(to) : null;
  if (old) await Deno.rename(to, old);
  try {
    await Deno.rename(from, to);
  } catch (e) {
    if (old) await Deno.rename(old, to);
    throw e;
  }
  if (old) await removeQuietly(old);
}

async function fetchArchive(
  entry: DatasetEntry,
  source: Extract<DatasetSource, { kind: "download" }>,
  file: SourceFile,
  url: string,
  places: DataPlaces,
  log: (line: string) => void,
): Promise<Fetched> {
  const { part, got } = await download(entry, file, url, places, log);
  const digestOk = digestMatches(file, got);
  const work = joinPath(places.dataDir, `.unpack-${entry.name}-${crypto.randomUUID().slice(0, 8)}`);
  const mismatch = `${url}: expected ${expected(file)}, got sha-256 ${got.sha256} (md5 ${got.md5})`;
  try {
    try {
      await extractTarGz(part, work);
    } catch (e) {
      throw new Error(
        digestOk
          ? `${url}: cannot unpack: ${errorMessage(e)}`
          : `${mismatch}, and it does not unpack; refused`,
      );
    }
    const root = await findRoot(entry, work);
    if (!root) {
      throw new Error(`${url}: ${digestOk ? "" : `${mismatch}; `}the archive holds no ${entry.layout}`);
    }
    const content = await contentChecksum(entry, root).catch((e) => {
      throw new Error(`${url}: ${digestOk ? "" : `${mismatch}; `}${errorMessage(e)}`);
    });
    const build = buildOfContent(entry, content);
    const stated = entry.builds.find((b) => b.name === source.build);
    if (!digestOk && !build) {
      throw new Error(`${mismatch}, and its content (checksum ${content}) is no known build; refused`);
    }
    if (digestOk && stated?.content && content !== stated.content && !build) {
      throw new Error(
        `${url}: the archive matches but its content (checksum ${content}) is not ${stated.name}`,
      );
    }
    const buildName = build?.name ?? source.build;
    if (!digestOk) {
      log(`${entry.name}: ${url} is not the ${source.build} archive, but its content is ${buildName}`);
    }
    const dest = source.folder
      ? joinPath(places.dataDir, source.folder)
      : joinPath(places.dataDir, entry.folder!);
    // With the source's own folder the whole archive goes there as it is; else its root takes the dataset's.
    await putInPlace(source.folder ? work : root, dest);
    const finalRoot = (await findRoot(entry, dest))!;
    await writeMarker(places, {
      dataset: entry.name,
      root: finalRoot,
      build: buildName,
      content,
      identity: await folderIdentity(finalRoot),
      from: url,
      verifiedAt: new Date().toISOString(),
    });
    log(`${entry.name}: ${buildName} build verified and in place at ${finalRoot}`);
    return { root: finalRoot, build: buildName, from: url, present: false };
  } finally {
    await removeQuietly(work);
    // A verified archive has been unpacked and a refused one must not linger: either way it goes.
    await removeQuietly(part);
  }
}

async function fetchFiles(
  entry: DatasetEntry,
  source: Extract<DatasetSource, { kind: "download" }>,
  urls: string[],
  places: DataPlaces,
  log: (line: string) => void,
): Promise<Fetched> {
  const work = joinPath(places.dataDir, `.fetch-${entry.name}-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.mkdir(work, { recursive: true });
  try {
    for (const [i, file] of source.files.entries()) {
      const { part, got } = await download(entry, file, urls[i], places, log);
      if (!digestMatches(file, got)) {
        await removeQuietly(part);
        throw new Error(
          `${urls[i]}: expected ${expected(file)}, got sha-256 ${got.sha256} (md5 ${got.md5}); refused`,
        );
      }
      await Deno.rename(part, joinPath(work, file.file));
    }
    const content = await contentChecksum(entry, work);
    const build = buildOfContent(entry, content)?.name ?? source.build;
    const dest = joinPath(places.dataDir, source.folder ?? entry.folder!);
    await putInPlace(work, dest);
    await writeMarker(places, {
      dataset: entry.name,
      root: dest,
      build,
      content,
      identity: await folderIdentity(dest),
      from: urls[0],
      verifiedAt: new Date().toISOString(),
    });
    log(`${entry.name}: ${build} build verified and in place at ${dest}`);
    return { root: dest, build, from: urls[0], present: false };
  } finally {
    await removeQuietly(work);
  }
}

/** Reads the registry once per process (the commands and stages all ask). */
let registryPromise: Promise<Registry> | undefined;
export function registry(): Promise<Registry> {
  registryPromise ??= loadRegistry();
  registryPromise.catch(() => (registryPromise = undefined));
  return registryPromise;
}

/** The registry's entry for a dataset name. */
export async function datasetEntry(name: string): Promise<DatasetEntry> {
  return findDataset(await registry(), name);
}

export type { DownloadError };
