// Running a checkpoint for the evaluation and figure stages: load a train stage's (checking it is the one the
// stage reported) and rebuild the data split it was trained and tested on, or load one given by path (an
// imported torchvision model) with a dataset stage's data; then run batches forward, preprocessed as the
// checkpoint says (its per-channel std included).

import { join } from "@std/path";
import { centerCropBatch, type ImageSet } from "../data/index.ts";
import type { Gpu } from "../gpu/runtime.ts";
import { type Checkpoint, CHECKPOINT_FORMAT, loadCheckpoint, preprocessStd } from "../io/checkpoint.ts";
import { divideByStd } from "../classify/preprocess.ts";
import { Network } from "../nn/network.ts";
import type { ModelSpec } from "../nn/spec.ts";
import { computePreprocessing, expandMean, loadTrainingData, type TrainingData } from "../train/data.ts";
import { initialValues } from "../nn/init.ts";
import { dataConfig, DATASET_KIND, type DatasetParams, toSource } from "./dataset.ts";
import { type TrainParams, trainSetup } from "./train.ts";
import type { DataConfig } from "../train/types.ts";
import type { StageContext, StageResult } from "../pipeline/types.ts";
import { sharedDataset, sharedGpu } from "./resources.ts";
import { fileSha256 } from "./util.ts";
import { sha256File } from "../data/util.ts";

export interface LoadedRun {
  gpu: Gpu;
  ckpt: Checkpoint;
  path: string;
  data: TrainingData;
  /** The training run's DataConfig (limits, validation split), from the checkpoint. */
  dataConfig: DataConfig;
  meanImage: Float32Array | null;
}

/** Loads the checkpoint a train stage produced and the data it was trained on (shared, loaded once). */
export async function loadTrainedRun(
  resources: Map<string, unknown>,
  trainResult: StageResult,
  overrides: Partial<DataConfig> = {},
): Promise<LoadedRun> {
  const outputs = trainResult.outputs;
  if (outputs.skipped) throw new Error(`${trainResult.id} did not train (${outputs.reason})`);
  if (typeof outputs.checkpoint !== "string") throw new Error(`${trainResult.id} reports no checkpoint`);
  const path = join(trainResult.outDir, outputs.checkpoint);
  const sha = await fileSha256(path);
  if (!sha) {
    throw new Error(`${path} is missing: rerun the training with --force ${trainResult.stage}`);
  }
  if (outputs.checkpoint_sha256 && sha !== outputs.checkpoint_sha256) {
    throw new Error(
      `${path} changed since ${trainResult.id} finished (sha-256 ${sha.slice(0, 12)}, expected ` +
        `${String(outputs.checkpoint_sha256).slice(0, 12)}): rerun it with --force ${trainResult.stage}`,
    );
  }
  const ckpt = await loadCheckpoint(path);
  const trained = (ckpt.meta.trainState?.config as { data?: DataConfig } | undefined)?.data;
  if (!trained) throw new Error(`${path}: holds no training configuration`);
  const dataConfig: DataConfig = { ...trained, ...overrides };
  const dataset = await sharedDataset(resources, {
    kind: dataConfig.kind,
    path: dataConfig.path ?? "",
    size: dataConfig.size ?? 0,
  });
  const data = await loadTrainingData(dataConfig, dataset);
  const pre = ckpt.meta.preprocess;
  const meanImage = expandMean(ckpt.mean, pre.mean, data.train, path);
  return { gpu: await sharedGpu(resources), ckpt, path, data, dataConfig, meanImage };
}

/**
 * Loads a checkpoint given by path (an imported torchvision model, say) with the data of a dataset stage: the
 * checkpoint says how to present images (its preprocess, with a per-channel std where it has one), the dataset
 * stage which images. Refuses a checkpoint whose stored size, channels or classes do not fit the data.
 */
