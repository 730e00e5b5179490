// What the reproduce stages share within one process (through ctx.resources): one GPU device, datasets loaded
// once, and cheap dataset checksums (the runner asks for them before every decision, also on fully cached
// reruns, so they must not re-read gigabytes).

import { join } from "@std/path";
import { Gpu } from "../gpu/runtime.ts";
import { describeAdapter } from "../gpu/device.ts";
import { type Dataset, defaultCacheDir, openDataset } from "../data/index.ts";
import type { DatasetSpec } from "../data/open.ts";
import { dataPlaces, datasetEntry, installedRoot, localSource } from "../data/datasets.ts";
import { FETCH_INPUTS } from "../pipeline/types.ts";

const GPU_KEY = "reproduce:gpu";

/** The process's one Gpu: creating devices is slow on software adapters and each holds its own memory. */
export function sharedGpu(resources: Map<string, unknown>): Promise<Gpu> {
  let gpu = resources.get(GPU_KEY) as Promise<Gpu> | undefined;
  if (!gpu) {
    gpu = Gpu.create();
    resources.set(GPU_KEY, gpu);
  }
  return gpu;
}

export interface AdapterProbe {
  description: string;
  isSoftware: boolean;
}

/** Describes the adapter without creating a device when no stage has needed one yet (a cached rerun). */
export async function probeAdapter(resources: Map<string, unknown>): Promise<AdapterProbe> {
  const existing = resources.get(GPU_KEY) as Promise<Gpu> | undefined;
  if (existing) {
    const gpu = await existing;
    return { description: describe(gpu.adapter), isSoftware: gpu.isSoftware };
  }
  if (typeof navigator === "undefined" || !navigator.gpu) {
    return { description: "no WebGPU in this runtime", isSoftware: true };
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return { description: "no WebGPU adapter found", isSoftware: true };
  const report = describeAdapter(adapter);
  return { description: describe(report), isSoftware: report.isSoftware };
}

function describe(report: { description: string; vendor: string; backend: string; isSoftware: boolean }) {
  return `${report.description}${report.vendor ? ` (${report.vendor})` : ""}, backend ${report.backend}` +
    (report.isSoftware ? ", software" : "");
}

/** The dataset spec a pipeline gives (the dataset stage's params, normalised). */
export interface DataSource {
  kind: DatasetSpec["kind"];
  /** "" = the default location. */
  path: string;
  /** Stored size of image-folder images (short side, centre crop); 0 = the loader's default. */
  size: number;
}

export function datasetSpec(source: DataSource, fetch = false): DatasetSpec {
  return {
    kind: source.kind,
    ...(fetch ? { fetch } : {}),
    ...(source.path ? { path: source.path } : {}),
    ...(source.size > 0 && (source.kind === "imagenette" || source.kind === "image-folder")
      ? { size: source.size }
      : {}),
    log: (message: string) => console.error(message),
  };
}

const sourceKey = (source: DataSource) => `reproduce:dataset:${source.kind}:${source.path}:${source.size}`;

/** Loads a dataset once per process; matrix arms and later pipelines get the same object. */
export function sharedDataset(
  resources: Map<string, unknown>,
  source: DataSource,
  fetch = resources.get(FETCH_INPUTS) === true,
): Promise<Dataset> {
  const key = sourceKey(source);
  let loading = resources.get(key) as Promise<Dataset> | undefined;
  if (!loading) {
    loading = openDataset(datasetSpec(source, fetch));
    // A failed load must not poison later attempts in the same process.
    loading.catch(() => resources.delete(key));
    resources.set(key, loading);
  }
  return loading;
}

/** The registry's name of a default-location dataset kind. */
function registryName(source: DataSource): string | null {
  if (source.path) return null;
  return source.kind === "image-folder" ? null : source.kind;
}

/** The file or folder whose size and modification time stand for the dataset's content. */
async function sourceFiles(source: DataSource): Promise<string[] | null> {
  const name = registryName(source);
  let root: string;
  if (name) {
    const at = await installedRoot(await datasetEntry(name), dataPlaces(defaultCacheDir()));
    if (!at) return null;
    root = at.root;
  } else if (source.path) {
    root = source.path;
  } else {
    return null; // An image folder must be named: only kind imagenette means the registry's.
  }
  switch (source.kind) {
    case "cifar10": {
      for (const dir of [join(root, "cifar-10-batches-bin"), root]) {
        const files = ["data_batch_1.bin", "data_batch_5.bin", "test_batch.bin"].map((f) => join(dir, f));
        if (await statKey(files[0])) return files;
      }
      return (await statKey(root)) ? [root] : null;
    }
    case "fashion-mnist":
      return [root];
    case "imagenette":
    case "image-folder": {
      if (!(await statKey(root))) return null;
      const info = await Deno.stat(root);
      if (info.isFile) return [root];
      // A folder: its split folders' modification times change when classes are added or removed.
      const parts = [root];
      for (const split of ["train", "val", "test"]) {
        if (await statKey(join(root, split))) parts.push(join(root, split));
      }
      return parts;
    }
  }
}

async function statKey(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    return `${path}:${info.size}:${info.mtime?.getTime() ?? 0}`;
  } catch {
    return null;
  }
}

