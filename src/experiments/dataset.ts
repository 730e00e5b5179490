// `kind: dataset`: names the data a pipeline trains on, loads it once per process (ctx.resources) and reports
// its checksum, so every stage downstream is keyed to the exact data.

import { defineStageKind, type StageResult } from "../pipeline/types.ts";
import { digest } from "../train/probe.ts";
import { sha256 } from "../pipeline/hash.ts";
import type { DataConfig } from "../train/types.ts";
import { loadTrainingData } from "../train/data.ts";
import { datasetAvailable, datasetChecksum, type DataSource, sharedDataset } from "./resources.ts";
import { datasetEntry } from "../data/datasets.ts";
import { ensureDefaultData } from "../data/open.ts";
import { buildOfContent } from "../data/registry.ts";

export interface DatasetParams {
  kind: DataSource["kind"];
  path: string;
  size: number;
  limit_train: number;
  limit_test: number;
  validation: number;
  optional: boolean;
  needs_text: string;
}

export const DATASET_KIND = "dataset";

export const datasetStageKind = defineStageKind<DatasetParams>({
  name: DATASET_KIND,
  description: "Opens (and prepares) a dataset once per run and reports its checksum",
  params: {
    kind: {
      type: "enum",
      values: ["cifar10", "fashion-mnist", "imagenette", "image-folder"],
      required: true,
      doc: "which data: cifar10, fashion-mnist, imagenette (the shared archive) or image-folder (path)",
    },
    path: { type: "string", default: "", doc: "data location; empty = the default place for the kind" },
    size: {
      type: "integer",
      default: 0,
      min: 0,
      doc: "image folders: stored side (short side resized, centre crop); 0 = 256",
    },
    limit_train: {
      type: "integer",
      default: 0,
      min: 0,
      doc: "balanced subset of N training images; 0 = all",
    },
    limit_test: { type: "integer", default: 0, min: 0, doc: "balanced subset of N test images; 0 = all" },
    validation: { type: "integer", default: 0, min: 0, doc: "hold out the last N training images" },
    optional: {
      type: "boolean",
      default: false,
      doc: "missing data is not an error: the stage reports it unavailable and dependants skip their work",
    },
    needs_text: {
      type: "string",
      default: "",
      doc: "what to tell the reader when optional data is missing (how to get it, how to pass it)",
    },
  },
  async fingerprint(ctx) {
    // The decoded pixels and labels of every split, as the stages downstream see them: a change in decoding,
    // resizing, subsets or the validation split shows here even when the source files are unchanged.
    const source = toSource(ctx.params);
    if (
      !(await datasetAvailable(source)) &&
      (ctx.params.optional || !source.path && source.kind === "image-folder")
    ) {
      return { exact: { available: "no" }, measures: {} };
    }
    const data = await loadTrainingData(dataConfig(ctx.params), await sharedDataset(ctx.resources, source));
    const sets = { train: data.train, val: data.val, test: data.test };
    const exact: Record<string, string> = { classes: sha256(JSON.stringify(data.classes)) };
    for (const [name, set] of Object.entries(sets)) {
      if (set) exact[name] = digest(set.pixels) + digest(set.labels);
    }
    return { exact, measures: {} };
  },
  async datasetChecksums(params, { resources }) {
    const source = toSource(params);
    if (
      !(await datasetAvailable(source)) &&
      (params.optional || (source.kind === "image-folder" && !source.path))
    ) {
      return {};
    }
    return { [datasetName(source)]: await datasetChecksum(resources, source) };
  },
  async fetchMissing(params) {
    await ensureDefaultData(params.kind, params.path || undefined, true);
  },
  async describeDatasetChange(name, recorded, current) {
    const entry = await datasetEntry(name.split(":")[0]).catch(() => undefined);
    const build = (checksum: string | undefined) => {
      const known = entry && checksum ? buildOfContent(entry, checksum) : undefined;
      return known
        ? `build ${known.name}`
        : `an unknown build (checksum ${checksum?.slice(0, 12) ?? "none"})`;
    };
    return `${name}: recorded on ${build(recorded)}, here ${build(current)}`;
  },
  async run(ctx) {
    const source = toSource(ctx.params);
    if (ctx.params.optional && !(await datasetAvailable(source))) {
      const where = source.path
        ? source.path
        : source.kind === "image-folder"
        ? "no folder given (data.path is empty)"
        : "its default location";
      ctx.log(
        `no ${source.kind} data ${
          source.path || source.kind !== "image-folder" ? `at ${where}` : `(${where})`
        }: reporting it unavailable`,
      );
      return {
        available: false,
        kind: source.kind,
        path: source.path,
        reason: source.path || source.kind !== "image-folder" ? `no ${source.kind} data at ${where}` : where,
        needs: ctx.params.needs_text,
      };
    }
    if (source.kind === "image-folder" && !source.path) {
      throw new Error("kind image-folder needs path (kind imagenette means the shared Imagenette archive)");
    }
    const dataset = await sharedDataset(ctx.resources, source);
    const data = await loadTrainingData(dataConfig(ctx.params), dataset);
    const summary = {
      available: true,
      name: data.name,
      kind: source.kind,
      path: source.path,
      checksum: data.checksum,
      classes: data.classes,
      image: [data.train.channels, data.train.height, data.train.width],
      train_images: data.train.count,
      val_images: data.val?.count ?? 0,
      test_images: data.test.count,
      full_train_images: dataset.train.count,
      full_test_images: dataset.test.count,
      ...("variant" in dataset ? { variant: (dataset as { variant: string }).variant } : {}),
    };
    ctx.log(
      `${data.name}: ${summary.train_images} train / ${summary.test_images} test images of ` +
        `${summary.image.join("x")} (checksum ${data.checksum.slice(0, 12)})`,
    );
    return { ...summary, scale: describeData(summary) };
  },
});

