/** openDataset: one entry point that finds (or builds) a dataset's files in their default places. */
import type { Dataset } from "./types.ts";
import { CIFAR10_URL, type Cifar10Dataset, downloadCifar10, loadCifar10 } from "./cifar10.ts";
import { FASHION_MNIST_DIR, loadFashionMnist } from "./fashion_mnist.ts";
import { type ImageFolderDataset, type ImageFolderOptions, loadImageFolder } from "./image_folder.ts";
import { extractTarGz } from "./tar.ts";
import { basename, defaultCacheDir, dirname, exists, isDirectory, joinPath, PROJECT_ROOT } from "./util.ts";

/** The read-only shared data next to the project (see ../shared/data/README.md). */
export const SHARED_DATA_DIR = joinPath(dirname(PROJECT_ROOT), "shared", "data");
export const CIFAR10_PREPARE_SCRIPT = joinPath(SHARED_DATA_DIR, "cifar10", "prepare.sh");
export const IMAGENETTE_ARCHIVE = joinPath(SHARED_DATA_DIR, "imagenette", "imagenette2-224.tar.gz");

export interface DatasetSpec extends Omit<ImageFolderOptions, "cacheDir"> {
  /** "imagenette" is "image-folder" with the shared Imagenette archive as its default path. */
  kind: "cifar10" | "fashion-mnist" | "image-folder" | "imagenette";
  /**
   * cifar10: folder with cifar-10-batches-bin/ or cifar-10-binary.tar.gz (default <cache>/data, built there with
   * the shared prepare.sh when missing). fashion-mnist: folder of the IDX files (default
   * /usr/share/datasets/fashion-mnist). image-folder: root with train/ and val/, or a .tar.gz holding one
   * (default: the shared Imagenette archive, extracted into <cache>/data).
   */
  path?: string;
  /** Default defaultCacheDir() (<project>/.cache or $ALEXNET_CACHE_DIR). */
  cacheDir?: string;
  /** cifar10: when nothing is found locally, fetch the official archive (170 MB, sha-256 checked). */
  download?: boolean;
}

async function openCifar10(spec: DatasetSpec, cache: string): Promise<Cifar10Dataset> {
  if (spec.path) return loadCifar10(spec.path);
  const dir = joinPath(cache, "data");
  const log = spec.log ?? ((m: string) => console.error(m));
  if (await exists(joinPath(dir, "cifar-10-batches-bin", "test_batch.bin"))) return loadCifar10(dir);
  if (await exists(joinPath(dir, "cifar-10-binary.tar.gz"))) {
    return loadCifar10(joinPath(dir, "cifar-10-binary.tar.gz"));
  }
  if (await exists(CIFAR10_PREPARE_SCRIPT)) {
    log(`cifar10: building ${dir}/cifar-10-batches-bin with ${CIFAR10_PREPARE_SCRIPT} (needs node and npm)`);
    const out = await new Deno.Command("bash", {
      args: [CIFAR10_PREPARE_SCRIPT, dir],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
      throw new Error(`cifar10: ${CIFAR10_PREPARE_SCRIPT} failed (exit ${out.code}):\n${err}`);
    }
    return loadCifar10(dir);
  }
  if (spec.download) {
    const { path } = await downloadCifar10({ cacheDir: dir });
    return loadCifar10(path);
  }
  throw new Error(
    `cifar10: no data in ${dir} and no ${CIFAR10_PREPARE_SCRIPT} to build it. Pass path: a folder holding ` +
      `cifar-10-batches-bin/ or cifar-10-binary.tar.gz, or download: true to fetch ${CIFAR10_URL} (170 MB)`,
  );
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