const CHECKSUM_FILE = "reproduce-dataset-checksums.json";

/**
 * The loader's checksum of a dataset, remembered in <cache>/reproduce-dataset-checksums.json under the source
 * files' sizes and modification times: a rerun stats a few files instead of hashing the data again. A miss
 * loads the dataset (which it is about to need anyway).
 */
export async function datasetChecksum(resources: Map<string, unknown>, source: DataSource): Promise<string> {
  const memo = resources.get(`${sourceKey(source)}:checksum`) as string | undefined;
  if (memo) return memo;
  const files = await sourceFiles(source);
  const stats = files ? await Promise.all(files.map(statKey)) : null;
  const key = stats && stats.every(Boolean) ? `${sourceKey(source)}|${stats.join("|")}` : null;
  const cacheFile = join(defaultCacheDir(), CHECKSUM_FILE);
  let table: Record<string, string> = {};
  try {
    table = JSON.parse(await Deno.readTextFile(cacheFile));
  } catch {
    // no table yet
  }
  let checksum = key ? table[key] : undefined;
  if (!checksum) {
    // Never fetched for a checksum: the runner fetches only what a stage's record cannot stand in for.
    checksum = (await sharedDataset(resources, source, false)).checksum;
    // The data may have just been built (CIFAR-10 from the shared JPEG copy): stat again for the key.
    const after = await sourceFiles(source);
    const afterStats = after ? await Promise.all(after.map(statKey)) : null;
    if (afterStats && afterStats.every(Boolean)) {
      table[`${sourceKey(source)}|${afterStats.join("|")}`] = checksum;
      await Deno.mkdir(defaultCacheDir(), { recursive: true });
      const tmp = `${cacheFile}.tmp-${Deno.pid}`;
      await Deno.writeTextFile(tmp, JSON.stringify(table, null, 1));
      await Deno.rename(tmp, cacheFile);
    }
  }
  resources.set(`${sourceKey(source)}:checksum`, checksum);
  return checksum;
}

/**
 * Whether the data is here or can be put here without the network (the lab's copy, a Debian package): what
 * optional datasets ask before they report themselves unavailable.
 */
export async function datasetAvailable(source: DataSource): Promise<boolean> {
  const name = registryName(source);
  if (name) {
    const entry = await datasetEntry(name);
    const places = dataPlaces(defaultCacheDir());
    return (await installedRoot(entry, places)) !== null || (await localSource(entry, places)) !== null;
  }
  const files = await sourceFiles(source);
  return files !== null && (await Promise.all(files.map(statKey))).every(Boolean);
}
