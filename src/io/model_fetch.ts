/**
 * `deno task model fetch NAME`: downloads a registry model's weights into a partial file under <cache>/downloads
 * (the dataset fetch's downloader: progress, resume after a cut or a killed run), accepts them only when their
 * sha-256 is the registry's, converts them into a checkpoint at <cache>/models/NAME.safetensors without Python,
 * and removes the download. A refused file leaves nothing behind: no partial file, no checkpoint.
 */
import { dataPlaces } from "../data/datasets.ts";
import { downloadToPart } from "../data/download.ts";
import { defaultCacheDir, joinPath, sha256File } from "../data/util.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { fetchedModelPath, fetchedModelsDir, fetchedPath } from "./fetched_models.ts";
import type { FetchableModel } from "./model_registry.ts";
import { importTorchvisionFile, loadClassNames } from "./torchvision.ts";
import { loadModelFile } from "../models/index.ts";

export interface ModelFetchOptions {
  /** Default $ALEXNET_CACHE_DIR or <project>/.cache. */
  cacheDir?: string;
  /** Fetch again although the checkpoint is here (the old one stays until the new one is written). */
  force?: boolean;
  log?: (line: string) => void;
}

export interface FetchedModel {
  path: string;
  /** true when the checkpoint was here already (nothing was fetched). */
  present: boolean;
  /** The address the weights came from (the mirror's when $ALEXNET_DATA_MIRROR is set). */
  from?: string;
  sha256?: string;
  checkpoint?: Checkpoint;
}

/** The one address the weights are fetched from: <mirror>/<file> when a mirror is set, else the registry's. */
export function modelUrl(entry: FetchableModel, mirror: string | null): string {
  return mirror ? `${mirror}/${entry.file}` : entry.url;
}

/** Why a downloaded file is not the registry's, or null when it is. */
export function digestProblem(entry: FetchableModel, sha256: string, bytes: number): string | null {
  if (entry.bytes !== undefined && bytes !== entry.bytes) {
    return `${bytes} bytes, expected ${entry.bytes} (sha-256 ${sha256})`;
  }
  if (entry.sha256.length === 64) {
    return sha256 === entry.sha256 ? null : `expected sha-256 ${entry.sha256}, got ${sha256}`;
  }
  // A prefix: what torchvision's own loader checks (the hex in the file name).
  return sha256.startsWith(entry.sha256)
    ? null
    : `expected a sha-256 starting with ${entry.sha256}, got ${sha256}`;
}

async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/** Downloads, checks and converts `entry`; returns at once when its checkpoint is here (unless force). */
export async function fetchModel(entry: FetchableModel, o: ModelFetchOptions = {}): Promise<FetchedModel> {
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const log = o.log ?? ((line: string) => console.error(line));
  const target = fetchedModelPath(entry.name, cacheDir);
  if (!o.force) {
    const here = await fetchedPath(entry, cacheDir);
    if (here) return { path: here, present: true };
  }
  // Before the download: a broken architecture or class file should not cost 244 MB first.
  const spec = await loadModelFile(entry.architecture);
  const classes = await loadClassNames(entry.classes);

  const places = dataPlaces(cacheDir);
  const url = modelUrl(entry, places.mirror);
  await Deno.mkdir(places.downloadsDir, { recursive: true });
  const part = joinPath(places.downloadsDir, `${entry.file}.part`);
  log(`${entry.name}: fetching ${url}`);
  // A DownloadError (one line naming the url) keeps the partial file for the next fetch to resume.
  const bytes = await downloadToPart({ url, partPath: part, label: `${entry.name}: ${entry.file}`, log });
  const sha256 = await sha256File(part);
  const problem = digestProblem(entry, sha256, bytes);
  if (problem) {
    await removeQuietly(part);
    throw new Error(`${url}: ${problem}; refused, nothing kept`);
  }
  log(`${entry.name}: sha-256 ${sha256} verified; converting`);
  try {
    await Deno.mkdir(fetchedModelsDir(cacheDir), { recursive: true });
    // Written to a temporary file and renamed: a failed conversion leaves no checkpoint, a forced refetch
    // replaces the old one only once the new one is whole.
    const checkpoint = await importTorchvisionFile(part, target, {
      spec,
      classes,
      classesSource: entry.classes,
      overwrite: true,
      provenance: {
        source: url,
        sha256,
        fetched: entry.name,
        converted: `deno task model fetch ${entry.name}`,
      },
    });
    return { path: target, present: false, from: url, sha256, checkpoint };
  } finally {
    // The checkpoint holds everything the download did; a file that would not convert is no use either.
    await removeQuietly(part);
  }
}