/** Where a dataset stage's params say its data is (what sharedDataset opens). */
export function toSource(p: DatasetParams): DataSource {
  return { kind: p.kind, path: p.path, size: p.size };
}

function datasetName(source: DataSource): string {
  return source.path ? `${source.kind}:${source.path}` : source.kind;
}

/** The DataConfig (src/train/types.ts) the dataset stage's params describe. */
/**
 * Full sizes of the datasets the dataset kind opens by default, for estimates made before anything is opened
 * (counted from the data: CIFAR-10's 50,000/10,000, Fashion-MNIST's 60,000/10,000 and the shared Imagenette
 * archive's 9,469/3,925). A user's image folder has no known size.
 */
const FULL_SIZES: Record<
  string,
  { train: number; test: number; channels: number; side: number; classes: number }
> = {
  cifar10: { train: 50000, test: 10000, channels: 3, side: 32, classes: 10 },
  "fashion-mnist": { train: 60000, test: 10000, channels: 1, side: 28, classes: 10 },
  imagenette: { train: 9469, test: 3925, channels: 3, side: 256, classes: 10 },
};

/** The split sizes and image shape a dataset stage with these params would give, or undefined if unknown. */
export function plannedDataSizes(
  p: DatasetParams,
): { train: number; test: number; image: [number, number, number]; classes: number } | undefined {
  const full = FULL_SIZES[p.kind];
  if (!full || (p.path && p.kind !== "cifar10")) return undefined;
  const rest = full.train - (p.validation > 0 ? p.validation : 0);
  const side = p.kind === "imagenette" && p.size > 0 ? p.size : full.side;
  return {
    train: p.limit_train > 0 ? Math.min(p.limit_train, rest) : rest,
    test: p.limit_test > 0 ? Math.min(p.limit_test, full.test) : full.test,
    image: [full.channels, side, side],
    classes: full.classes,
  };
}

export function dataConfig(p: DatasetParams): DataConfig {
  return {
    kind: p.kind,
    ...(p.path ? { path: p.path } : {}),
    ...(p.size > 0 && (p.kind === "imagenette" || p.kind === "image-folder") ? { size: p.size } : {}),
    ...(p.limit_train > 0 ? { limitTrain: p.limit_train } : {}),
    ...(p.limit_test > 0 ? { limitTest: p.limit_test } : {}),
    ...(p.validation > 0 ? { validation: p.validation } : {}),
  };
}

export interface DatasetSummary {
  available: boolean;
  name?: string;
  kind: string;
  image?: number[];
  train_images?: number;
  test_images?: number;
  full_train_images?: number;
  full_test_images?: number;
  variant?: string;
  reason?: string;
  needs?: string;
}

const DATA_TITLES: Record<string, string> = {
  "cifar10": "CIFAR-10",
  "fashion-mnist": "Fashion-MNIST",
  "imagenette": "Imagenette",
  "image-folder": "image folder",
};

/** "CIFAR-10 (JPEG q75 copy), 5,000 of 50,000 train / 1,000 of 10,000 test images, 32x32". */
export function describeData(s: DatasetSummary): string {
  if (!s.available) return `no data (${s.reason ?? "unavailable"})`;
  const n = (x = 0) => x.toLocaleString("en-US");
  const of = (used = 0, full = 0) => (used < full ? `${n(used)} of ${n(full)}` : n(used));
  const variant = s.variant === "jpeg-q75" ? " (JPEG q75 copy)" : "";
  const [, h, w] = s.image ?? [];
  return `${DATA_TITLES[s.kind] ?? s.name}${variant}, ${of(s.train_images, s.full_train_images)} train / ` +
    `${of(s.test_images, s.full_test_images)} test images, stored ${w}x${h}`;
}

/** The one upstream dataset stage result of a stage (validateParams guarantees there is exactly one). */
export function upstreamDataset(inputs: Record<string, StageResult | StageResult[]>): StageResult {
  for (const input of Object.values(inputs)) {
    if (!Array.isArray(input) && input.kind === DATASET_KIND) return input;
  }
  throw new Error("this stage needs a dataset stage (kind: dataset) in its needs");
}

/** validateParams helper: a stage must need exactly one dataset stage. */
export function checkNeedsOneDataset(
  info: { needs: string[]; stages: Record<string, { kind: string; foreach: boolean }> },
  what: string,
) {
  const datasets = info.needs.filter((need) => info.stages[need]?.kind === DATASET_KIND);
  if (datasets.length === 1 && !info.stages[datasets[0]].foreach) return [];
  return [{
    path: [],
    message: datasets.length === 0
      ? `${what} needs a dataset stage (kind: dataset) in its needs`
      : datasets.length > 1
      ? `${what} needs exactly one dataset stage, got ${datasets.join(", ")}`
      : `${what}: the dataset stage "${datasets[0]}" must not be a matrix stage`,
    at: "key" as const,
  }];
}
