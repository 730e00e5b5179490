// `kind: train`: turns flat pipeline parameters into a TrainConfig (trainConfig, src/train/config.ts) and runs
// the trainer on the process's shared GPU, checkpointing into the stage's output folder so a killed run resumes there.

import { join } from "@std/path";
import {
  defineStageKind,
  type ParamIssue,
  type PlannedUpstream,
  type StageContext,
  type StageEstimate,
  type StageResult,
  type StageValidationInfo,
} from "../pipeline/types.ts";
import { trainConfig } from "../train/config.ts";
import { probeTraining } from "../train/probe.ts";
import { buildModel, type ModelOptions, MODELS } from "../models/index.ts";
import type { ModelSpec } from "../nn/spec.ts";
import { macsPerImage, parameterCount } from "../nn/spec.ts";
import { CHECKPOINT_FILE, train } from "../train/trainer.ts";
import type { EpochMetrics, Schedule } from "../train/types.ts";
import { didYouMean } from "../util/suggest.ts";
import {
  checkNeedsOneDataset,
  dataConfig,
  DATASET_KIND,
  type DatasetParams,
  type DatasetSummary,
  describeData,
  plannedDataSizes,
  toSource,
  upstreamDataset,
} from "./dataset.ts";
import { sharedDataset, sharedGpu } from "./resources.ts";
import { fileSha256, pct } from "./util.ts";

export interface TrainParams {
  model: string;
  lrn: "default" | "on" | "off";
  pooling: "default" | "overlap" | "non-overlap";
  activation: "default" | "relu" | "tanh";
  dropout: "default" | "on" | "off";
  shallower: boolean;
  towers: "default" | "two" | "one";
  epochs: number;
  max_steps: number;
  batch: number;
  lr: number;
  lr_for: Record<string, number>;
  momentum: number;
  weight_decay: number;
  schedule: "fixed" | "step" | "plateau";
  step_epochs: number[];
  gamma: number;
  patience: number;
  max_drops: number;
  crop: number;
  flip: boolean;
  pca_noise: number;
  mean: "image" | "channel" | "none";
  scale: number;
  ten_crop: boolean;
  log_every: number;
  checkpoint_every: number;
  seed: number;
  label: string;
  /** Optional (no default, so existing stages keep their cache keys): see the schema's docs. */
  stop_at_train_error?: number;
  stop_smooth?: number;
  lr_from?: string;
  init_std?: Record<string, number>;
}

const SWITCH = ["default", "on", "off"] as const;
const MODEL_NAMES = Object.keys(MODELS);

