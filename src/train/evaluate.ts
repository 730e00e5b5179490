// Test-time evaluation: top-1/top-5 error with a single centre crop, or the paper's 10-view averaging of the
// softmax (section 4.1: four corners and the centre, and their mirrors).

import type { Gpu } from "../gpu/runtime.ts";
import { Network } from "../nn/network.ts";
import { centerCropBatch, type ImageSet, openDataset, tenCropBatch } from "../data/index.ts";
import { type Checkpoint, checkWeightsFit, loadCheckpoint, preprocessStd } from "../io/checkpoint.ts";
import { divideByStd } from "../classify/preprocess.ts";
import { expandMean, loadTrainingData } from "./data.ts";
import type { DataConfig } from "./types.ts";

export interface EvalOptions {
  /** Side of the views the network sees. */
  crop: number;
  /** Mean image (stored size, raw 0-255 units) subtracted before cropping; null for none. */
  meanImage: Float32Array | null;
  /** Multiplies 0-255 pixels (after mean subtraction, which is linear so the order does not matter). */
  scale: number;
  /** Per-channel divisors after the scale (a checkpoint's preprocess.std, torchvision's); none when absent. */
  std?: readonly number[] | null;
  tenCrop: boolean;
  /** Network inputs per forward pass (views, so about batchSize/10 images with tenCrop). Default 128. */
  batchSize?: number;
  /** Only the first N images (the numerics probe evaluates one batch); default all. */
  limit?: number;
  /** Sees each image's (view-averaged) class probabilities and label, in order. */
  observe?: (probs: Float64Array, label: number) => void;
}

export interface EvalResult {
  top1Error: number;
  top5Error: number;
  /** Mean cross-entropy of the (averaged) softmax. */
  loss: number;
  images: number;
}

/**
 * Adds one image's class scores to the running counts. `probs` are probabilities (or logits for top-k);
 * a sample is top-k correct when fewer than k classes score strictly higher than its label (conventions.md).
 */
function score(probs: Float64Array, label: number, acc: { loss: number; top1: number; top5: number }) {
  const p = probs[label];
  let higher = 0;
  for (let c = 0; c < probs.length; c++) if (probs[c] > p) higher++;
  if (higher < 1) acc.top1++;
  if (higher < 5) acc.top5++;
  acc.loss -= Math.log(Math.max(p, 1e-30));
}

/** Softmax in float64 of row `r` of padded logits [rows][ld] into `out` (classes values). */
function softmaxRow(logits: Float32Array, r: number, ld: number, out: Float64Array): void {
  const base = r * ld;
  let max = -Infinity;
  for (let c = 0; c < out.length; c++) max = Math.max(max, logits[base + c]);
  let sum = 0;
  for (let c = 0; c < out.length; c++) sum += out[c] = Math.exp(logits[base + c] - max);
  for (let c = 0; c < out.length; c++) out[c] /= sum;
}

/**
 * Evaluates `net` (inference mode: dropout is the identity) on every image of `set`. The next batch is built on
 * the CPU while the GPU runs the current one.
 */
export async function evaluateSet(net: Network, set: ImageSet, o: EvalOptions): Promise<EvalResult> {
  const gpu = net.gpu;
  const classes = net.spec.classes;
  const [c, h, w] = net.spec.input;
  if (c !== set.channels || h !== o.crop || w !== o.crop) {
    throw new Error(
      `evaluation: model ${net.spec.name} takes ${c}x${h}x${w} input, the data gives ${set.channels}-channel ` +
        `${o.crop}x${o.crop} crops of ${set.width}x${set.height} images`,
    );
  }
  const views = o.tenCrop ? 10 : 1;
  const perBatch = Math.max(1, Math.floor((o.batchSize ?? 128) / views));
  const eo = { crop: o.crop, mean: o.meanImage, scale: o.scale };
  const build = (start: number, n: number) => {
    const batch = o.tenCrop ? tenCropBatch(set, start, n, eo) : centerCropBatch(set, start, n, eo);
    if (o.std) divideByStd(batch.x, o.std, h * w);
    return batch;
  };
  const acc = { loss: 0, top1: 0, top5: 0 };
  const probs = new Float64Array(classes), view = new Float64Array(classes);
  const count = Math.min(set.count, o.limit ?? set.count);
  let next = count > 0 ? build(0, Math.min(perBatch, count)) : null;
  for (let start = 0; next && next.n > 0; start += perBatch) {
    const batch = next;
    const x = gpu.fromArray([batch.n * views, c, h, w], batch.x, "eval-input");
    const logits = net.forward(x, { training: false });
    const reading = logits.read();
    x.release();
    // Prepare the following batch while the GPU works on this one.
    const following = start + perBatch;
    next = following < count ? build(following, Math.min(perBatch, count - following)) : null;
    const out = await reading;
    logits.release();
    const ld = net.classesP;
    for (let i = 0; i < batch.n; i++) {
      if (views === 1) softmaxRow(out, i, ld, probs);
      else {
        probs.fill(0);
        for (let v = 0; v < views; v++) {
          softmaxRow(out, i * views + v, ld, view);
          for (let k = 0; k < classes; k++) probs[k] += view[k] / views;
        }
      }
      score(probs, batch.labels[i], acc);
      o.observe?.(probs, batch.labels[i]);
    }
  }
  const n = Math.max(1, count);
  return { top1Error: 1 - acc.top1 / n, top5Error: 1 - acc.top5 / n, loss: acc.loss / n, images: count };
}

