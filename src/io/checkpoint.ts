// Checkpoints: safetensors files whose tensors are the model's parameters (PyTorch names and layouts,
// "<layer>.weight"/"<layer>.bias"), optionally the optimizer's momentum ("optimizer.momentum.<name>") and the
// preprocessing mean ("preprocess.mean"), with a JSON metadata header describing everything needed to resume
// or to classify: the model spec, class names, step, seed, data order, preprocessing and provenance.

import { architectureKey, type ModelSpec, resolveModel } from "../nn/spec.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";

export const CHECKPOINT_FORMAT = "alexnet-webgpu-checkpoint/1";

export interface Preprocess {
  /** Short side the image is resized to before the centre crop (classify); equals `crop` for stored data. */
  resize: number;
  /** Side of the square the network sees. */
  crop: number;
  /** Multiplies 0-255 pixel values (1/255 gives [0, 1]). */
  scale: number;
  /** "image": a mean image [C][H][W] at `resize` size is subtracted before cropping; "channel": [C]; "none". */
  mean: "image" | "channel" | "none";
  channels: number;
}

export interface CheckpointMeta {
  format: string;
  model: ModelSpec;
  classes: string[];
  step: number;
  epoch: number;
  seed: number;
  preprocess: Preprocess;
  /** Free-form training state needed to resume (optimizer hyper-parameters, schedule, data loader state). */
  trainState?: Record<string, unknown>;
  /** Where the weights came from: dataset, metrics, adapter, commit. */
  provenance?: Record<string, unknown>;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  weights: Map<string, Float32Array>;
  momentum?: Map<string, Float32Array>;
  mean?: Float32Array;
}

const MOMENTUM = "optimizer.momentum.";

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

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read checkpoint (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, path);
}