export const trainStageKind = defineStageKind<TrainParams>({
  name: "train",
  description: "Trains a model of the zoo on the upstream dataset stage's data (src/train/trainer.ts)",
  // Initialisation, data order, augmentation and dropout all derive from the seed (not from the arm).
  seeds: "each",
  params: {
    model: { type: "string", required: true, doc: `model name: ${MODEL_NAMES.join(", ")}` },
    lrn: { type: "enum", values: SWITCH, default: "default", doc: "local response normalisation switch" },
    pooling: {
      type: "enum",
      values: ["default", "overlap", "non-overlap"],
      default: "default",
      doc: "max pooling 3/2 (overlap) or 2/2",
    },
    activation: { type: "enum", values: ["default", "relu", "tanh"], default: "default", doc: "unit type" },
    dropout: { type: "enum", values: SWITCH, default: "default", doc: "dropout 0.5 in the hidden fc layers" },
    shallower: { type: "boolean", default: false, doc: "remove a middle conv layer (section 4)" },
    towers: {
      type: "enum",
      values: ["default", "two", "one"],
      default: "default",
      doc: "one: the model's one-tower variant with half the kernels per conv layer (section 3.2)",
    },
    epochs: { type: "integer", default: 1, min: 1, doc: "passes over the training images" },
    max_steps: { type: "integer", default: 0, min: 0, doc: "stop after this many SGD steps; 0 = no limit" },
    batch: { type: "integer", default: 128, min: 1, doc: "mini-batch size (paper: 128)" },
    lr: { type: "number", default: 0.01, min: 0, doc: "learning rate (paper: 0.01)" },
    lr_for: {
      type: "object",
      default: {},
      doc: "learning rate per matrix arm, keyed by an axis value (Figure 1 tunes it per unit type)",
    },
    momentum: { type: "number", default: 0.9, min: 0, max: 0.999, doc: "momentum (paper: 0.9)" },
    weight_decay: { type: "number", default: 0.0005, min: 0, doc: "weight decay (paper: 0.0005)" },
    schedule: {
      type: "enum",
      values: ["fixed", "step", "plateau"],
      default: "fixed",
      doc: "lr schedule: fixed, step (x gamma at step_epochs), plateau (the paper's /10 when error stalls)",
    },
    step_epochs: { type: "number[]", default: [], doc: "step schedule: epochs after which lr *= gamma" },
    gamma: { type: "number", default: 0.1, min: 0, doc: "step/plateau factor" },
    patience: { type: "integer", default: 1, min: 1, doc: "plateau: epochs without improvement" },
    max_drops: { type: "integer", default: 3, min: 0, doc: "plateau: at most this many drops (paper: 3)" },
    crop: {
      type: "integer",
      default: 0,
      min: 0,
      doc: "network input side; random crops in training; 0 = stored",
    },
    flip: { type: "boolean", default: false, doc: "random horizontal mirrors" },
    pca_noise: { type: "number", default: 0, min: 0, doc: "PCA colour noise std (paper: 0.1); 0 = off" },
    mean: { type: "enum", values: ["image", "channel", "none"], default: "image", doc: "mean subtracted" },
    scale: { type: "number", default: 1 / 255, min: 0, doc: "multiplies 0-255 pixels (paper: 1)" },
    ten_crop: { type: "boolean", default: false, doc: "evaluate with 10 views each epoch" },
    log_every: { type: "integer", default: 10, min: 1, doc: "record the training loss/error every N steps" },
    checkpoint_every: {
      type: "integer",
      default: 0,
      min: 0,
      doc: "extra checkpoint every N steps; 0 = epochs",
    },
    seed: { type: "integer", default: 0, min: 0, doc: "0 = the pipeline's seed" },
    label: { type: "string", default: "", doc: "short name of this run for tables (default: the model)" },
    // No defaults below: a parameter with a default enters every train stage's cache key.
    stop_at_train_error: {
      type: "number",
      min: 0,
      max: 1,
      doc:
        "stop after the epoch in which the smoothed training error reaches this (e.g. 0.25); epochs caps it",
    },
    stop_smooth: {
      type: "integer",
      min: 1,
      doc: "records in the moving average stop_at_train_error tests (default 5, as relu-vs-tanh's smooth)",
    },
    lr_from: {
      type: "string",
      doc:
        "an lr-sweep stage in needs: train with the learning rate it chose for this arm (overrides lr, lr_for)",
    },
    init_std: {
      type: "object",
      doc: "initial weight std per layer name, replacing the model's (e.g. { conv1: 0.01 }, the paper's)",
    },
  },
  estimate(params, upstream) {
    return estimateTraining(params, upstream);
  },
  resolvedConfig(ctx) {
    return resolvedTrainConfig(ctx);
  },
  // Another instance's run of the same net (equal resolved configs) keeps this instance's own label.
  adoptOutputs(outputs, params) {
    return { ...outputs, label: params.label || outputs.model };
  },
  // The weights evaluations and figures open, kept out of the output hash (and out of git).
  keptFiles: (outputs) => (typeof outputs.checkpoint === "string" ? [outputs.checkpoint] : []),
  async fingerprint(ctx) {
    const setup = await trainSetup(ctx);
    if (!setup) return { exact: { skipped: "no data" }, measures: {} };
    return probeTraining(await sharedGpu(ctx.resources), setup.config, setup.dataset, ctx.outDir);
  },
  validateParams(params, info) {
    const issues: ParamIssue[] = checkNeedsOneDataset(info, "a train stage");
    if (params.lr_from !== undefined) {
      if (!info.needs.includes(params.lr_from) || info.stages[params.lr_from]?.kind !== "lr-sweep") {
        issues.push({ path: ["lr_from"], message: `"${params.lr_from}" is not an lr-sweep stage in needs` });
      }
    }
    for (const [key, value] of Object.entries(params.lr_for ?? {})) {
      const known = Object.values(info.matrix).some((values) => values.includes(key));
      if (!known) {
        issues.push({
          path: ["lr_for", key],
          message: `"${key}" is not a value of any matrix axis`,
          at: "key",
        });
      }
      if (typeof value !== "number" || !(value > 0)) {
        issues.push({
          path: ["lr_for", key],
          message: `expected a positive learning rate, got ${JSON.stringify(value)}`,
        });
      }
    }
    if (params.towers === "one" && !MODEL_NAMES.includes(zooModelName(params))) {
      issues.push({ path: ["towers"], message: `model "${params.model}" has no one-tower variant` });
    }
    if (!MODEL_NAMES.includes(params.model)) {
      issues.push({
        path: ["model"],
        message: `unknown model "${params.model}"${didYouMean(params.model, MODEL_NAMES)}; known: ${
          MODEL_NAMES.join(", ")
        }`,
      });
    } else if (params.init_std !== undefined) {
      issues.push(...initStdIssues(params));
    }
    return issues;
  },
  async run(ctx) {
    const p = ctx.params;
    const setup = await trainSetup(ctx);
    if (!setup) {
      // Optional data that is not there: nothing to train; dependants show what is missing.
      const summary = upstreamDataset(ctx.inputs).outputs as unknown as DatasetSummary;
      ctx.log(`skipped: ${summary.reason}`);
      return {
        skipped: true,
        reason: summary.reason ?? "no data",
        needs: summary.needs ?? "",
        scale: "not run",
      };
    }
    const { config, dataset, summary, model } = setup;
    const gpu = await sharedGpu(ctx.resources);
    const perEpoch = Math.max(1, Math.floor((summary.train_images ?? 1) / p.batch));
    const total = Math.min(p.max_steps || Infinity, p.epochs * perEpoch);
    const result = await train(gpu, config, {
      dataset,
      log: (line) => ctx.log(line),
      onStep: (m) => ctx.progress(m.step, total, `loss ${m.loss.toFixed(3)} train error ${pct(m.error)}`),
      progressSeconds: 30,
    });
    const final = result.final as EpochMetrics & { partial?: boolean };
    const steps = final.step;
    const images = steps * p.batch;
    const scale = `${describeData(summary)}; ${model.name} ${model.input[1]}px input; ` +
      plural(result.epochs.length, "epoch") +
      (final.partial
        ? ` + part of one (stopped at ${plural(steps, "step")})`
        : ` (${plural(steps, "step")})`) +
      ` of batch ${p.batch}, about ${images.toLocaleString("en-US")} training images seen`;
    return {
      label: p.label || model.name,
      model: model.name,
      model_description: model.description,
      parameters: parameterCount(model),
      macs_per_image: macsPerImage(model),
      input: model.input,
      top1_error: final.testTop1Error,
      top5_error: final.testTop5Error,
      train_error: final.trainError,
      train_loss: final.trainLoss,
      // Overfitting indicator: test minus (running, augmented) training error.
      generalisation_gap: final.testTop1Error - final.trainError,
      ...(final.valTop1Error !== undefined ? { val_top1_error: final.valTop1Error } : {}),
      ten_crop: p.ten_crop,
      lr: config.optim.lr,
      ...(config.stopAt
        ? {
          target_train_error: config.stopAt.trainError,
          reached_target_at_step: result.reachedTargetAt ?? null,
        }
        : {}),
      steps,
      epochs_completed: result.epochs.length,
      images_seen: images,
      seconds: result.seconds,
      images_per_second: result.seconds > 0 ? images / result.seconds : 0,
      // A run stopped by max_steps inside an epoch ends with that partial epoch's evaluation.
      history: [...result.epochs, ...(final.partial ? [final] : [])].map((m) => ({
        epoch: m.epoch,
        step: m.step,
        lr: m.lr,
        train_loss: m.trainLoss,
        train_error: m.trainError,
        test_top1_error: m.testTop1Error,
        test_top5_error: m.testTop5Error,
      })),
      curve: result.steps.map((m) => ({ step: m.step, epoch: m.epoch, loss: m.loss, error: m.error })),
      classes: result.classes,
      dataset_checksum: result.datasetChecksum,
      adapter: result.adapter,
      // The checkpoint stays out of `files` (it would be hashed on every cache check); its digest here keys
      // the downstream stages to these exact weights.
      checkpoint: CHECKPOINT_FILE,
      checkpoint_sha256: await fileSha256(join(ctx.outDir, CHECKPOINT_FILE)),
      scale,
      files: { metrics: "metrics.jsonl" },
    };
  },
});

