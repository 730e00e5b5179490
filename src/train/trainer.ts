// The paper's training recipe (section 5) on the GPU executor: momentum SGD with weight decay and per-layer
// multipliers, lr schedules, seeded data order and augmentation, dropout seeded by (seed, step), evaluation
// every epoch, metrics.jsonl, and checkpoints from which a resumed run reaches bit-identical weights.
//
// Determinism: everything random is a function of (seed, epoch, position) or (seed, step) (BatchLoader,
// dropout, initialisation), and a checkpoint holds the exact float32 weights and momentum, the loader position,
// the schedule state and the step count. A resumed run therefore issues exactly the GPU work the uninterrupted
// run would have issued from that step on.

import { formatAdapter } from "../gpu/device.ts";
import type { Gpu } from "../gpu/runtime.ts";
import { Network } from "../nn/network.ts";
import { softmaxCrossEntropy } from "../nn/ops/loss.ts";
import { BatchLoader, type Dataset, type LoaderState } from "../data/index.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  checkSameArchitecture,
  loadCheckpoint,
  type Preprocess,
  saveCheckpoint,
} from "../io/checkpoint.ts";
import { resumeMismatches, validateTrainConfig } from "./config.ts";
import { firstStepAtOrBelow, smooth } from "./curve.ts";
import { computePreprocessing, expandMean, loadTrainingData, type Preprocessing } from "./data.ts";
import { type EvalOptions, type EvalResult, evaluateSet } from "./evaluate.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { describeSchedule, LrSchedule, scheduleAtStart, type ScheduleState } from "./schedule.ts";
import type { EpochMetrics, StepMetrics, TrainConfig, TrainResult } from "./types.ts";
import type { TrainingData } from "./data.ts";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const METRICS_FILE = "metrics.jsonl";
export const RESULT_FILE = "result.json";

export interface TrainHooks {
  /** After each epoch's evaluation and checkpoint. */
  onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  /** For each record of `steps` (every config.logEvery steps), a little after the step ran. */
  onStep?: (m: StepMetrics) => void | Promise<void>;
  /** Abort: the run stops before its next step, saves a checkpoint there, and rejects with the reason. */
  signal?: AbortSignal;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** The dataset config.data names, already opened (saves loading it twice). */
  dataset?: Dataset;
  /** Seconds between progress lines (default 5). */
  progressSeconds?: number;
}

/** What a checkpoint's trainState holds (JSON). */
export interface TrainState {
  config: TrainConfig;
  loader: LoaderState;
  schedule: ScheduleState;
  epochs: EpochMetrics[];
  steps: StepMetrics[];
  /** Training statistics of the epoch in progress, so a mid-epoch resume reports whole-epoch numbers. */
  epochAcc: Acc & { trainSeconds: number; seconds: number };
  /** Statistics since the last `steps` record. */
  logAcc: Acc;
  /** Training seconds over all sessions. */
  elapsed: number;
  datasetChecksum: string;
}

interface Acc {
  loss: number;
  errors: number;
  n: number;
}

/** Optional extras each metrics line and EpochMetrics may carry beyond the contract's fields. */
export interface EpochExtras {
  testLoss?: number;
  valLoss?: number;
  /** Which split the plateau schedule watches ("test" when there is no validation split: say so). */
  scheduleOn?: "validation" | "test";
  /** The lr was lowered after this epoch. */
  lrDropped?: boolean;
  /** Stopped by maxSteps before the epoch ended. */
  partial?: boolean;
}

/** Steps whose loss statistics sit in the GPU ring buffer, not yet read back. */
const RING_SLOTS = 64;

function zeroAcc(): Acc {
  return { loss: 0, errors: 0, n: 0 };
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
    ? `${m}m${String(sec).padStart(2, "0")}s`
    : `${sec}s`;
}

const pct = (e: number | undefined) => (e === undefined ? "-" : `${(100 * e).toFixed(2)}%`);

