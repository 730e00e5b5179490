// A randomly initialised checkpoint in the real format, for testing the classify plumbing (CLI, GUI) before
// a trained model exists. Its predictions mean nothing.

import { type Checkpoint, CHECKPOINT_FORMAT, type Preprocess } from "../io/checkpoint.ts";
import { initialValues } from "../nn/init.ts";
import { resolveModel } from "../nn/spec.ts";
import type { ModelSpec } from "../nn/spec.ts";
import { buildModel } from "../models/index.ts";

export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

export interface RandomCheckpointOptions {
  model?: ModelSpec;
  classes?: string[];
  preprocess?: Partial<Preprocess>;
  seed?: number;
  /**
   * Multiplies the last layer's weights: random nets give nearly uniform probabilities, which makes top-K
   * orders fragile to rounding; a spread keeps them well separated.
   */
  sharpen?: number;
}

export function randomCheckpoint(o: RandomCheckpointOptions = {}): Checkpoint {
  const model = o.model ?? buildModel("cifar-alexnet");
  const classes = o.classes ??
    (model.classes === 10 ? CIFAR10_CLASSES : [...Array(model.classes)].map((_, i) => `class ${i}`));
  const [channels, crop] = model.input;
  const preprocess: Preprocess = {
    resize: crop,
    crop,
    scale: 1 / 255,
    mean: "channel",
    channels,
    ...o.preprocess,
  };
  const seed = o.seed ?? 7;
  const weights = initialValues(model, seed);
  const last = resolveModel(model).filter((l) => l.params.length > 0).at(-1)!;
  const w = weights.get(last.params[0].name)!;
  for (let i = 0; i < w.length; i++) w[i] *= o.sharpen ?? 1;
  let mean: Float32Array | undefined;
  if (preprocess.mean === "channel") mean = Float32Array.from([125.3, 123.0, 113.9].slice(0, channels));
  if (preprocess.mean === "image") {
    const plane = preprocess.resize * preprocess.resize;
    mean = new Float32Array(channels * plane);
    for (let i = 0; i < mean.length; i++) mean[i] = 100 + 40 * Math.sin(i / plane + (i % plane) / 97);
  }
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      model,
      classes,
      step: 0,
      epoch: 0,
      seed,
      preprocess,
      provenance: { dataset: "none (random initialisation)" },
    },
    weights,
    mean,
  };
}
