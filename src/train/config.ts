// Defaults, validation and config files for TrainConfig. Errors name the field (and the file, when a config
// came from one) so a bad run description fails before any work starts.

import { resolveModel } from "../nn/spec.ts";
import type { ModelSpec } from "../nn/spec.ts";
import { resolveModelName } from "../models/index.ts";
import { validateDataConfig } from "./data.ts";
import { validateSchedule } from "./schedule.ts";
import type { AugmentConfig, DataConfig, OptimConfig, TrainConfig } from "./types.ts";

/** The paper's section 5 recipe: batch 128, momentum 0.9, weight decay 0.0005, lr 0.01. */
export const PAPER_OPTIM: OptimConfig = {
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 0.0005,
  batch: 128,
  schedule: { kind: "fixed" },
};

/**
 * A run's settings as one flat list, named as the command line (`--pca-noise`) and a pipeline's train stage
 * (`pca_noise`) name them; trainConfig nests them into a TrainConfig, so both surfaces build it the same way.
 */
export type TrainKnobs = Omit<TrainConfig, "augment" | "optim"> & AugmentConfig & OptimConfig;

/** The TrainConfig the knobs describe; unset optional knobs stay absent (not `undefined` fields). */
export function trainConfig(k: TrainKnobs): TrainConfig {
  const config: TrainConfig = {
    model: k.model,
    data: k.data,
    augment: {
      crop: k.crop,
      flip: k.flip,
      pcaNoise: k.pcaNoise,
      mean: k.mean,
      scale: k.scale,
      tenCrop: k.tenCrop,
    },
    optim: {
      lr: k.lr,
      momentum: k.momentum,
      weightDecay: k.weightDecay,
      batch: k.batch,
      schedule: k.schedule,
    },
    epochs: k.epochs,
    maxSteps: k.maxSteps,
    seed: k.seed,
    outDir: k.outDir,
    resume: k.resume,
    checkpointEvery: k.checkpointEvery,
    logEvery: k.logEvery,
    stopAt: k.stopAt,
  };
  for (const key of ["maxSteps", "checkpointEvery", "logEvery", "stopAt"] as const) {
    if (config[key] === undefined) delete config[key];
  }
  return config;
}

/** The knobs a (partial) TrainConfig sets: the inverse of trainConfig, for layering a file or checkpoint. */
export function knobsOf(c: TrainConfigFile | TrainConfig | undefined): Partial<TrainKnobs> {
  if (!c) return {};
  // data is the dataset the knobs train on, not a knob.
  const { augment = {}, optim = {}, model, data: _data, ...top } = c;
  const knobs: Partial<TrainKnobs> = { ...top, ...augment, ...optim };
  if (typeof model === "object") knobs.model = model;
  return knobs;
}