function joinPath(dir: string, file: string): string {
  return dir.endsWith("/") ? dir + file : `${dir}/${file}`;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Trains config.model as config describes; see the file comment and TrainHooks. */
export async function train(gpu: Gpu, config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const run = await TrainingRun.open(gpu, config, hooks);
  try {
    while (run.epochsDone < config.epochs && run.step < run.totalSteps && run.reachedTarget() === null) {
      run.startEpoch();
      for (;;) {
        if (hooks.signal?.aborted) {
          await run.save();
          run.log(`stopped at step ${run.step}; checkpoint saved to ${run.checkpointPath}`);
          throw hooks.signal.reason ?? new DOMException("training aborted", "AbortError");
        }
        const { epochDone, stopping } = await run.trainStep();
        if (config.checkpointEvery && run.step % config.checkpointEvery === 0 && !epochDone && !stopping) {
          await run.save();
        }
        if (epochDone || stopping) {
          // End of an epoch, or of the run (maxSteps) within one: evaluate and record.
          await run.endEpoch(epochDone);
          break;
        }
      }
    }
    const reached = run.reachedTarget();
    if (reached !== null && run.epochsDone < config.epochs) {
      run.log(
        `stopped after epoch ${run.epochsDone}: the training error reached ${
          pct(config.stopAt!.trainError)
        } (moving average of ${config.stopAt!.smooth} records) at step ${reached}`,
      );
    }
    // Nothing left to train (a resumed run that had already stopped): measure what there is.
    if (!run.final) await run.measureOnly();
  } finally {
    await run.close();
  }
  return await run.writeResult();
}

/**
 * One training run: setup or resume (open), one SGD step at a time (trainStep), the end-of-epoch evaluation,
 * schedule and checkpoint (endEpoch), and the result. `train` is the loop over it; the numerics probe of the
 * pipeline's train stage drives the same object for a few steps.
 */
export class TrainingRun {
  readonly net: Network;
  readonly loader: BatchLoader;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly checkpointPath: string;
  readonly log: (line: string) => void;
  final: EpochMetrics | undefined;
  #step: number;
  #epochDone = false;
  #epochStartLr = 0;
  readonly #lr: LrSchedule;
  readonly #ring: Tensor;
  #pending: { step: number; epoch: number; n: number; slot: number }[] = [];
  #inFlight: Promise<void>[] = [];
  #lineAcc = zeroAcc();
  #lastLine = performance.now();
  #lastFlush = performance.now();
  #mark = performance.now();
  readonly #sessionSteps0: number;
  readonly #sessionStart = performance.now();
  readonly #progressMs: number;
  readonly #metricsPath: string;
  readonly #adapter: string;

  private constructor(
    readonly gpu: Gpu,
    readonly config: TrainConfig,
    readonly hooks: TrainHooks,
    readonly data: TrainingData,
    readonly pre: Preprocessing,
    readonly state: TrainState,
    setup: { net: Network; loader: BatchLoader; step: number; checkpointPath: string; metricsPath: string },
  ) {
    this.net = setup.net;
    this.loader = setup.loader;
    this.#step = setup.step;
    this.#sessionSteps0 = setup.step;
    this.checkpointPath = setup.checkpointPath;
    this.#metricsPath = setup.metricsPath;
    this.log = hooks.log ?? ((line: string) => console.error(line));
    this.#progressMs = (hooks.progressSeconds ?? 5) * 1000;
    this.stepsPerEpoch = this.loader.batchesPerEpoch;
    this.totalSteps = Math.min(config.maxSteps ?? Infinity, config.epochs * this.stepsPerEpoch);
    this.#lr = new LrSchedule(config.optim.lr, config.optim.schedule, this.stepsPerEpoch, state);
    this.#adapter = formatAdapter(gpu.adapter);
    this.final = state.epochs[state.epochs.length - 1];
    // Per-step loss statistics are copied into a ring on the GPU and read back every few seconds.
    this.#ring = gpu.tensor([RING_SLOTS * config.optim.batch * 4], "loss-ring", true);
  }

  /** Checks the config against the data, resumes from outDir's checkpoint when asked, builds net and loader. */
  static async open(gpu: Gpu, config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainingRun> {
    validateTrainConfig(config);
    const log = hooks.log ?? ((line: string) => console.error(line));
    const { model, augment, optim } = config;
    const data = await loadTrainingData(config.data, hooks.dataset);
    const [C, H, W] = model.input;
    const stored = data.train;
    if (C !== stored.channels || H !== augment.crop || W !== augment.crop) {
      throw new Error(
        `model ${model.name} takes ${C}x${H}x${W} input, but ${data.name} gives ${stored.channels}-channel images ` +
          `cropped to ${augment.crop}x${augment.crop} (augment.crop): build the model for that input`,
      );
    }
    if (augment.crop > stored.height || augment.crop > stored.width) {
      throw new Error(
        `augment.crop: ${augment.crop} does not fit the ${stored.width}x${stored.height} images`,
      );
    }
    if (model.classes !== data.classes.length) {
      throw new Error(
        `model ${model.name} has ${model.classes} classes, ${data.name} has ${data.classes.length}`,
      );
    }

    await Deno.mkdir(config.outDir, { recursive: true });
    const checkpointPath = await Deno.realPath(config.outDir).then((d) => joinPath(d, CHECKPOINT_FILE));
    const metricsPath = joinPath(config.outDir, METRICS_FILE);
    const resumed = await openResume(config, data, checkpointPath, log);
    const saved = resumed?.meta.trainState as unknown as TrainState | undefined;

    const pre: Preprocessing = resumed
      ? {
        mean: resumed.mean ?? null,
        meanImage: expandMean(resumed.mean, augment.mean, stored, checkpointPath),
        pca: computePreprocessing(stored, { ...augment, mean: "none" }).pca,
      }
      : computePreprocessing(stored, augment);
    if (augment.mean !== "none" && !pre.mean) {
      throw new Error(`${checkpointPath}: holds no preprocessing mean`);
    }

    const net = new Network(gpu, model, config.seed);
    const bs = optim.batch;
    const loader = new BatchLoader(stored, {
      batchSize: bs,
      crop: augment.crop,
      randomCrop: augment.crop < stored.height || augment.crop < stored.width,
      flip: augment.flip,
      pcaNoise: augment.pcaNoise,
      pca: pre.pca,
      mean: pre.meanImage,
      scale: augment.scale,
      seed: config.seed,
      shuffle: true,
      // Equal-sized steps; with fewer images than a batch, one short batch per epoch.
      dropLast: stored.count >= bs,
      reuseBuffers: true,
    });
    const state: TrainState = saved ? { ...saved, config } : {
      config,
      loader: { epoch: 0, index: 0 },
      schedule: scheduleAtStart(optim.schedule, optim.lr, 0),
      epochs: [],
      steps: [],
      epochAcc: { ...zeroAcc(), trainSeconds: 0, seconds: 0 },
      logAcc: zeroAcc(),
      elapsed: 0,
      datasetChecksum: data.checksum,
    };
    const step = resumed ? resumed.meta.step : 0;
    if (resumed) {
      // The constructor records clears of the momentum buffers; queue writes would overtake them if unsubmitted.
      gpu.submit();
      net.loadWeights(resumed.weights);
      net.loadMomentum(resumed.momentum!);
      loader.restore(state.loader);
      // Metrics lines after the checkpoint belong to work that is about to be redone.
      await Deno.writeTextFile(metricsPath, state.epochs.map((m) => JSON.stringify(m) + "\n").join(""));
      log(
        `resuming ${checkpointPath} at step ${step}, epoch ${
          state.loader.epoch + 1
        } (image ${state.loader.index} of ` +
          `${loader.samplesPerEpoch})`,
      );
    } else {
      await Deno.writeTextFile(metricsPath, "");
    }
    const run = new TrainingRun(gpu, config, hooks, data, pre, state, {
      net,
      loader,
      step,
      checkpointPath,
      metricsPath,
    });
    if (!resumed) run.#announce();
    return run;
  }

  get step(): number {
    return this.#step;
  }

  get epochsDone(): number {
    return this.state.epochs.length;
  }

  #announce(): void {
    const { model, optim } = this.config;
    const { data } = this;
    this.log(
      `training ${model.name} on ${data.name}: ${data.train.count} train / ${
        data.val ? `${data.val.count} val / ` : ""
      }` +
        `${data.test.count} test images, ${this.stepsPerEpoch} steps of ${optim.batch} per epoch, ` +
        `${this.config.epochs} epochs` +
        (this.config.maxSteps ? ` (at most ${this.config.maxSteps} steps)` : "") +
        `, ${describeSchedule(optim.schedule)}` +
        (optim.schedule.kind === "plateau" ? ` on ${this.#scheduleOn} error` : ""),
    );
  }

  get #scheduleOn(): "validation" | "test" {
    return this.data.val ? "validation" : "test";
  }

  /** Wall-clock bookkeeping: every interval is charged to the epoch and the run, training ones also to images/s. */
  #tick(training: boolean): void {
    const now = performance.now();
    const dt = (now - this.#mark) / 1000;
    this.#mark = now;
    this.state.epochAcc.seconds += dt;
    if (training) this.state.epochAcc.trainSeconds += dt;
    this.state.elapsed += dt;
  }

  /** Begins the next epoch: checks the loader agrees, notes the lr the epoch's metrics report. */
  startEpoch(): void {
    if (this.#pending.length === 0 && this.#step === this.#sessionSteps0) this.#mark = performance.now();
    const epoch = this.loader.state().epoch;
    if (epoch !== this.state.epochs.length) {
      throw new Error(
        `internal: the loader is at epoch ${epoch + 1} after ${this.state.epochs.length} epochs`,
      );
    }
    this.#epochDone = false;
    this.#epochStartLr = this.#lr.epochStartLr(this.#step);
  }

  /**
   * Records the whole step (forward, loss, backward, SGD) on the next batch and submits it as one unit. It is
   * submitted before the next batch is written: queue writes overtake commands recorded but unsubmitted.
   */
  async trainStep(): Promise<{ epochDone: boolean; stopping: boolean }> {
    const { gpu, net, config } = this;
    const { model, optim } = config;
    const [C, H, W] = model.input;
    const batch = this.loader.next();
    const epoch = batch.epoch;
    const lr = this.#lr.lrForStep(this.#step);
    const x = gpu.tensor([batch.n, C, H, W], "input");
    gpu.write(x, batch.x);
    const labels = gpu.tensor([batch.n], "labels");
    gpu.writeU32(labels, batch.labels);
    const logits = net.forward(x, { training: true, seed: config.seed, step: this.#step });
    const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, model.classes);
    net.backward(dlogits);
    net.sgdStep({ lr, momentum: optim.momentum, weightDecay: optim.weightDecay });
    const slot = this.#pending.length;
    gpu.copy(stats, this.#ring, batch.n * 4, 0, slot * optim.batch * 4);
    gpu.submit();
    gpu.release(x, labels, logits, dlogits, stats);
    this.#step++;
    this.#pending.push({ step: this.#step, epoch, n: batch.n, slot });
    const epochDone = this.#epochDone = batch.last;
    const stopping = this.#step >= this.totalSteps;
    // The CPU builds the next batch while the GPU runs; at most two steps are queued, so progress lines and the
    // loss readback stay close to the GPU.
    this.#inFlight.push(gpu.device.queue.onSubmittedWorkDone());
    if (!stopping) this.loader.prefetch();
    if (this.#inFlight.length >= 2) await this.#inFlight.shift();
    if (
      epochDone || stopping || this.#pending.length >= RING_SLOTS ||
      performance.now() - this.#lastFlush >= this.#progressMs
    ) {
      await this.flush();
      this.#inFlight = [];
    }
    return { epochDone, stopping };
  }

  /** Reads the queued steps' loss statistics back into the running totals, `steps` records and progress lines. */
  async flush(): Promise<void> {
    const { state, config } = this;
    const bs = config.optim.batch;
    this.#lastFlush = performance.now();
    if (!this.#pending.length) return;
    const pending = this.#pending;
    const used = pending[pending.length - 1].slot + 1;
    const stats = await this.gpu.read(this.#ring, used * bs * 4);
    this.#tick(true);
    for (const p of pending) {
      let loss = 0, correct = 0;
      for (let i = 0; i < p.n; i++) {
        const o = (p.slot * bs + i) * 4;
        loss += stats[o];
        correct += stats[o + 1];
      }
      if (!Number.isFinite(loss)) {
        throw new Error(
          `training diverged: the loss is ${loss / p.n} at step ${p.step} (epoch ${p.epoch + 1}); ` +
            `lower the learning rate (optim.lr ${config.optim.lr}, now ${state.schedule.lr})`,
        );
      }
      for (const a of [state.epochAcc, state.logAcc, this.#lineAcc]) {
        a.loss += loss;
        a.errors += p.n - correct;
        a.n += p.n;
      }
      if (config.logEvery && p.step % config.logEvery === 0) {
        const rec: StepMetrics = {
          step: p.step,
          epoch: p.epoch + 1,
          loss: state.logAcc.loss / state.logAcc.n,
          error: state.logAcc.errors / state.logAcc.n,
        };
        state.steps.push(rec);
        state.logAcc = zeroAcc();
        await this.hooks.onStep?.(rec);
      }
    }
    const last = pending[pending.length - 1];
    this.#pending = [];
    if (performance.now() - this.#lastLine >= this.#progressMs) this.#progressLine(last);
  }

  #progressLine(last: { step: number; epoch: number }): void {
    this.#lastLine = performance.now();
    const recent = { ...this.#lineAcc };
    this.#lineAcc = zeroAcc();
    const a = this.state.epochAcc;
    const secs = (performance.now() - this.#sessionStart) / 1000;
    const done = last.step - this.#sessionSteps0;
    // Loss and error of the batches since the previous line; speed over the epoch so far.
    this.log(
      `epoch ${last.epoch + 1}/${this.config.epochs} step ${last.step}/${this.totalSteps} loss ${
        (recent.loss / Math.max(1, recent.n)).toFixed(4)
      } error ${pct(recent.errors / Math.max(1, recent.n))} lr ${this.state.schedule.lr.toPrecision(3)} ` +
        `${(a.trainSeconds > 0 ? a.n / a.trainSeconds : 0).toFixed(1)} images/s ` +
        `ETA ${fmtTime(done > 0 ? (secs / done) * (this.totalSteps - last.step) : NaN)}`,
    );
  }

  /** Writes the checkpoint: exact weights and momentum, loader position, schedule and metrics so far. */
  async save(): Promise<void> {
    await this.flush();
    this.#tick(true);
    const { config, data, state } = this;
    state.loader = this.loader.state();
    const ckpt: Checkpoint = {
      meta: {
        format: CHECKPOINT_FORMAT,
        model: config.model,
        classes: data.classes,
        step: this.#step,
        epoch: state.epochs.length,
        seed: config.seed,
        preprocess: this.#preprocess(),
        trainState: state as unknown as Record<string, unknown>,
        provenance: {
          dataset: data.name,
          datasetChecksum: data.checksum,
          ...(data.verification ? { dataVerification: data.verification } : {}),
          adapter: this.#adapter,
          metrics: state.epochs[state.epochs.length - 1] ?? null,
        },
      },
      weights: await this.net.exportWeights("value"),
      momentum: await this.net.exportWeights("momentum"),
      mean: this.pre.mean ?? undefined,
    };
    await saveCheckpoint(this.checkpointPath, ckpt);
    this.#tick(false);
  }

  #preprocess(): Preprocess {
    const { augment } = this.config;
    const stored = this.data.train;
    return {
      resize: stored.height,
      crop: augment.crop,
      scale: augment.scale,
      mean: augment.mean,
      channels: stored.channels,
    };
  }

  /** The evaluation options of this run (crop, mean, scale, 10 views), for `evaluateSet`. */
  get evalOptions(): EvalOptions {
    const { augment, optim } = this.config;
    return {
      crop: augment.crop,
      meanImage: this.pre.meanImage,
      scale: augment.scale,
      tenCrop: augment.tenCrop,
      batchSize: optim.batch,
    };
  }

  async #evaluateAll(): Promise<{ val?: EvalResult; test: EvalResult }> {
    this.gpu.submit();
    this.#tick(true);
    const val = this.data.val ? await evaluateSet(this.net, this.data.val, this.evalOptions) : undefined;
    const test = await evaluateSet(this.net, this.data.test, this.evalOptions);
    this.#tick(false);
    return { val, test };
  }

  #epochMetrics(
    r: { val?: EvalResult; test: EvalResult },
    lr: number,
    extras: EpochExtras,
  ): EpochMetrics & EpochExtras {
    const a = this.state.epochAcc;
    return {
      epoch: this.state.epochs.length + 1,
      step: this.#step,
      lr,
      trainLoss: a.loss / Math.max(1, a.n),
      trainError: a.errors / Math.max(1, a.n),
      ...(r.val ? { valTop1Error: r.val.top1Error, valTop5Error: r.val.top5Error, valLoss: r.val.loss } : {}),
      testTop1Error: r.test.top1Error,
      testTop5Error: r.test.top5Error,
      testLoss: r.test.loss,
      seconds: a.seconds,
      imagesPerSecond: a.trainSeconds > 0 ? a.n / a.trainSeconds : 0,
      ...extras,
    };
  }

  /** Evaluates, then records the finished epoch (schedule, metrics line, checkpoint) or the partial one. */
  async endEpoch(epochDone: boolean): Promise<void> {
    const { state, config } = this;
    const r = await this.#evaluateAll();
    if (!epochDone) {
      const m = this.#epochMetrics(r, state.schedule.lr, { partial: true });
      this.final = m;
      await Deno.writeTextFile(this.#metricsPath, JSON.stringify(m) + "\n", { append: true });
      await this.save();
      this.log(
        `stopped after ${this.#step} steps (maxSteps) in epoch ${m.epoch}: test top-1 ${
          pct(m.testTop1Error)
        } ` +
          `top-5 ${pct(m.testTop5Error)}`,
      );
      return;
    }
    const lrUsed = this.#epochStartLr;
    const monitored = r.val ? r.val.top1Error : r.test.top1Error;
    const next = this.#lr.afterEpoch(state.epochs.length + 1, monitored);
    const dropped = next.dropped || next.state.lr !== lrUsed;
    const m = this.#epochMetrics(r, lrUsed, {
      ...(config.optim.schedule.kind === "plateau" ? { scheduleOn: this.#scheduleOn } : {}),
      ...(dropped ? { lrDropped: true } : {}),
    });
    state.epochs.push(m);
    state.epochAcc = { ...zeroAcc(), trainSeconds: 0, seconds: 0 };
    this.final = m;
    await Deno.writeTextFile(this.#metricsPath, JSON.stringify(m) + "\n", { append: true });
    await this.save();
    this.log(
      `epoch ${m.epoch}/${config.epochs} done: train loss ${m.trainLoss.toFixed(4)} error ${
        pct(m.trainError)
      }` +
        (r.val ? `, val top-1 ${pct(m.valTop1Error)} top-5 ${pct(m.valTop5Error)}` : "") +
        `, test top-1 ${pct(m.testTop1Error)} top-5 ${pct(m.testTop5Error)}${
          config.augment.tenCrop ? " (10 views)" : ""
        }` +
        `, lr ${lrUsed.toPrecision(3)}${dropped ? ` -> ${next.state.lr.toPrecision(3)}` : ""}, ` +
        `${fmtTime(m.seconds)}, ${m.imagesPerSecond.toFixed(1)} images/s`,
    );
    await this.hooks.onEpoch?.(m);
  }

  /** The step at which config.stopAt's training error was first reached, or null (never, or no stopAt). */
  reachedTarget(): number | null {
    const stop = this.config.stopAt;
    if (!stop) return null;
    return firstStepAtOrBelow(smooth(this.state.steps, stop.smooth), stop.trainError);
  }

  /** Evaluates without training (a resumed run with nothing left to do). */
  async measureOnly(): Promise<void> {
    this.final = this.#epochMetrics(await this.#evaluateAll(), this.state.schedule.lr, { partial: true });
  }

  /** Waits for queued GPU work and frees the run's GPU memory. */
  async close(): Promise<void> {
    await Promise.all(this.#inFlight).catch(() => {});
    this.#ring.release();
    this.net.destroy();
  }

  async writeResult(): Promise<TrainResult> {
    const { config, data, state } = this;
    const result: TrainResult = {
      config,
      epochs: state.epochs,
      steps: state.steps,
      final: this.final!,
      checkpoint: this.checkpointPath,
      classes: data.classes,
      adapter: this.#adapter,
      seconds: state.elapsed,
      datasetChecksum: data.checksum,
      ...(config.stopAt ? { reachedTargetAt: this.reachedTarget() } : {}),
    };
    await Deno.writeTextFile(joinPath(config.outDir, RESULT_FILE), JSON.stringify(result, null, 2) + "\n");
    return result;
  }
}

/** The checkpoint in outDir to resume from (checked against this config and data), or null. */
async function openResume(
  config: TrainConfig,
  data: TrainingData,
  ckptPath: string,
  log: (line: string) => void,
): Promise<Checkpoint | null> {
  if (!(await fileExists(ckptPath))) {
    if (config.resume) log(`no checkpoint in ${config.outDir} to resume from; starting from scratch`);
    return null;
  }
  if (!config.resume) {
    log(`${ckptPath} exists from an earlier run; starting over (resume continues it instead)`);
    return null;
  }
  const resumed = await loadCheckpoint(ckptPath);
  checkSameArchitecture(config.model, resumed.meta.model, ckptPath);
  const saved = resumed.meta.trainState as unknown as TrainState | null;
  if (!saved?.config || !saved.loader || !saved.schedule) {
    throw new Error(
      `${ckptPath}: holds no training state (a weights-only checkpoint?); cannot resume from it`,
    );
  }
  if (!resumed.momentum) throw new Error(`${ckptPath}: holds no optimizer momentum; cannot resume exactly`);
  const diff = resumeMismatches(saved.config, config);
  if (saved.datasetChecksum !== data.checksum) {
    diff.push(`dataset checksum: checkpoint ${saved.datasetChecksum}, now ${data.checksum}`);
  }
  if (diff.length) {
    throw new Error(
      `${ckptPath}: cannot resume: the run was started with other settings (use the same ones, or another ` +
        `output folder):\n  ${diff.join("\n  ")}`,
    );
  }
  return resumed;
}