/**
 * The floating-point work of a training, for the dry run: 6 FLOPs per multiply-add and training image (forward,
 * and backward at twice the forward) and 2 per test image evaluated after each epoch (x10 with ten_crop), at
 * the cap where the run may stop early. Undefined when the dataset's size is unknown before it is opened.
 */
export function estimateTraining(
  p: TrainParams,
  upstream: Record<string, PlannedUpstream[]>,
  images?: number,
): StageEstimate | undefined {
  const data = Object.values(upstream).flat().find((u) => u.kind === DATASET_KIND);
  const sizes = data && plannedDataSizes(data.params as unknown as DatasetParams);
  if (!sizes) return undefined;
  const crop = p.crop || sizes.image[1];
  let model: ModelSpec;
  try {
    model = buildModelFor(p, { classes: sizes.classes, channels: sizes.image[0], inputSize: crop });
  } catch {
    return undefined;
  }
  const macs = macsPerImage(model);
  const perEpoch = Math.max(1, Math.floor(sizes.train / p.batch)) * p.batch;
  const trained = images ?? Math.min(p.epochs * perEpoch, p.max_steps > 0 ? p.max_steps * p.batch : Infinity);
  const epochs = Math.ceil(trained / perEpoch);
  const evaluated = epochs * sizes.test * (p.ten_crop ? 10 : 1);
  const flop = 6 * macs * trained + 2 * macs * evaluated;
  return {
    flop,
    what: `${model.name}: ${trained.toLocaleString("en-US")} training images` +
      `${p.stop_at_train_error !== undefined ? " at most" : ""}, ${
        evaluated.toLocaleString("en-US")
      } evaluated`,
  };
}