export interface EvaluateOptions {
  tenCrop?: boolean;
  /** "test" (default) or "val" (the held-out last data.validation training images). */
  split?: "test" | "val";
  batchSize?: number;
  /** The checkpoint at checkpointPath, when the caller has already loaded it. */
  loaded?: Checkpoint;
}

export interface EvaluateResult extends EvalResult {
  split: "test" | "val";
  tenCrop: boolean;
  checkpoint: string;
  model: string;
  dataset: string;
}

/**
 * Loads a checkpoint and measures its top-1/top-5 error on a split of `data`, preprocessing images exactly as
 * training did (the checkpoint's crop, scale and stored mean).
 */
export async function evaluate(
  gpu: Gpu,
  checkpointPath: string,
  data: DataConfig,
  opts: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const split = opts.split ?? "test";
  if (split !== "test" && split !== "val") throw new Error(`split: expected "test" or "val", got "${split}"`);
  const ckpt = opts.loaded ?? await loadCheckpoint(checkpointPath);
  const { meta } = ckpt;
  // A validation split is defined by how the run was trained: reuse its size unless told otherwise.
  const trained = (meta.trainState?.config as { data?: DataConfig } | undefined)?.data;
  const dataConfig: DataConfig = split === "val" && !data.validation && trained?.validation
    ? { ...data, validation: trained.validation }
    : data;
  if (split === "val" && !dataConfig.validation) {
    throw new Error(
      `${checkpointPath}: no validation split: the run held out none; pass the number of held-out images ` +
        `(data.validation / --validation N)`,
    );
  }
  // The test split of an image folder is decoded alone: a training set (ImageNet's 1.28M images) is not needed.
  const testOnly = split === "test" && (data.kind === "image-folder" || data.kind === "imagenette");
  const d = testOnly
    ? await loadTrainingData(
      { ...dataConfig, validation: undefined, limitTrain: undefined },
      await openDataset({ kind: data.kind, path: data.path, size: data.size, testOnly: true }),
    )
    : await loadTrainingData(dataConfig);
  const set = split === "val" ? d.val! : d.test;
  const pre = meta.preprocess;
  if (set.channels !== pre.channels || set.height !== pre.resize || set.width !== pre.resize) {
    throw new Error(
      `${checkpointPath}: the model was trained on ${pre.channels}x${pre.resize}x${pre.resize} images, ` +
        `${d.name} has ${set.channels}x${set.height}x${set.width}`,
    );
  }
  if (meta.classes.length !== d.classes.length) {
    throw new Error(
      `${checkpointPath}: the model has ${meta.classes.length} classes, ${d.name} has ${d.classes.length}`,
    );
  }
  checkWeightsFit(meta.model, ckpt.weights, checkpointPath);
  const net = new Network(gpu, meta.model, meta.seed);
  try {
    net.loadWeights(ckpt.weights);
    const r = await evaluateSet(net, set, {
      crop: pre.crop,
      scale: pre.scale,
      std: preprocessStd(pre, checkpointPath),
      meanImage: expandMean(ckpt.mean, pre.mean, set, checkpointPath),
      tenCrop: opts.tenCrop ?? false,
      batchSize: opts.batchSize,
    });
    return {
      ...r,
      split,
      tenCrop: opts.tenCrop ?? false,
      checkpoint: checkpointPath,
      model: meta.model.name,
      dataset: d.name,
    };
  } finally {
    net.destroy();
  }
}