function fail(field: string, want: string, got: unknown): never {
  throw new Error(`${field}: expected ${want}, got ${JSON.stringify(got)}`);
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

export function validateAugment(a: AugmentConfig, where = "augment"): void {
  if (!a || typeof a !== "object") fail(where, "an object", a);
  if (!isPosInt(a.crop)) fail(`${where}.crop`, "a positive whole number", a.crop);
  if (typeof a.flip !== "boolean") fail(`${where}.flip`, "true or false", a.flip);
  if (!isNum(a.pcaNoise) || a.pcaNoise < 0) {
    fail(`${where}.pcaNoise`, "a number >= 0 (0.1 in the paper)", a.pcaNoise);
  }
  if (!["image", "channel", "none"].includes(a.mean)) {
    fail(`${where}.mean`, `"image", "channel" or "none"`, a.mean);
  }
  if (!isNum(a.scale) || a.scale <= 0) fail(`${where}.scale`, "a positive number (e.g. 1/255)", a.scale);
  if (typeof a.tenCrop !== "boolean") fail(`${where}.tenCrop`, "true or false", a.tenCrop);
}

export function validateOptim(o: OptimConfig, where = "optim"): void {
  if (!o || typeof o !== "object") fail(where, "an object", o);
  if (!isNum(o.lr) || o.lr <= 0) fail(`${where}.lr`, "a positive number", o.lr);
  if (!isNum(o.momentum) || o.momentum < 0 || o.momentum >= 1) {
    fail(`${where}.momentum`, "a number in [0, 1)", o.momentum);
  }
  if (!isNum(o.weightDecay) || o.weightDecay < 0) {
    fail(`${where}.weightDecay`, "a number >= 0", o.weightDecay);
  }
  if (!isPosInt(o.batch)) fail(`${where}.batch`, "a positive whole number", o.batch);
  if (!o.schedule || typeof o.schedule !== "object") {
    fail(`${where}.schedule`, "an object with a kind", o.schedule);
  }
  validateSchedule(o.schedule, `${where}.schedule`);
}

/** Checks every field of a TrainConfig; `where` prefixes messages (e.g. the config file's path). */
export function validateTrainConfig(c: TrainConfig, where = ""): void {
  const p = where ? `${where}: ` : "";
  try {
    if (!c.model || typeof c.model !== "object") fail("model", "a model spec", c.model);
    resolveModel(c.model);
    if (!c.data || typeof c.data !== "object") fail("data", "an object", c.data);
    validateDataConfig(c.data);
    validateAugment(c.augment);
    validateOptim(c.optim);
    if (!isPosInt(c.epochs)) fail("epochs", "a positive whole number", c.epochs);
    if (c.maxSteps !== undefined && !isPosInt(c.maxSteps)) {
      fail("maxSteps", "a positive whole number", c.maxSteps);
    }
    if (!Number.isSafeInteger(c.seed) || c.seed < 0) fail("seed", "a whole number >= 0", c.seed);
    if (typeof c.outDir !== "string" || c.outDir === "") fail("outDir", "a folder path", c.outDir);
    if (typeof c.resume !== "boolean") fail("resume", "true or false", c.resume);
    if (c.checkpointEvery !== undefined && !isPosInt(c.checkpointEvery)) {
      fail("checkpointEvery", "a positive whole number of steps", c.checkpointEvery);
    }
    if (c.logEvery !== undefined && !isPosInt(c.logEvery)) {
      fail("logEvery", "a positive whole number of steps", c.logEvery);
    }
    if (c.stopAt !== undefined) {
      const e = c.stopAt.trainError;
      if (typeof e !== "number" || !(e > 0 && e <= 1)) fail("stopAt.trainError", "a fraction in (0, 1]", e);
      if (!isPosInt(c.stopAt.smooth)) {
        fail("stopAt.smooth", "a positive whole number of records", c.stopAt.smooth);
      }
      if (!c.logEvery) fail("stopAt", "logEvery set (the stop reads the logged records)", c.logEvery);
    }
  } catch (e) {
    throw new Error(`${p}${(e as Error).message}`);
  }
}

/** A config file's contents: any TrainConfig fields; `model` may also be a zoo name or a model .json path. */
export type TrainConfigFile = Partial<Omit<TrainConfig, "model" | "augment" | "optim" | "data">> & {
  model?: ModelSpec | string;
  data?: Partial<DataConfig>;
  augment?: Partial<AugmentConfig>;
  optim?: Partial<OptimConfig>;
};

const FILE_KEYS = [
  "model",
  "data",
  "augment",
  "optim",
  "epochs",
  "maxSteps",
  "seed",
  "outDir",
  "resume",
  "checkpointEvery",
  "logEvery",
  "stopAt",
];

/** Reads a JSON config file (partial TrainConfig); unknown top-level keys are errors naming the file. */
export async function readTrainConfigFile(path: string): Promise<TrainConfigFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read config (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${path}: expected a JSON object with TrainConfig fields`);
  }
  for (const key of Object.keys(parsed)) {
    if (!FILE_KEYS.includes(key)) {
      throw new Error(`${path}: unknown field "${key}"; allowed: ${FILE_KEYS.join(", ")}`);
    }
  }
  const file = parsed as TrainConfigFile;
  if (typeof file.model === "string") file.model = await resolveModelName(file.model);
  return file;
}

/**
 * Fields that must match between a checkpoint's run and a resumed one: anything that changes the numbers.
 * Epoch/step limits, logging, checkpoint frequency, the output folder, data paths and test-time 10-crop may
 * change.
 */
export function resumeMismatches(saved: TrainConfig, now: TrainConfig): string[] {
  const out: string[] = [];
  const cmp = (field: string, a: unknown, b: unknown) => {
    const ja = canonicalJson(a), jb = canonicalJson(b);
    if (ja !== jb) out.push(`${field}: checkpoint ${ja ?? "unset"}, now ${jb ?? "unset"}`);
  };
  cmp("seed", saved.seed, now.seed);
  for (const k of ["kind", "size", "limitTrain", "limitTest", "validation"] as const) {
    cmp(`data.${k}`, saved.data[k], now.data[k]);
  }
  for (const k of ["crop", "flip", "pcaNoise", "mean", "scale"] as const) {
    cmp(`augment.${k}`, saved.augment[k], now.augment[k]);
  }
  for (const k of ["lr", "momentum", "weightDecay", "batch", "schedule"] as const) {
    cmp(`optim.${k}`, saved.optim[k], now.optim[k]);
  }
  return out;
}

/** JSON with object keys sorted, so equal values compare equal whatever order their fields were written in. */
export function canonicalJson(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x) ?? "null").join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
}
