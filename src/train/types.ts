// The training contract shared by the trainer (src/train/trainer.ts), the CLI (src/cli/train.ts) and the
// pipeline stage kinds (src/experiments/). Everything here is plain data, so a run is described by a file.

import type { ModelSpec } from "../nn/spec.ts";

/** Which data to train on; resolved by src/data/open.ts (openDataset). */
export interface DataConfig {
  kind: "cifar10" | "fashion-mnist" | "image-folder" | "imagenette";
  path?: string;
  /** Image folders: stored side (short side resized, centre crop) before augmentation crops. */
  size?: number;
  /** Use only the first N training / test images (a fixed, class-balanced subset when possible). */
  limitTrain?: number;
  limitTest?: number;
  /** Hold out the last N training images as the validation split (the paper used a separate val set). */
  validation?: number;
  /**
   * CIFAR-10: use data whose .bin files match no known build (refused otherwise; --allow-unknown-data). The
   * checkpoint's provenance records the choice (dataVerification).
   */
  allowUnknownData?: boolean;
}

export interface AugmentConfig {
  /** Side of the crop the network sees (random in training, centre at test); equals the stored size for none. */
  crop: number;
  flip: boolean;
  /** Standard deviation of the PCA colour noise alpha (0.1 in the paper); 0 = off. */
  pcaNoise: number;
  mean: "image" | "channel" | "none";
  /** Network input = (pixel - mean) * scale, with pixels and the mean in 0-255 units. */
  scale: number;
  /** Test-time 10-crop averaging (four corners and centre, and their mirrors). */
  tenCrop: boolean;
}

export type Schedule =
  | { kind: "fixed" }
  /** lr multiplied by `gamma` after each listed epoch (fractions: within an epoch, e.g. 0.75). */
  | { kind: "step"; epochs: number[]; gamma: number }
  /** The paper's: divide by 10 when validation error has not improved for `patience` epochs, at most `maxDrops` times. */
  | { kind: "plateau"; patience: number; factor: number; maxDrops: number };

export interface OptimConfig {
  lr: number;
  momentum: number;
  weightDecay: number;
  batch: number;
  schedule: Schedule;
}

export interface TrainConfig {
  model: ModelSpec;
  data: DataConfig;
  augment: AugmentConfig;
  optim: OptimConfig;
  epochs: number;
  /** Stop early once this many optimizer steps ran (for short ablations and Figure 1's iteration counts). */
  maxSteps?: number;
  seed: number;
  /** Checkpoints (checkpoint.safetensors, rotated atomically), metrics.jsonl and the final model go here. */
  outDir: string;
  /** Continue from outDir's last checkpoint when there is one. */
  resume: boolean;
  /** Save a checkpoint every N steps (and at every epoch end). */
  checkpointEvery?: number;
  /** Record the training loss/error every N steps in `steps` of the result (Figure 1's curves). */
  logEvery?: number;
  /**
   * Stop at the end of the epoch in which the training error, a moving average over `smooth` logged records,
   * first reached `trainError` (Figure 1's "epochs to 25%"); `epochs` stays the cap. Epoch ends keep the stop
   * independent of when the GPU's statistics are read back, so it is deterministic.
   */
  stopAt?: { trainError: number; smooth: number };
}

export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  trainLoss: number;
  trainError: number;
  valTop1Error?: number;
  valTop5Error?: number;
  testTop1Error: number;
  testTop5Error: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  /** Training top-1 error of the batches since the previous record. */
  error: number;
}

export interface TrainResult {
  config: TrainConfig;
  epochs: EpochMetrics[];
  steps: StepMetrics[];
  final: EpochMetrics;
  /** Absolute path of the final checkpoint (an alexnet-webgpu checkpoint, src/io/checkpoint.ts). */
  checkpoint: string;
  classes: string[];
  adapter: string;
  seconds: number;
  /** Dataset checksum for provenance. */
  datasetChecksum: string;
  /** With config.stopAt: the step at which the smoothed training error reached it, or null. */
  reachedTargetAt?: number | null;
}
