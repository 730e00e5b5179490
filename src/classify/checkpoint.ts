// Checkpoints as classifiers: header peeking (cheap listing), loading with errors that say what is wrong with
// the file, and the checks that the stored preprocessing fits the model. No Deno APIs: the browser uses it too.

import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  decodeCheckpoint,
  preprocessStd,
} from "../io/checkpoint.ts";

/** Parses a safetensors header (the file's first 8 + n bytes) and returns its metadata map. */
export function safetensorsMetadata(bytes: Uint8Array, source: string): Record<string, string> {
  if (bytes.length < 8) {
    throw new Error(`${source}: not a checkpoint (${bytes.length} bytes: too short for a safetensors file)`);
  }
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (length <= 1 || length > 100 * 2 ** 20 || bytes[8] !== 0x7b /* { */) {
    throw new Error(`${source}: not a checkpoint (not a safetensors file: no JSON header at the start)`);
  }
  if (8 + length > bytes.length) {
    throw new Error(`${source}: not a complete checkpoint (the header runs past the end: truncated?)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  } catch (e) {
    throw new Error(`${source}: not a checkpoint (safetensors header is not JSON: ${(e as Error).message})`);
  }
  const meta = header.__metadata__;
  return meta && typeof meta === "object" ? meta as Record<string, string> : {};
}

/** The checkpoint's metadata from its header alone (for listing files without reading the weights). */
export function peekCheckpointMeta(headerBytes: Uint8Array, source: string): CheckpointMeta {
  const metadata = safetensorsMetadata(headerBytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT || !metadata.meta) {
    throw new Error(
      `${source}: a safetensors file but not an alexnet-webgpu checkpoint (metadata format "${
        metadata.format ?? "none"
      }"), so its class names and preprocessing are unknown; pass a checkpoint written by training, or convert ` +
        `a PyTorch state_dict of torchvision's AlexNet first: deno task model import ${source} --from torchvision`,
    );
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata.meta) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${source}: checkpoint metadata is not JSON (${(e as Error).message})`);
  }
  checkClassifierMeta(meta, source);
  return meta;
}

/** Everything classification relies on: class names, preprocessing that produces the model's input. */
export function checkClassifierMeta(meta: CheckpointMeta, source: string): void {
  const model = meta.model;
  if (!model || !Array.isArray(model.input) || !Array.isArray(model.layers)) {
    throw new Error(`${source}: checkpoint metadata has no model description`);
  }
  const [c, h, w] = model.input;
  if (!Array.isArray(meta.classes) || meta.classes.length !== model.classes) {
    throw new Error(
      `${source}: checkpoint lists ${
        meta.classes?.length ?? 0
      } class names for a ${model.classes}-class model`,
    );
  }
  const p = meta.preprocess;
  if (!p) throw new Error(`${source}: checkpoint metadata has no "preprocess" section`);
  if (p.channels !== c) {
    throw new Error(`${source}: preprocess gives ${p.channels} channels, model ${model.name} takes ${c}`);
  }
  if (p.channels !== 1 && p.channels !== 3) {
    throw new Error(`${source}: preprocess.channels is ${p.channels}; images give 1 (grey) or 3 (RGB)`);
  }
  if (p.crop !== h || p.crop !== w) {
    throw new Error(`${source}: preprocess crops ${p.crop}x${p.crop}, model ${model.name} takes ${w}x${h}`);
  }
  if (!(Number.isInteger(p.resize) && p.resize >= p.crop)) {
    throw new Error(`${source}: preprocess.resize ${p.resize} must be an integer >= crop ${p.crop}`);
  }
  if (!(typeof p.scale === "number" && Number.isFinite(p.scale))) {
    throw new Error(`${source}: preprocess.scale is not a number`);
  }
  if (!["image", "channel", "none"].includes(p.mean)) {
    throw new Error(`${source}: preprocess.mean "${p.mean}" is not image, channel or none`);
  }
  preprocessStd(p, source);
}

/** Mean values the preprocessing subtracts: C*R*R (image), C (channel) or none. */
export function checkMean(ckpt: Checkpoint, source: string): void {
  const p = ckpt.meta.preprocess;
  if (p.mean === "none") return;
  const want = p.mean === "image" ? p.channels * p.resize * p.resize : p.channels;
  if (!ckpt.mean) throw new Error(`${source}: preprocess subtracts a ${p.mean} mean, but the file has none`);
  if (ckpt.mean.length !== want) {
    throw new Error(`${source}: ${p.mean} mean has ${ckpt.mean.length} values, expected ${want}`);
  }
}

/**
 * Decodes and validates a checkpoint for classification. Errors name `source` and say what the file is
 * instead: not safetensors, plain weights without metadata, weights of another architecture, bad metadata.
 */
export function loadClassifierCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  peekCheckpointMeta(bytes, source);
  let ckpt: Checkpoint;
  try {
    ckpt = decodeCheckpoint(bytes, source);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(source) ? msg : `${source}: ${msg}`);
  }
  checkMean(ckpt, source);
  return ckpt;
}

/** One line describing a checkpoint: model, classes, data and training progress. */
export function describeCheckpoint(meta: CheckpointMeta): string {
  const prov = meta.provenance ?? {};
  const dataset = typeof prov.dataset === "string" ? prov.dataset : undefined;
  const p = meta.preprocess;
  const parts = [
    `model ${meta.model.name}`,
    `${meta.classes.length} classes`,
    ...(dataset ? [`trained on ${dataset}`] : []),
    `epoch ${meta.epoch}, step ${meta.step}`,
    `input ${p.channels === 1 ? "grey" : "RGB"} ${p.resize}px -> ${p.crop}x${p.crop}, mean ${p.mean}`,
  ];
  return parts.join(", ");
}
