// The data side of a run: opening the dataset a DataConfig names, the fixed subsets and validation split, and
// the preprocessing statistics (mean, RGB PCA) computed once from the training images.

import {
  computeChannelMean,
  computeMeanImage,
  computeRgbPca,
  type Dataset,
  type DataVerification,
  type ImageSet,
  openDataset,
  type RgbPca,
  selectImageSet,
  sliceImageSet,
} from "../data/index.ts";
import type { AugmentConfig, DataConfig } from "./types.ts";

export interface TrainingData {
  name: string;
  classes: string[];
  train: ImageSet;
  /** The held-out last `validation` training images, when asked for. */
  val?: ImageSet;
  test: ImageSet;
  checksum: string;
  /** What the source was checked against (CIFAR-10's known builds), for the checkpoint's provenance. */
  verification?: DataVerification;
}

const KINDS = ["cifar10", "fashion-mnist", "image-folder", "imagenette"];

/** Image geometry a DataConfig implies before loading (models are built from it); null when unknown. */
export function storedGeometry(d: DataConfig): { channels: number; size: number; classes: number | null } {
  switch (d.kind) {
    case "cifar10":
      return { channels: 3, size: 32, classes: 10 };
    case "fashion-mnist":
      return { channels: 1, size: 28, classes: 10 };
    case "imagenette":
      return { channels: 3, size: d.size ?? 256, classes: 10 };
    case "image-folder":
      return { channels: 3, size: d.size ?? 256, classes: null };
    default:
      throw new Error(`data.kind: expected one of ${KINDS.join(", ")}, got ${JSON.stringify(d.kind)}`);
  }
}

/**
 * The first `n` images of `set` taken class by class in turn (stored order within each class), returned in
 * stored order: a fixed subset with (nearly) equal class counts, the same every time.
 */
export function balancedSubset(set: ImageSet, n: number): ImageSet {
  if (n >= set.count) return set;
  const byClass: number[][] = set.classes.map(() => []);
  for (let i = 0; i < set.count; i++) byClass[set.labels[i]].push(i);
  const chosen: number[] = [];
  for (let round = 0; chosen.length < n; round++) {
    let any = false;
    for (const list of byClass) {
      if (round < list.length && chosen.length < n) {
        chosen.push(list[round]);
        any = true;
      }
    }
    if (!any) break;
  }
  chosen.sort((a, b) => a - b);
  return selectImageSet(set, chosen);
}

function positiveInt(v: unknown, field: string): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) > 0)) {
    throw new Error(`${field}: expected a positive whole number, got ${JSON.stringify(v)}`);
  }
}

export function validateDataConfig(d: DataConfig, where = "data"): void {
  if (!KINDS.includes(d.kind)) {
    throw new Error(`${where}.kind: expected one of ${KINDS.join(", ")}, got ${JSON.stringify(d.kind)}`);
  }
  positiveInt(d.size, `${where}.size`);
  positiveInt(d.limitTrain, `${where}.limitTrain`);
  positiveInt(d.limitTest, `${where}.limitTest`);
  positiveInt(d.validation, `${where}.validation`);
  if (d.path !== undefined && typeof d.path !== "string") throw new Error(`${where}.path: expected a string`);
  if (d.allowUnknownData !== undefined && typeof d.allowUnknownData !== "boolean") {
    throw new Error(`${where}.allowUnknownData: expected true or false`);
  }
}

/**
 * Opens the data a run trains on. The validation split is the last `validation` images of the full training
 * set; `limitTrain` then takes a balanced subset of the rest and `limitTest` one of the test set.
 */
export async function loadTrainingData(d: DataConfig, preloaded?: Dataset): Promise<TrainingData> {
  validateDataConfig(d);
  const ds = preloaded ??
    await openDataset({ kind: d.kind, path: d.path, size: d.size, allowUnknownData: d.allowUnknownData });
  let train = ds.train;
  let val: ImageSet | undefined;
  if (d.validation) {
    if (d.validation >= train.count) {
      throw new Error(
        `data.validation: ${d.validation} held-out images leave none of the ${train.count} training images`,
      );
    }
    val = sliceImageSet(train, train.count - d.validation);
    train = sliceImageSet(train, 0, train.count - d.validation);
  }
  if (d.limitTrain) train = balancedSubset(train, d.limitTrain);
  const test = d.limitTest ? balancedSubset(ds.test, d.limitTest) : ds.test;
  return {
    name: ds.name,
    classes: ds.train.classes,
    train,
    val,
    test,
    checksum: ds.checksum,
    ...(ds.verification ? { verification: ds.verification } : {}),
  };
}

/** What the network's input pipeline needs, derived from the training images and the AugmentConfig. */
export interface Preprocessing {
  /** The mean as a checkpoint stores it: [C*H*W] for "image", [C] for "channel", null for "none". */
  mean: Float32Array | null;
  /** The mean expanded to a full image (raw 0-255 units), as BatchLoader and the eval crops subtract it. */
  meanImage: Float32Array | null;
  pca: RgbPca | null;
}

export function computePreprocessing(train: ImageSet, a: AugmentConfig): Preprocessing {
  const mean = a.mean === "image"
    ? computeMeanImage(train)
    : a.mean === "channel"
    ? computeChannelMean(train)
    : null;
  const pca = a.pcaNoise > 0 ? computeRgbPca(train, { scale: a.scale }) : null;
  return { mean, meanImage: expandMean(mean, a.mean, train), pca };
}

/** A stored mean ([C*H*W] or [C]) as a mean image of `set`'s geometry; errors name `source`. */
export function expandMean(
  mean: Float32Array | null | undefined,
  kind: AugmentConfig["mean"],
  set: { channels: number; height: number; width: number },
  source = "mean",
): Float32Array | null {
  if (kind === "none" || !mean) return null;
  const plane = set.height * set.width;
  if (kind === "image") {
    if (mean.length !== set.channels * plane) {
      throw new Error(
        `${source}: mean image has ${mean.length} values, the images are ${set.channels}x${set.height}x${set.width}`,
      );
    }
    return mean;
  }
  if (mean.length !== set.channels) {
    throw new Error(`${source}: channel mean has ${mean.length} values for ${set.channels} channels`);
  }
  const out = new Float32Array(set.channels * plane);
  for (let c = 0; c < set.channels; c++) out.fill(mean[c], c * plane, (c + 1) * plane);
  return out;
}