/** What a train stage instance trains: its TrainConfig on the shared dataset; undefined when there is no data. */
export async function trainSetup(
  ctx: Pick<
    StageContext<TrainParams>,
    "params" | "inputs" | "matrix" | "seed" | "resources" | "outDir" | "resuming"
  >,
) {
  const data = upstreamDataset(ctx.inputs);
  const summary = data.outputs as unknown as DatasetSummary;
  if (!summary.available) return undefined;
  const dataParams = data.params as unknown as DatasetParams;
  const dataset = await sharedDataset(ctx.resources, toSource(dataParams));
  const { config, model } = configFor(ctx, summary, dataParams, dataset.train.classes.length);
  return { config, dataset, summary, model };
}

/** The model and TrainConfig an instance trains with, on data of this shape and number of classes. */
function configFor(
  ctx: Pick<StageContext<TrainParams>, "params" | "inputs" | "matrix" | "seed" | "outDir" | "resuming">,
  summary: DatasetSummary,
  dataParams: DatasetParams,
  classes: number,
) {
  const p = ctx.params;
  const [channels, height] = summary.image ?? [3, 32, 32];
  const crop = p.crop || height;
  const model = buildModelFor(p, { classes, channels, inputSize: crop });
  const config = trainConfig({
    model,
    data: dataConfig(dataParams),
    crop,
    flip: p.flip,
    pcaNoise: p.pca_noise,
    mean: p.mean,
    scale: p.scale,
    tenCrop: p.ten_crop,
    lr: p.lr_from ? sweptLr(ctx.inputs, p.lr_from) : armLr(p, ctx.matrix),
    momentum: p.momentum,
    weightDecay: p.weight_decay,
    batch: p.batch,
    schedule: schedule(p),
    epochs: p.epochs,
    maxSteps: p.max_steps > 0 ? p.max_steps : undefined,
    seed: p.seed || ctx.seed,
    outDir: ctx.outDir,
    resume: ctx.resuming,
    checkpointEvery: p.checkpoint_every > 0 ? p.checkpoint_every : undefined,
    logEvery: p.log_every,
    stopAt: p.stop_at_train_error !== undefined
      ? { trainError: p.stop_at_train_error, smooth: p.stop_smooth ?? 5 }
      : undefined,
  });
  return { config, model };
}