export async function loadCheckpointRun(
  resources: Map<string, unknown>,
  dataStage: StageResult,
  path: string,
  overrides: Partial<DataConfig> = {},
): Promise<LoadedRun> {
  const ckpt = await loadCheckpoint(path);
  const params = dataStage.params as unknown as DatasetParams;
  const config: DataConfig = { ...dataConfig(params), ...overrides };
  const dataset = await sharedDataset(resources, toSource(params));
  const data = await loadTrainingData(config, dataset);
  const pre = ckpt.meta.preprocess;
  const { channels, height, width } = data.test;
  if (channels !== pre.channels || height !== pre.resize || width !== pre.resize) {
    throw new Error(
      `${path}: the model takes ${pre.channels}-channel images stored at ${pre.resize}x${pre.resize}, ` +
        `${dataStage.id} gives ${channels}x${height}x${width} (set its size to ${pre.resize})`,
    );
  }
  if (ckpt.meta.classes.length !== data.classes.length) {
    throw new Error(
      `${path}: the model has ${ckpt.meta.classes.length} classes, ${dataStage.id} has ${data.classes.length}`,
    );
  }
  const meanImage = expandMean(ckpt.mean, pre.mean, data.test, path);
  return { gpu: await sharedGpu(resources), ckpt, path, data, dataConfig: config, meanImage };
}

/**
 * The sha-256 of a checkpoint file, "" when there is none; hashed once per process and file state (the runner
 * asks before every decision, and a checkpoint is hundreds of megabytes).
 */
export async function checkpointChecksum(resources: Map<string, unknown>, path: string): Promise<string> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
  const key = `reproduce:checkpoint:${path}:${stat.size}:${stat.mtime?.getTime() ?? 0}`;
  let hashing = resources.get(key) as Promise<string> | undefined;
  if (!hashing) {
    hashing = sha256File(path);
    resources.set(key, hashing);
  }
  return hashing;
}

/** The per-channel divisors a run's checkpoint applies after the scale (torchvision's std), or null. */
export function inputStd(run: LoadedRun): number[] | null {
  return preprocessStd(run.ckpt.meta.preprocess, run.path);
}

/**
 * What a figure or evaluation stage probes with (docs/caching.md): the trained run's model, data and
 * preprocessing, rebuilt from the train stage's parameters, with its initial weights in place of the trained
 * ones, which a fresh clone does not have (checkpoints are not committed). `overrides` shrink the data to what a
 * probe needs.
 */
export async function standInRun(
  ctx: Pick<StageContext<unknown>, "run" | "seed" | "resources" | "outDir" | "resuming">,
  trainResult: StageResult,
  overrides: Partial<DataConfig> = {},
): Promise<LoadedRun> {
  const datasets = [...ctx.run.completed.values()].filter((r) => r.kind === DATASET_KIND);
  if (datasets.length !== 1) {
    throw new Error(`expected one dataset stage in the pipeline to probe with, found ${datasets.length}`);
  }
  const setup = await trainSetup({
    seed: ctx.seed,
    resources: ctx.resources,
    outDir: ctx.outDir,
    resuming: false,
    params: trainResult.params as unknown as TrainParams,
    inputs: { [datasets[0].stage]: datasets[0] },
    matrix: trainResult.matrix,
  });
  if (!setup) throw new Error(`${trainResult.id} has no data to probe with`);
  const { config, dataset } = setup;
  const full = await loadTrainingData(config.data, dataset);
  const pre = computePreprocessing(full.train, config.augment);
  const dataConfig: DataConfig = { ...config.data, ...overrides };
  const data = await loadTrainingData(dataConfig, dataset);
  const ckpt: Checkpoint = {
    meta: {
      format: CHECKPOINT_FORMAT,
      model: config.model,
      classes: data.classes,
      step: 0,
      epoch: 0,
      seed: config.seed,
      preprocess: {
        resize: data.train.height,
        crop: config.augment.crop,
        scale: config.augment.scale,
        mean: config.augment.mean,
        channels: data.train.channels,
      },
      trainState: { config: { ...config, outDir: "" } },
    },
    weights: initialValues(config.model, config.seed),
    ...(pre.mean ? { mean: pre.mean } : {}),
  };
  return {
    gpu: await sharedGpu(ctx.resources),
    ckpt,
    path: `initial weights of ${trainResult.id}`,
    data,
    dataConfig,
    meanImage: pre.meanImage,
  };
}

