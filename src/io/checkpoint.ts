// Checkpoints: safetensors files whose tensors are the model's parameters (PyTorch names and layouts,
// "<layer>.weight"/"<layer>.bias"), optionally the optimizer's momentum ("optimizer.momentum.<name>") and the
// preprocessing mean ("preprocess.mean"), with a JSON metadata header describing everything needed to resume
// or to classify: the model spec, class names, step, seed, data order, preprocessing and provenance.

import { architectureKey, type ModelSpec, resolveModel } from "../nn/spec.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { readWholeFile } from "./read_file.ts";

/** Marks an alexnet-webgpu checkpoint: its safetensors metadata's `format`, and CheckpointMeta.format. */
export const CHECKPOINT_FORMAT = "alexnet-webgpu-checkpoint/1";

/** How images become network input for a checkpoint's model. */
export interface Preprocess {
  /** Short side the image is resized to before the centre crop (classify); equals `crop` for stored data. */
  resize: number;
  /** Side of the square the network sees. */
  crop: number;
  /** Multiplies 0-255 pixel values (1/255 gives [0, 1]). */
  scale: number;
  /** "image": a mean image [C][H][W] at `resize` size is subtracted before cropping; "channel": [C]; "none". */
  mean: "image" | "channel" | "none";
  /** Channels of the input image: 3 for RGB, 1 for Fashion-MNIST. */
  channels: number;
  /**
   * One divisor per channel after `scale`, as torchvision's Normalize divides by its std: input =
   * (pixel - mean) x scale / std[c]. Absent (the checkpoints trained here): 1 for every channel.
   */
  std?: number[];
}

/**
 * A preprocessing's per-channel std, checked: null when it has none, else one positive finite number per
 * channel. Throws naming `source` otherwise.
 */
export function preprocessStd(pre: Preprocess, source: string): number[] | null {
  if (pre.std === undefined) return null;
  if (
    !Array.isArray(pre.std) || pre.std.length !== pre.channels ||
    !pre.std.every((s) => typeof s === "number" && Number.isFinite(s) && s > 0)
  ) {
    throw new Error(
      `${source}: preprocess.std ${
        JSON.stringify(pre.std)
      } is not ${pre.channels} positive numbers (one a channel)`,
    );
  }
  return pre.std;
}

/** A checkpoint's metadata, stored as JSON in the "meta" entry of the safetensors header. */
export interface CheckpointMeta {
  /** Always CHECKPOINT_FORMAT. */
  format: string;
  /** The architecture the weights belong to. */
  model: ModelSpec;
  /** Class names, indexed by the model's output. */
  classes: string[];
  /** SGD steps taken. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** The training run's seed (initialisation, data order, augmentation, dropout). */
  seed: number;
  /** How to turn an image into this model's input. */
  preprocess: Preprocess;
  /** Free-form training state needed to resume (optimizer hyper-parameters, schedule, data loader state). */
  trainState?: Record<string, unknown>;
  /** Where the weights came from: dataset, metrics, adapter, commit. */
  provenance?: Record<string, unknown>;
}

/** A checkpoint in memory: metadata, weights, and optionally the SGD momentum and the preprocessing mean. */
export interface Checkpoint {
  /** Everything but the tensors. */
  meta: CheckpointMeta;
  /** Parameters by name ("<layer>.weight", "<layer>.bias") in logical (PyTorch) layouts. */
  weights: Map<string, Float32Array>;
  /** SGD momentum by parameter name, for resuming training. */
  momentum?: Map<string, Float32Array>;
  /**
   * The mean preprocess.mean describes: an image [C][H][W] or one value per channel [C], in raw 0-255 units.
   */
  mean?: Float32Array;
}

const MOMENTUM = "optimizer.momentum.";

