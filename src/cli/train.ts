// deno task train: trains a model on a dataset with the paper's recipe (src/train/trainer.ts).

import { formatAdapter } from "../gpu/device.ts";
import { Gpu } from "../gpu/runtime.ts";
import { type ModelOptions, resolveModelName } from "../models/index.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { type Dataset, ensureDefaultData, openDataset } from "../data/index.ts";
import {
  knobsOf,
  PAPER_OPTIM,
  readTrainConfigFile,
  trainConfig,
  type TrainKnobs,
  validateTrainConfig,
} from "../train/config.ts";
import { storedGeometry } from "../train/data.ts";
import { CHECKPOINT_FILE, train, type TrainState } from "../train/trainer.ts";
import type { DataConfig, Schedule, TrainConfig } from "../train/types.ts";
import { choiceFlag, numberFlag, onOffFlag, parseCommandLine, runCommand, UsageError } from "../util/args.ts";

export const TRAIN_USAGE = `Usage: deno task train [options]

Trains a model with the paper's SGD recipe (momentum, weight decay, lr schedule), evaluates it on the test
split after every epoch, and writes <out>/checkpoint.safetensors, <out>/metrics.jsonl and <out>/result.json.

Model
  --model NAME|FILE      zoo name (deno task model --list) or a model .json file (default cifar-alexnet)
  --lrn on|off           local response normalisation (zoo models; default: the model's own)
  --pooling overlap|non-overlap    max pooling 3/2 or 2/2
  --activation relu|tanh
  --dropout on|off
  --shallower            remove a middle conv layer (depth ablation)
Data
  --data KIND            cifar10 | fashion-mnist | imagenette | image-folder (default cifar10)
  --data-path PATH       dataset folder or archive (default: the standard location of KIND)
  --size S               image folders: stored side (default 256)
  --limit-train N        train on a fixed, class-balanced subset of N images
  --limit-test N         evaluate on a fixed, class-balanced subset of N test images
  --validation N         hold out the last N training images as a validation split
  --allow-unknown-data   use CIFAR-10 files that match no known build (refused otherwise); the checkpoint's
                         provenance records it
  --fetch                fetch the dataset first when it is not on this machine (deno task data fetch KIND)
Augmentation and preprocessing
  --crop N               network input side; random N x N crops in training, centre crop at test
                         (default: the whole stored image)
  --flip on|off          random horizontal mirrors (default: on when --crop is below the stored size)
  --pca-noise X          PCA colour noise std (paper 0.1; default 0 = off)
  --mean image|channel|none   mean subtracted from the input (default image)
  --scale X              multiplies 0-255 pixels (default 1/255)
  --ten-crop             test with 10 views (corners, centre, mirrors), softmax averaged
Optimisation
  --epochs N             (default 10)
  --max-steps N          stop after N optimizer steps
  --batch N              (default 128)
  --lr X                 (default 0.01)
  --momentum X           (default 0.9)
  --weight-decay X       weight decay (default 0.0005)
  --schedule S           fixed | step:E1,E2[:GAMMA] | plateau[:PATIENCE[:MAXDROPS]] (default fixed).
                         step: lr x GAMMA (default 0.1) after epochs E1, E2 (fractions fall inside an epoch);
                         plateau: lr / 10 after PATIENCE (1) epochs without a lower validation error (the
                         test error without --validation), at most MAXDROPS (3) times
  --seed S               data order, augmentation, initialisation and dropout (default 1)
Run
  --out DIR              output folder (default results/runs/<model>-<data>)
  --resume               continue from <out>/checkpoint.safetensors (its settings are reused; flags given
                         again must agree)
  --force                start over in an --out folder that holds a checkpoint, overwriting it (without
                         --resume or --force such a folder is refused)
  --config FILE          a JSON file of TrainConfig fields; flags override it
  --checkpoint-every N   also save a checkpoint every N steps (default 200)
  --log-every N          record the training loss every N steps in result.json (default 20)
  -h, --help`;

