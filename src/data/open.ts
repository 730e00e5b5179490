/** openDataset: one entry point that finds (or builds) a dataset's files in their default places. */
import type { Dataset } from "./types.ts";
import {
  CIFAR10_URL,
  type Cifar10Dataset,
  cifar10FolderDigests,
  cifar10Variant,
  describeCifar10Mismatch,
  downloadCifar10,
  openVerifiedCifar10,
  rememberCifar10Digests,
} from "./cifar10.ts";
import { FASHION_MNIST_DIR, loadFashionMnist } from "./fashion_mnist.ts";
import { type ImageFolderDataset, type ImageFolderOptions, loadImageFolder } from "./image_folder.ts";
import { extractTarGz } from "./tar.ts";
import {
  basename,
  defaultCacheDir,
  dirname,
  errorMessage,
  exists,
  isDirectory,
  joinPath,
  PROJECT_ROOT,
} from "./util.ts";

/** The read-only shared data next to the project (see ../shared/data/README.md). */
export const SHARED_DATA_DIR: string = joinPath(dirname(PROJECT_ROOT), "shared", "data");
/** The shared script that builds the default CIFAR-10 copy (see ensureCifar10 and buildCifar10). */
export const CIFAR10_PREPARE_SCRIPT: string = joinPath(SHARED_DATA_DIR, "cifar10", "prepare.sh");
/** The shared Imagenette archive: the default source of the "image-folder" and "imagenette" kinds. */
export const IMAGENETTE_ARCHIVE: string = joinPath(SHARED_DATA_DIR, "imagenette", "imagenette2-224.tar.gz");

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
  /** cifar10: when nothing is found locally, fetch the official archive (170 MB, sha-256 checked). */
  download?: boolean;
  /**
   * cifar10: the .bin files are compared with the known builds (the official release, the shared JPEG rebuild)
   * on every open, and data matching neither is refused; true uses it anyway (`verification` says so).
   */
  allowUnknownData?: boolean;
  /** cifar10: the script that builds the default copy (default the shared prepare.sh; tests pass a stand-in). */
  prepareScript?: string;
}

/** Remembers which CIFAR-10 sources were verified (see openVerifiedCifar10), in <cache>/data. */
export const CIFAR10_MARKER_FILE = "cifar10-verified.json";

async function openCifar10(spec: DatasetSpec, cache: string): Promise<Cifar10Dataset> {
  const dir = joinPath(cache, "data");
  const verify = { markerFile: joinPath(dir, CIFAR10_MARKER_FILE), allowUnknownData: spec.allowUnknownData };
  if (spec.path) return openVerifiedCifar10(spec.path, verify);
  const source = await ensureCifar10({ ...spec, cacheDir: cache });
  // The default copy is checked on every open too; a bad one is refused, saying how to replace it.
  const remedy = source === dir
    ? `Remove ${joinPath(dir, "cifar-10-batches-bin")} to have it built again`
    : `Remove ${source} to have it fetched again`;
  return openVerifiedCifar10(source, verify).catch((e) => {
    throw new Error(`${errorMessage(e)}. ${remedy}`);
  });
}

/**
 * The default CIFAR-10 copy: <cache>/data when it holds cifar-10-batches-bin/ (built there with the shared
 * prepare.sh, see buildCifar10, when nothing is there yet), or the archive <cache>/data/cifar-10-binary.tar.gz
 * (fetched with download: true). Returns the path to open; its content is verified when it is opened.
 */
export async function ensureCifar10(
  spec: Pick<DatasetSpec, "cacheDir" | "prepareScript" | "download" | "log"> = {},
): Promise<string> {
  const dir = joinPath(spec.cacheDir ?? defaultCacheDir(), "data");
  const log = spec.log ?? ((m: string) => console.error(m));
  const archive = joinPath(dir, "cifar-10-binary.tar.gz");
  if (await exists(joinPath(dir, "cifar-10-batches-bin"))) return dir;
  if (await exists(archive)) return archive;
  const script = spec.prepareScript ?? CIFAR10_PREPARE_SCRIPT;
  if (await exists(script)) {
    await buildCifar10(script, dir, joinPath(dir, CIFAR10_MARKER_FILE), log);
    return dir;
  }
  if (spec.download) return (await downloadCifar10({ cacheDir: dir })).path;
  throw new Error(
    `cifar10: no data in ${dir} and no ${script} to build it. Pass path: a folder holding ` +
      `cifar-10-batches-bin/ or cifar-10-binary.tar.gz, or download: true to fetch ${CIFAR10_URL} (170 MB)`,
  );
}

/**
 * Builds <dir>/cifar-10-batches-bin with `script` (the shared prepare.sh) in a temporary folder beside it, checks
 * the six files against the known builds, and only then renames the folder into place: a failed or refused
 * build leaves nothing that a later open could mistake for the data. Builds take turns (a lock file beside the
 * folder); when another process has built the folder meanwhile, it is kept (and verified on open like any other).
 */
export async function buildCifar10(
  script: string,
  dir: string,
  markerFile: string,
  log: (line: string) => void,
): Promise<void> {
  const bin = joinPath(dir, "cifar-10-batches-bin");
  await Deno.mkdir(dir, { recursive: true });
  // One build at a time (parallel test files, two commands): the others wait, then find the folder built.
  using lock = await Deno.open(joinPath(dir, ".cifar10-build.lock"), { write: true, create: true });
  await lock.lock(true);
  if (await exists(bin)) return;
  const work = await Deno.makeTempDir({ dir, prefix: ".cifar10-build-" });
  try {
    log(`cifar10: building ${bin} with ${script} (needs node and npm)`);
    const out = await new Deno.Command("bash", { args: [script, work], stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
      throw new Error(`cifar10: ${script} failed (exit ${out.code}); nothing was kept:\n${err}`);
    }
    const built = joinPath(work, "cifar-10-batches-bin");
    const digests = await cifar10FolderDigests(built);
    if (cifar10Variant(digests) === "unknown") {
      throw new Error(
        `cifar10: the data ${script} built is not a known CIFAR-10 build: ` +
          `${describeCifar10Mismatch(digests)}; nothing was kept`,
      );
    }
    try {
      await Deno.rename(built, bin);
    } catch (e) {
      // Another process put its (equally verified) build there first.
      if (!(await exists(joinPath(bin, "test_batch.bin")))) throw e;
      return;
    }
    await rememberCifar10Digests(markerFile, dir, digests);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
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
  let path = spec.path;
  if (!path) {
    if (!(await exists(IMAGENETTE_ARCHIVE))) {
      throw new Error(
        `image-folder: no path given and the default Imagenette archive ${IMAGENETTE_ARCHIVE} is missing. ` +
          `Pass path: a folder with train/<class>/*.jpg and val/<class>/*.jpg (or a .tar.gz of one)`,
      );
    }
    path = IMAGENETTE_ARCHIVE;
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
      const dir = spec.path ?? FASHION_MNIST_DIR;
      if (!(await isDirectory(dir))) {
        throw new Error(
          `fashion-mnist: ${dir} does not exist. Install the data with \`apt-get install -y ` +
            `dataset-fashion-mnist\` (fills ${FASHION_MNIST_DIR}) or pass path: the folder with the four IDX files`,
        );
      }
      return loadFashionMnist(dir);
    }
    case "image-folder":
    case "imagenette":
      return openImageFolder(spec, cache);
    default:
      throw new Error(`openDataset: unknown kind ${(spec as { kind: string }).kind}`);
  }
}