/**
 * Serialises a checkpoint as safetensors bytes: the model's parameters, momentum and mean when present, and
 * the metadata as JSON. Throws when a parameter of the model is missing.
 */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const shapes = new Map<string, number[]>();
  for (const layer of resolveModel(ckpt.meta.model)) {
    for (const p of layer.params) shapes.set(p.name, p.shape);
  }
  const tensors = new Map<string, NamedTensor>();
  for (const [name, shape] of shapes) {
    const data = ckpt.weights.get(name);
    if (!data) throw new Error(`checkpoint: missing weights for "${name}"`);
    tensors.set(name, { shape, data });
    const m = ckpt.momentum?.get(name);
    if (m) tensors.set(MOMENTUM + name, { shape, data: m });
  }
  if (ckpt.mean) tensors.set("preprocess.mean", { shape: [ckpt.mean.length], data: ckpt.mean });
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    meta: JSON.stringify(ckpt.meta),
    architecture: architectureKey(ckpt.meta.model),
  });
}

/**
 * Parses checkpoint bytes; throws naming `source` when they are not an alexnet-webgpu checkpoint or the
 * weights do not fit its model.
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const file = decodeSafetensors(bytes, source);
  if (file.metadata.format !== CHECKPOINT_FORMAT || !file.metadata.meta) {
    throw new Error(
      `${source}: not an alexnet-webgpu checkpoint (metadata format "${file.metadata.format ?? "none"}"); ` +
        `\`deno task classify --model\` and \`deno task evaluate --checkpoint\` take the checkpoints that ` +
        `\`deno task train\` writes; plain safetensors weights (a torchvision state_dict) have no class names ` +
        `or preprocessing: convert them with \`deno task model import ${source} --from torchvision\``,
    );
  }
  const meta = JSON.parse(file.metadata.meta) as CheckpointMeta;
  const weights = new Map<string, Float32Array>();
  const momentum = new Map<string, Float32Array>();
  let mean: Float32Array | undefined;
  for (const [name, t] of file.tensors) {
    if (name.startsWith(MOMENTUM)) momentum.set(name.slice(MOMENTUM.length), t.data);
    else if (name === "preprocess.mean") mean = t.data;
    else weights.set(name, t.data);
  }
  checkWeightsFit(meta.model, weights, source);
  return { meta, weights, momentum: momentum.size ? momentum : undefined, mean };
}

/** Throws a message naming the first parameter that is missing, extra or of the wrong shape. */
export function checkWeightsFit(spec: ModelSpec, weights: Map<string, Float32Array>, source: string): void {
  const expected = new Map<string, number[]>();
  for (const layer of resolveModel(spec)) for (const p of layer.params) expected.set(p.name, p.shape);
  for (const [name, shape] of expected) {
    const w = weights.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`${source}: model ${spec.name} needs "${name}" [${shape}], which the file lacks`);
    if (w.length !== n) {
      throw new Error(
        `${source}: "${name}" has ${w.length} values, model ${spec.name} expects [${shape}] = ${n}`,
      );
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw new Error(`${source}: "${name}" is not a parameter of model ${spec.name}`);
  }
}

/** Fails clearly when a checkpoint was trained for another architecture than the one asked for. */
export function checkSameArchitecture(expected: ModelSpec, found: ModelSpec, source: string): void {
  const a = architectureKey(expected).split("|"), b = architectureKey(found).split("|");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      throw new Error(
        `${source}: checkpoint holds model "${found.name}", which differs from "${expected.name}" at layer ${
          i + 1
        }: ` +
          `${b[i] ?? "(none)"} vs ${a[i] ?? "(none)"}`,
      );
    }
  }
}

/**
 * Writes atomically (temporary file, then rename) so a killed run never leaves a half-written checkpoint. When
 * the write or the rename fails (a full disk), the partial temporary file is removed and the error rethrown.
 */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  const bytes = encodeCheckpoint(ckpt);
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Reads and decodes a checkpoint file; throws when it cannot be read or is not a valid checkpoint. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read checkpoint (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, path);
}
