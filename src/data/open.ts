/** openDataset: one entry point that finds (or builds) a dataset's files in their default places. */
import type { Dataset } from "./types.ts";
import { type Cifar10Dataset, openVerifiedCifar10 } from "./cifar10.ts";
import { CIFAR10_MARKER_FILE } from "./cifar10_build.ts";
import { dataPlaces, datasetEntry, DEFAULT_SHARED_DATA_DIR, fetchDataset } from "./datasets.ts";
import { FASHION_MNIST_DIR, loadFashionMnist } from "./fashion_mnist.ts";
import { type ImageFolderDataset, type ImageFolderOptions, loadImageFolder } from "./image_folder.ts";
import { extractTarGz } from "./tar.ts";
import { basename, defaultCacheDir, errorMessage, exists, isDirectory, joinPath } from "./util.ts";

/** The read-only shared data next to the project (see ../shared/data/README.md), when it is there. */
export const SHARED_DATA_DIR: string = DEFAULT_SHARED_DATA_DIR;

/** What openDataset opens: a kind, where its files are, and for image folders loadImageFolder's options. */
export interface DatasetSpec extends Omit<ImageFolderOptions, "cacheDir"> {
  /** "imagenette" is "image-folder" with the shared Imagenette archive as its default path. */
  kind: "cifar10" | "fashion-mnist" | "image-folder" | "imagenette";
  /**
   * cifar10: folder with cifar-10-batches-bin/ or cifar-10-binary.tar.gz (default <cache>/data, built there with
   * the shared prepare.sh when missing, in a temporary folder renamed into place once verified). fashion-mnist: folder of the IDX files (default
   * /usr/share/datasets/fashion-mnist). image-folder: root with train/ and val/, or a .tar.gz holding one
   * (default: the shared Imagenette archive, extracted into <cache>/data).
   */
  path?: string;
  /** Default defaultCacheDir() (<project>/.cache or $ALEXNET_CACHE_DIR). */
  cacheDir?: string;
  /**
   * Without path, data that is not on this machine is fetched from the registry's sources (datasets/registry.yaml)
   * when true; else the open fails with a DataAbsentError naming `deno task data fetch NAME`. Sources that need
   * no network (the lab's copy, a Debian package) are used either way.
   */
  fetch?: boolean;
  /**
   * cifar10: the .bin files are compared with the known builds (the official release, the shared JPEG rebuild)
   * on every open, and data matching neither is refused; true uses it anyway (`verification` says so).
   */
  allowUnknownData?: boolean;
  /** cifar10: the script that builds the default copy (default the lab's prepare.sh; tests pass a stand-in). */
  prepareScript?: string;
}

export { buildCifar10, CIFAR10_MARKER_FILE } from "./cifar10_build.ts";

async function openCifar10(spec: DatasetSpec, cache: string): Promise<Cifar10Dataset> {
  const dir = joinPath(cache, "data");
  const verify = { markerFile: joinPath(dir, CIFAR10_MARKER_FILE), allowUnknownData: spec.allowUnknownData };
  if (spec.path) return openVerifiedCifar10(spec.path, verify);
  const source = await ensureCifar10({ ...spec, cacheDir: cache });
  // The default copy is checked on every open too; a bad one is refused, saying how to replace it.
  return openVerifiedCifar10(source, verify).catch((e) => {
    throw new Error(
      `${
        errorMessage(e)
      }. Remove ${source} to have it built again (or fetched: deno task data fetch cifar10 --force)`,
    );
  });
}

/**
 * The default copy of a registry dataset: its root folder under <cache>/data (or a Debian package's folder),
 * put there from the first source that delivers (src/data/datasets.ts). Without `fetch`, only sources that need
 * no network are used and absent data is a DataAbsentError naming the fetch command.
 */
export async function ensureDataset(
  name: string,
  spec: Pick<DatasetSpec, "cacheDir" | "prepareScript" | "fetch" | "log"> = {},
): Promise<string> {
  const log = spec.log ?? ((m: string) => console.error(m));
  const places = dataPlaces(spec.cacheDir ?? defaultCacheDir());
  const entry = await datasetEntry(name);
  const fetched = await fetchDataset(entry, places, {
    log,
    localOnly: !spec.fetch,
    prepareScript: spec.prepareScript,
  });
  return fetched.root;
}