const OPTIONS = {
  model: { type: "string" },
  lrn: { type: "string" },
  pooling: { type: "string" },
  activation: { type: "string" },
  dropout: { type: "string" },
  shallower: { type: "boolean" },
  data: { type: "string" },
  "data-path": { type: "string" },
  size: { type: "string" },
  "limit-train": { type: "string" },
  "limit-test": { type: "string" },
  validation: { type: "string" },
  "allow-unknown-data": { type: "boolean" },
  fetch: { type: "boolean" },
  crop: { type: "string" },
  flip: { type: "string" },
  "pca-noise": { type: "string" },
  mean: { type: "string" },
  scale: { type: "string" },
  "ten-crop": { type: "boolean" },
  epochs: { type: "string" },
  "max-steps": { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  momentum: { type: "string" },
  "weight-decay": { type: "string" },
  schedule: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  force: { type: "boolean" },
  config: { type: "string" },
  "checkpoint-every": { type: "string" },
  "log-every": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `fixed`, `step:30,60[:0.1]` or `plateau[:patience[:maxDrops]]`. */
export function parseSchedule(text: string): Schedule {
  const [kind, a, b, ...rest] = text.split(":");
  const bad = () => {
    throw new UsageError(
      `--schedule: expected fixed, step:E1,E2[:GAMMA] or plateau[:PATIENCE[:MAXDROPS]], got "${text}"`,
    );
  };
  if (rest.length) bad();
  if (kind === "fixed" && a === undefined) return { kind: "fixed" };
  if (kind === "step" && a) {
    const epochs = a.split(",").map(Number);
    if (!epochs.every((e) => Number.isFinite(e) && e > 0)) bad();
    const gamma = b === undefined ? 0.1 : Number(b);
    if (!(gamma > 0)) bad();
    return { kind: "step", epochs, gamma };
  }
  if (kind === "plateau") {
    const patience = a === undefined ? 1 : Number(a);
    const maxDrops = b === undefined ? 3 : Number(b);
    if (!(Number.isInteger(patience) && patience >= 1 && Number.isInteger(maxDrops) && maxDrops >= 0)) bad();
    return { kind: "plateau", patience, factor: 0.1, maxDrops };
  }
  return bad();
}

export interface CliTrainSetup {
  config: TrainConfig;
  /** The checkpoint a --resume continues, when there is one. */
  resumingFrom?: string;
  /** The dataset, when it had to be opened to learn its classes (image folders). */
  dataset?: Dataset;
  /** --force: start over even where config.outDir holds a checkpoint. */
  force: boolean;
  /** --fetch: get the dataset when it is not on this machine. */
  fetch: boolean;
}

/**
 * Refuses to start a fresh run (no --resume) in a folder that holds a checkpoint, which training would
 * overwrite at its first save, unless `setup.force` (--force) says so.
 */
export async function checkOutputFolder(setup: CliTrainSetup): Promise<void> {
  const { config } = setup;
  if (config.resume || setup.force) return;
  const path = `${config.outDir.replace(/\/$/, "")}/${CHECKPOINT_FILE}`;
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new Error(
    `${config.outDir} holds a checkpoint from an earlier run (${path}); pass --resume to continue it, ` +
      `--force to start over and overwrite it, or another --out folder`,
  );
}

/** What `deno task train` does where neither flags, --config nor a resumed checkpoint say otherwise. */
const CLI_DEFAULTS = {
  flip: false,
  pcaNoise: 0,
  mean: "image",
  scale: 1 / 255,
  tenCrop: false,
  ...PAPER_OPTIM,
  epochs: 10,
  seed: 1,
  checkpointEvery: 200,
  logEvery: 20,
} as const;

/** The entries of `o` that are set, so that spreading it overrides only those. */
function definedOnly<T extends object>(o: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as never;
}

/** Builds the TrainConfig a command line describes: defaults < checkpoint (with --resume) < --config < flags. */
export async function trainConfigFromArgs(args: string[]): Promise<CliTrainSetup | null> {
  const { values: v } = parseCommandLine(args, OPTIONS);
  if (v.help) return null;
  const file = v.config ? await readTrainConfigFile(v.config) : {};

  const kind = choiceFlag(
    v.data,
    "data",
    ["cifar10", "fashion-mnist", "imagenette", "image-folder"] as const,
  );
  const outDir = v.out ?? file.outDir;
  let saved: TrainConfig | undefined;
  let resumingFrom: string | undefined;
  const resume = v.resume ?? file.resume ?? false;
  if (resume && v.force) throw new UsageError("--resume and --force contradict each other: pass one of them");
  if (resume) {
    if (!outDir) throw new UsageError("--resume needs --out (the folder of the run to continue)");
    const path = `${outDir.replace(/\/$/, "")}/${CHECKPOINT_FILE}`;
    try {
      await Deno.stat(path);
      const ckpt = await loadCheckpoint(path);
      saved = (ckpt.meta.trainState as unknown as TrainState | undefined)?.config;
      resumingFrom = path;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  const data: DataConfig = {
    ...(saved?.data ?? { kind: "cifar10" }),
    ...(file.data ?? {}),
    ...(kind ? { kind } : {}),
  } as DataConfig;
  const setData = <K extends keyof DataConfig>(key: K, value: DataConfig[K] | undefined) => {
    if (value !== undefined) data[key] = value;
  };
  setData("path", v["data-path"]);
  setData("size", numberFlag(v.size, "size", { int: true, min: 1 }));
  setData("limitTrain", numberFlag(v["limit-train"], "limit-train", { int: true, min: 1 }));
  setData("limitTest", numberFlag(v["limit-test"], "limit-test", { int: true, min: 1 }));
  setData("validation", numberFlag(v.validation, "validation", { int: true, min: 1 }));
  if (v["allow-unknown-data"]) data.allowUnknownData = true;
  const geo = storedGeometry(data);
  let dataset: Dataset | undefined;
  if (geo.classes === null) {
    dataset = await openDataset({
      kind: data.kind,
      path: data.path,
      size: data.size,
      allowUnknownData: data.allowUnknownData,
      fetch: v.fetch ?? false,
    });
    geo.classes = dataset.train.classes.length;
  }

  // Layered: defaults < the checkpoint's settings (--resume) < --config < flags; the folder and --resume are
  // this run's own.
  const { outDir: _o, resume: _r, ...savedKnobs } = knobsOf(saved);
  const knobs: Omit<TrainKnobs, "model" | "data" | "outDir" | "resume"> = {
    ...CLI_DEFAULTS,
    crop: geo.size,
    ...savedKnobs,
    ...knobsOf(file),
    ...definedOnly({
      crop: numberFlag(v.crop, "crop", { int: true, min: 1, max: geo.size }),
      pcaNoise: numberFlag(v["pca-noise"], "pca-noise", { min: 0 }),
      mean: choiceFlag(v.mean, "mean", ["image", "channel", "none"] as const),
      scale: numberFlag(v.scale, "scale", { min: 0, exclusiveMin: true }),
      tenCrop: v["ten-crop"] || undefined,
      batch: numberFlag(v.batch, "batch", { int: true, min: 1 }),
      lr: numberFlag(v.lr, "lr", { min: 0, exclusiveMin: true }),
      momentum: numberFlag(v.momentum, "momentum", { min: 0, max: 0.999999 }),
      weightDecay: numberFlag(v["weight-decay"], "weight-decay", { min: 0 }),
      schedule: v.schedule === undefined ? undefined : parseSchedule(v.schedule),
      epochs: numberFlag(v.epochs, "epochs", { int: true, min: 1 }),
      maxSteps: numberFlag(v["max-steps"], "max-steps", { int: true, min: 1 }),
      seed: numberFlag(v.seed, "seed", { int: true, min: 0 }),
      checkpointEvery: numberFlag(v["checkpoint-every"], "checkpoint-every", { int: true, min: 1 }),
      logEvery: numberFlag(v["log-every"], "log-every", { int: true, min: 1 }),
    }),
  };
  // Random crops are the paper's augmentation together with mirrors, unless the run already says otherwise.
  if (v.crop !== undefined && !saved && file.augment?.flip === undefined) knobs.flip = knobs.crop < geo.size;
  knobs.flip = onOffFlag(v.flip, "flip") ?? knobs.flip;

  // The model: rebuilt when named or switched on the command line, else the checkpoint's or the file's.
  const switches: ModelOptions = {
    lrn: onOffFlag(v.lrn, "lrn"),
    pooling: choiceFlag(v.pooling, "pooling", ["overlap", "non-overlap"] as const),
    activation: choiceFlag(v.activation, "activation", ["relu", "tanh"] as const),
    dropout: onOffFlag(v.dropout, "dropout"),
    shallower: v.shallower,
  };
  const anySwitch = Object.values(switches).some((x) => x !== undefined);
  let model = typeof file.model === "object" ? file.model : undefined;
  if (saved && !v.model && !anySwitch) model = saved.model;
  if (v.model || anySwitch || !model) {
    const name = v.model ?? (typeof file.model === "object" ? undefined : "cifar-alexnet");
    if (!name) {
      throw new UsageError(
        "model switches (--lrn, --pooling, ...) need --model NAME when --config gives a model spec",
      );
    }
    model = await resolveModelName(name, {
      ...switches,
      classes: geo.classes,
      channels: geo.channels,
      inputSize: knobs.crop,
    });
  }

  const config = trainConfig({
    ...knobs,
    model,
    data,
    outDir: outDir ?? `results/runs/${model.name}-${data.kind}`,
    resume,
  });
  validateTrainConfig(config, v.config ?? "");
  return { config, resumingFrom, dataset, force: v.force ?? false, fetch: v.fetch ?? false };
}

async function main(): Promise<number> {
  const setup = await trainConfigFromArgs(Deno.args);
  if (!setup) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  await checkOutputFolder(setup);
  const { config, resumingFrom, dataset } = setup;
  // Absent data stops here, in one line, before the GPU starts (or is fetched with --fetch).
  if (!dataset) await ensureDefaultData(config.data.kind, config.data.path, setup.fetch);
  const gpu = await Gpu.create();
  console.error(`adapter: ${formatAdapter(gpu.adapter)}`);
  console.error(
    `model ${config.model.name}: ${config.model.description}; data ${config.data.kind}; out ${config.outDir}` +
      (resumingFrom ? `; resuming ${resumingFrom}` : ""),
  );
  // Ctrl-C stops before the next step and saves a checkpoint there; a second one exits at once.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) Deno.exit(130);
    console.error("interrupt: saving a checkpoint before stopping (Ctrl-C again to quit now)");
    abort.abort(new DOMException("stopped by Ctrl-C; continue with --resume", "AbortError"));
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const r = await train(gpu, config, { signal: abort.signal, dataset });
    const f = r.final;
    console.log(
      `done: ${f.epoch} epoch(s), ${f.step} steps, test top-1 error ${(100 * f.testTop1Error).toFixed(2)}% ` +
        `(accuracy ${(100 * (1 - f.testTop1Error)).toFixed(2)}%), top-5 error ${
          (100 * f.testTop5Error).toFixed(2)
        }%` +
        `${config.augment.tenCrop ? " (10 views)" : ""}, ${
          r.seconds.toFixed(0)
        } s (training and evaluation); checkpoint ${r.checkpoint}`,
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
  return 0;
}

if (import.meta.main) await runCommand(main, TRAIN_USAGE);