/**
 * What a train instance computes: its TrainConfig with the model as built (so `pooling: default` and
 * `pooling: overlap` of a net whose default is overlapping are one net), the learning rate its arm trains
 * with, and no label or output folder. Undefined (keyed by its parameters as given) without data.
 */
export function resolvedTrainConfig(
  ctx: Pick<StageContext<TrainParams>, "params" | "inputs" | "matrix" | "seed">,
): unknown {
  const data = upstreamDataset(ctx.inputs);
  const summary = data.outputs as unknown as DatasetSummary & { classes?: string[] };
  if (!summary.available || !Array.isArray(summary.classes)) return undefined;
  const dataParams = data.params as unknown as DatasetParams;
  const { config } = configFor(
    { ...ctx, outDir: "", resuming: false },
    summary,
    dataParams,
    summary.classes.length,
  );
  const { outDir: _outDir, resume: _resume, ...computed } = config;
  return computed;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function switchValue(v: "default" | "on" | "off"): boolean | undefined {
  return v === "default" ? undefined : v === "on";
}

export function buildModelFor(
  p: Pick<
    TrainParams,
    "model" | "lrn" | "pooling" | "activation" | "dropout" | "shallower" | "towers" | "init_std"
  >,
  o: { classes: number; channels: number; inputSize: number },
): ModelSpec {
  const options: ModelOptions = {
    classes: o.classes,
    channels: o.channels,
    inputSize: o.inputSize,
    lrn: switchValue(p.lrn),
    pooling: p.pooling === "default" ? undefined : p.pooling,
    activation: p.activation === "default" ? undefined : p.activation,
    dropout: switchValue(p.dropout),
    shallower: p.shallower,
  };
  const built = buildModel(zooModelName(p), options);
  const model = p.init_std ? withInitStd(built, p.init_std) : built;
  const [c, h, w] = model.input;
  if (c !== o.channels || h !== o.inputSize || w !== o.inputSize) {
    throw new Error(
      `model ${p.model} takes ${c}x${h}x${w} input but the data gives ${o.channels}-channel ` +
        `${o.inputSize}x${o.inputSize} crops: set crop to ${h} (or pick a model for this input)`,
    );
  }
  return model;
}

/** The zoo entry a stage trains: the model, or its one-tower variant when towers is "one". */
function zooModelName(p: Pick<TrainParams, "model" | "towers">): string {
  return p.towers === "one" ? `${p.model}-one-tower` : p.model;
}

/** Names of the layers with weights (conv, local, fc) in a model. */
function weightLayerNames(model: ModelSpec): string[] {
  return model.layers.flatMap((l) => ("name" in l ? [l.name] : []));
}

/** init_std's problems: a name that is no weight layer of the stage's model, or a std that is not positive. */
function initStdIssues(p: TrainParams): ParamIssue[] {
  // Layer names depend on the model and its depth switch, not on the input size or classes.
  const name = zooModelName(p);
  if (!MODEL_NAMES.includes(name)) return []; // reported as the towers issue
  const names = weightLayerNames(buildModel(name, { shallower: p.shallower }));
  const issues: ParamIssue[] = [];
  for (const [layer, std] of Object.entries(p.init_std ?? {})) {
    if (!names.includes(layer)) {
      issues.push({
        path: ["init_std", layer],
        message: `"${layer}" is no layer with weights in ${name}${didYouMean(layer, names)}; its layers: ${
          names.join(", ")
        }`,
        at: "key",
      });
    } else if (typeof std !== "number" || !(std > 0) || !Number.isFinite(std)) {
      issues.push({
        path: ["init_std", layer],
        message: `expected a positive std, got ${JSON.stringify(std)}`,
      });
    }
  }
  return issues;
}

/**
 * The model with the named layers' initial weight std replaced (biases keep theirs); its description says so,
 * so pages and model cards name the change.
 */
export function withInitStd(model: ModelSpec, stds: Record<string, number>): ModelSpec {
  const names = weightLayerNames(model);
  const missing = Object.keys(stds).filter((n) => !names.includes(n));
  if (missing.length) {
    throw new Error(`init_std: ${missing.join(", ")} is no layer with weights in ${model.name}`);
  }
  const layers = model.layers.map((l) =>
    "name" in l && stds[l.name] !== undefined ? { ...l, init: { ...l.init, std: stds[l.name] } } : l
  );
  const note = Object.entries(stds).map(([n, std]) => `${n} init N(0, ${std})`).join(", ");
  return { ...model, description: `${model.description}; ${note}`, layers };
}

/** The learning rate an upstream lr-sweep stage chose (for this arm: the runner passes the arm's instance). */
function sweptLr(inputs: Record<string, StageResult | StageResult[]>, stage: string): number {
  const sweep = inputs[stage];
  const lr = Array.isArray(sweep) ? undefined : sweep?.outputs.chosen_lr;
  if (typeof lr !== "number") throw new Error(`lr_from: "${stage}" gave no chosen_lr for this arm`);
  return lr;
}

/** lr_for's entry for one of this arm's matrix values, else lr. */
function armLr(p: TrainParams, matrix: Record<string, string> | undefined): number {
  for (const value of Object.values(matrix ?? {})) {
    if (typeof p.lr_for[value] === "number") return p.lr_for[value];
  }
  return p.lr;
}

function schedule(p: TrainParams): Schedule {
  if (p.schedule === "step") return { kind: "step", epochs: p.step_epochs, gamma: p.gamma };
  if (p.schedule === "plateau") {
    return { kind: "plateau", patience: p.patience, factor: p.gamma, maxDrops: p.max_drops };
  }
  return { kind: "fixed" };
}

/** validateParams helper: a stage needs exactly one train stage, or names the one it reads (`train`). */
export function checkNeedsOneTrain(train: string, info: StageValidationInfo): ParamIssue[] {
  const trains = info.needs.filter((need) => info.stages[need]?.kind === "train");
  if (train ? !info.needs.includes(train) : trains.length !== 1) {
    return [{ path: train ? ["train"] : [], message: "needs exactly one train stage (or name it)" }];
  }
  return [];
}

/**
 * The train stage result among a stage's inputs named `name` (or the only train-kind input). A stage that gets
 * every seed's instances (it aggregates over seeds) names the `seed` it takes.
 */
export function upstreamTrain(
  inputs: Record<string, StageResult | StageResult[]>,
  name?: string,
  seed?: number,
): StageResult {
  const one = (input: StageResult | StageResult[] | undefined) =>
    Array.isArray(input) && seed !== undefined ? input.find((result) => result.seed === seed) : input;
  if (name) {
    const input = one(inputs[name]);
    if (!input || Array.isArray(input)) throw new Error(`"${name}" is not a single upstream stage`);
    return input;
  }
  const found = Object.values(inputs).map(one).filter((i): i is StageResult =>
    i !== undefined && !Array.isArray(i) && i.kind === "train"
  );
  if (found.length !== 1) throw new Error(`expected one upstream train stage, found ${found.length}`);
  return found[0];
}