export function buildNetwork(run: LoadedRun): Network {
  const net = new Network(run.gpu, run.ckpt.meta.model, run.ckpt.meta.seed);
  net.loadWeights(run.ckpt.weights);
  return net;
}

/**
 * The layer whose output serves as an image's feature vector for Figure 4: the activation after the
 * penultimate fully connected layer (fc7 in AlexNet); without a hidden fc layer, the input of the classifier.
 */
export function featureLayer(spec: ModelSpec): { index: number; name: string } {
  const fcs = spec.layers.map((l, i) => ({ l, i })).filter(({ l }) => l.type === "fc");
  const classifier = fcs[fcs.length - 1];
  const hidden = fcs.length >= 2 ? fcs[fcs.length - 2] : undefined;
  if (!hidden) {
    const index = classifier.i - 1;
    return { index, name: `input of ${(classifier.l as { name: string }).name}` };
  }
  const next = spec.layers[hidden.i + 1];
  const name = (hidden.l as { name: string }).name;
  if (next && (next.type === "relu" || next.type === "tanh")) {
    return { index: hidden.i + 1, name: `${name} after ${next.type}` };
  }
  return { index: hidden.i, name };
}

export interface ForwardOptions {
  batch?: number;
  /** What to read: the class probabilities (softmax of the logits) or the activation of a layer. */
  layer?: number;
}

/** Centre-crop forward passes over `indices` of `set`; rows of `dim` floats (classes, or the layer's size). */
export async function forwardRows(
  net: Network,
  run: LoadedRun,
  set: ImageSet,
  indices: number[],
  options: ForwardOptions = {},
): Promise<{ rows: Float32Array; dim: number }> {
  const pre = run.ckpt.meta.preprocess;
  const std = inputStd(run);
  const [c, h, w] = net.spec.input;
  const batch = options.batch ?? 64;
  let dim = 0;
  let rows = new Float32Array(0);
  for (let start = 0; start < indices.length; start += batch) {
    const chunk = indices.slice(start, start + batch);
    const x = new Float32Array(chunk.length * c * h * w);
    chunk.forEach((index, k) => {
      const one = centerCropBatch(set, index, 1, { crop: pre.crop, mean: run.meanImage, scale: pre.scale });
      if (std) divideByStd(one.x, std, h * w);
      x.set(one.x, k * c * h * w);
    });
    const input = run.gpu.fromArray([chunk.length, c, h, w], x, "inference-input");
    const out = options.layer === undefined
      ? net.forward(input, { training: false })
      : net.forwardUntil(input, options.layer);
    const values = await out.read();
    const stride = out.size / chunk.length;
    if (out !== input) out.release();
    input.release();
    const width = options.layer === undefined ? net.spec.classes : featureWidth(net, options.layer);
    if (dim === 0) {
      dim = width;
      rows = new Float32Array(indices.length * dim);
    }
    for (let k = 0; k < chunk.length; k++) {
      const row = values.subarray(k * stride, k * stride + dim);
      if (options.layer === undefined) softmaxInto(row, rows, (start + k) * dim);
      else rows.set(row, (start + k) * dim);
    }
  }
  return { rows, dim };
}

/** Logical feature count of a layer's output (fc outputs are padded to a multiple of 4 on the GPU). */
function featureWidth(net: Network, layer: number): number {
  return net.layers[layer].layer.outShape.reduce((a, b) => a * b, 1);
}

function softmaxInto(logits: Float32Array, out: Float32Array, offset: number): void {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[offset + i] = Math.exp(logits[i] - max);
  for (let i = 0; i < logits.length; i++) out[offset + i] /= sum;
}