/**
 * Before a command opens `kind` from its default place: makes sure it is here (fetching it when `fetch`), so a
 * missing dataset stops the command at once with the one line that says how to get it.
 */
export async function ensureDefaultData(
  kind: DatasetSpec["kind"],
  path: string | undefined,
  fetch: boolean,
): Promise<void> {
  if (path || kind === "image-folder") return;
  await ensureDataset(kind, { fetch });
}

/** The default CIFAR-10 copy (see ensureDataset): the folder holding the six .bin files. */
export function ensureCifar10(
  spec: Pick<DatasetSpec, "cacheDir" | "prepareScript" | "fetch" | "log"> = {},
): Promise<string> {
  return ensureDataset("cifar10", spec);
}

/** Finds the folder with train/ in an extracted archive (the archive's root or its single top folder). */
async function findImageRoot(dir: string): Promise<string> {
  if (await isDirectory(joinPath(dir, "train"))) return dir;
  const subs: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isDirectory && !e.name.startsWith(".")) subs.push(e.name);
  for (const s of subs.sort()) if (await isDirectory(joinPath(dir, s, "train"))) return joinPath(dir, s);
  throw new Error(`image-folder: no train/ folder in ${dir} or its subfolders`);
}

async function openImageFolder(spec: DatasetSpec, cache: string): Promise<ImageFolderDataset> {
  if (!spec.path && spec.kind === "imagenette") {
    const root = await ensureDataset("imagenette", { ...spec, cacheDir: cache });
    return loadImageFolder(root, { ...spec, cacheDir: cache, name: spec.name ?? basename(root) });
  }
  const path = spec.path;
  if (!path) {
    throw new Error(
      "image-folder: no path given. Pass a folder with train/<class>/*.jpg and val/<class>/*.jpg (or a .tar.gz " +
        "of one); kind imagenette means the registry's Imagenette",
    );
  }
  let root = path;
  if (/\.(tar\.gz|tgz|tar)$/i.test(path)) {
    if (!(await exists(path))) throw new Error(`image-folder: archive ${path} does not exist`);
    const dest = joinPath(cache, "data", basename(path).replace(/\.(tar\.gz|tgz|tar)$/i, ""));
    const log = spec.log ?? ((m: string) => console.error(m));
    if (!(await exists(dest))) log(`image-folder: extracting ${path} to ${dest}`);
    await extractTarGz(path, dest);
    root = await findImageRoot(dest);
  } else if (!(await isDirectory(path))) {
    throw new Error(
      `image-folder: ${path} is not a folder (expected train/<class>/ and val/<class>/ inside)`,
    );
  }
  return loadImageFolder(root, { ...spec, cacheDir: cache, name: spec.name ?? basename(root) });
}

/**
 * Opens a dataset by kind, resolving default locations; errors say what to install or which path to pass.
 * Image-folder options (size, maxPerClass, onBadImage, workers, ...) pass through to loadImageFolder.
 */
export async function openDataset(spec: DatasetSpec): Promise<Dataset> {
  const cache = spec.cacheDir ?? defaultCacheDir();
  switch (spec.kind) {
    case "cifar10":
      return openCifar10(spec, cache);
    case "fashion-mnist": {
      if (!spec.path) {
        return loadFashionMnist(await ensureDataset("fashion-mnist", { ...spec, cacheDir: cache }));
      }
      if (!(await isDirectory(spec.path))) {
        throw new Error(
          `fashion-mnist: ${spec.path} does not exist. Install the data with \`apt-get install -y ` +
            `dataset-fashion-mnist\` (fills ${FASHION_MNIST_DIR}) or pass path: the folder with the four IDX files`,
        );
      }
      return loadFashionMnist(spec.path);
    }
    case "image-folder":
    case "imagenette":
      return openImageFolder(spec, cache);
    default:
      throw new Error(`openDataset: unknown kind ${(spec as { kind: string }).kind}`);
  }
}
