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
import { computePreprocessing, expandMean, loadTrainingData, type Preprocessing } from "./data.ts";
import { type EvalResult, evaluateSet } from "./evaluate.ts";
import {
  describeSchedule,
  scheduleAfterEpoch,
  scheduleAtStart,
  type ScheduleState,
  stepScheduleLrAtStep,
} from "./schedule.ts";
import type { EpochMetrics, StepMetrics, TrainConfig, TrainResult } from "./types.ts";

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
  validateTrainConfig(config);
  const log = hooks.log ?? ((line: string) => console.error(line));
  const progressMs = (hooks.progressSeconds ?? 5) * 1000;
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
    throw new Error(`augment.crop: ${augment.crop} does not fit the ${stored.width}x${stored.height} images`);
  }
  if (model.classes !== data.classes.length) {
    throw new Error(
      `model ${model.name} has ${model.classes} classes, ${data.name} has ${data.classes.length}`,
    );
  }

  await Deno.mkdir(config.outDir, { recursive: true });
  const ckptPath = await Deno.realPath(config.outDir).then((d) => joinPath(d, CHECKPOINT_FILE));
  const metricsPath = joinPath(config.outDir, METRICS_FILE);

  let resumed: Checkpoint | null = null;
  let saved: TrainState | null = null;
  if (await fileExists(ckptPath)) {
    if (config.resume) {
      resumed = await loadCheckpoint(ckptPath);
      checkSameArchitecture(model, resumed.meta.model, ckptPath);
      saved = resumed.meta.trainState as unknown as TrainState | null;
      if (!saved?.config || !saved.loader || !saved.schedule) {
        throw new Error(
          `${ckptPath}: holds no training state (a weights-only checkpoint?); cannot resume from it`,
        );
      }
      if (!resumed.momentum) {
        throw new Error(`${ckptPath}: holds no optimizer momentum; cannot resume exactly`);
      }
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
    } else {
      log(`${ckptPath} exists from an earlier run; starting over (resume continues it instead)`);
    }
  } else if (config.resume) {
    log(`no checkpoint in ${config.outDir} to resume from; starting from scratch`);
  }

  const pre: Preprocessing = resumed
    ? {
      mean: resumed.mean ?? null,
      meanImage: expandMean(resumed.mean, augment.mean, stored, ckptPath),
      pca: computePreprocessing(stored, { ...augment, mean: "none" }).pca,
    }
    : computePreprocessing(stored, augment);
  if (augment.mean !== "none" && !pre.mean) throw new Error(`${ckptPath}: holds no preprocessing mean`);
  const preprocess: Preprocess = {
    resize: stored.height,
    crop: augment.crop,
    scale: augment.scale,
    mean: augment.mean,
    channels: stored.channels,
  };

  const net = new Network(gpu, model, config.seed);
  const bs = optim.batchSize;
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
  const stepsPerEpoch = loader.batchesPerEpoch;
  const totalSteps = Math.min(config.maxSteps ?? Infinity, config.epochs * stepsPerEpoch);

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
  let step = resumed ? resumed.meta.step : 0;
  if (resumed) {
    // The constructor records clears of the momentum buffers; queue writes would overtake them if unsubmitted.
    gpu.submit();
    net.loadWeights(resumed.weights);
    net.loadMomentum(resumed.momentum!);
    loader.restore(state.loader);
    // Metrics lines after the checkpoint belong to work that is about to be redone.
    await Deno.writeTextFile(metricsPath, state.epochs.map((m) => JSON.stringify(m) + "\n").join(""));
    log(
      `resuming ${ckptPath} at step ${step}, epoch ${
        state.loader.epoch + 1
      } (image ${state.loader.index} of ` +
        `${loader.samplesPerEpoch})`,
    );
  } else {
    await Deno.writeTextFile(metricsPath, "");
  }

  const adapter = formatAdapter(gpu.adapter);
  const scheduleOn = data.val ? "validation" : "test";
  if (!resumed) {
    log(
      `training ${model.name} on ${data.name}: ${stored.count} train / ${
        data.val ? `${data.val.count} val / ` : ""
      }` +
        `${data.test.count} test images, ${stepsPerEpoch} steps of ${bs} per epoch, ${config.epochs} epochs` +
        (config.maxSteps ? ` (at most ${config.maxSteps} steps)` : "") +
        `, ${describeSchedule(optim.schedule)}` +
        (optim.schedule.kind === "plateau" ? ` on ${scheduleOn} error` : ""),
    );
  }

  // Per-step loss statistics are copied into a ring on the GPU and read back every few seconds.
  const ring = gpu.tensor([RING_SLOTS * bs * 4], "loss-ring", true);
  let pending: { step: number; epoch: number; n: number; slot: number }[] = [];
  let lastLine = performance.now();
  let lastFlush = performance.now();
  const sessionSteps0 = step;
  const sessionStart = performance.now();
  let inFlight: Promise<void>[] = [];
  let lineAcc = zeroAcc();
  const evalOpts = {
    crop: augment.crop,
    meanImage: pre.meanImage,
    scale: augment.scale,
    tenCrop: augment.tenCrop,
  };

  // Wall-clock bookkeeping: every interval is charged to the epoch and the run, training intervals also to
  // the images/s figure (evaluation and checkpoint writes are not).
  let mark = performance.now();
  const tick = (training: boolean) => {
    const now = performance.now();
    const dt = (now - mark) / 1000;
    mark = now;
    state.epochAcc.seconds += dt;
    if (training) state.epochAcc.trainSeconds += dt;
    state.elapsed += dt;
  };

  const flush = async () => {
    lastFlush = performance.now();
    if (!pending.length) return;
    const used = pending[pending.length - 1].slot + 1;
    const stats = await gpu.read(ring, used * bs * 4);
    tick(true);
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
            `lower the learning rate (optim.lr ${optim.lr}, now ${state.schedule.lr})`,
        );
      }
      for (const a of [state.epochAcc, state.logAcc, lineAcc]) {
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
        await hooks.onStep?.(rec);
      }
    }
    const last = pending[pending.length - 1];
    pending = [];
    if (performance.now() - lastLine >= progressMs) {
      lastLine = performance.now();
      const recent = { ...lineAcc };
      lineAcc = zeroAcc();
      const a = state.epochAcc;
      const secs = (performance.now() - sessionStart) / 1000;
      const done = last.step - sessionSteps0;
      // Loss and error of the batches since the previous line; speed over the epoch so far.
      log(
        `epoch ${last.epoch + 1}/${config.epochs} step ${last.step}/${totalSteps} loss ${
          (recent.loss / Math.max(1, recent.n)).toFixed(4)
        } error ${pct(recent.errors / Math.max(1, recent.n))} lr ${state.schedule.lr.toPrecision(3)} ` +
          `${(a.trainSeconds > 0 ? a.n / a.trainSeconds : 0).toFixed(1)} images/s ` +
          `ETA ${fmtTime(done > 0 ? (secs / done) * (totalSteps - last.step) : NaN)}`,
      );
    }
  };

  const save = async () => {
    await flush();
    tick(true);
    state.loader = loader.state();
    const ckpt: Checkpoint = {
      meta: {
        format: CHECKPOINT_FORMAT,
        model,
        classes: data.classes,
        step,
        epoch: state.epochs.length,
        seed: config.seed,
        preprocess,
        trainState: state as unknown as Record<string, unknown>,
        provenance: {
          dataset: data.name,
          datasetChecksum: data.checksum,
          ...(data.verification ? { dataVerification: data.verification } : {}),
          adapter,
          metrics: state.epochs[state.epochs.length - 1] ?? null,
        },
      },
      weights: await net.exportWeights("value"),
      momentum: await net.exportWeights("momentum"),
      mean: pre.mean ?? undefined,
    };
    await saveCheckpoint(ckptPath, ckpt);
    tick(false);
  };

  const evaluateAll = async () => {
    gpu.submit();
    tick(true);
    const val = data.val ? await evaluateSet(net, data.val, { ...evalOpts, batchSize: bs }) : undefined;
    const test = await evaluateSet(net, data.test, { ...evalOpts, batchSize: bs });
    tick(false);
    return { val, test };
  };

  const epochMetrics = (
    r: { val?: EvalResult; test: EvalResult },
    lr: number,
    extras: EpochExtras,
  ): EpochMetrics & EpochExtras => {
    const a = state.epochAcc;
    return {
      epoch: state.epochs.length + 1,
      step,
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
  };

  let final: EpochMetrics | undefined = state.epochs[state.epochs.length - 1];
  try {
    mark = performance.now();
    while (state.epochs.length < config.epochs && step < totalSteps) {
      const epoch = loader.state().epoch;
      if (epoch !== state.epochs.length) {
        throw new Error(`internal: the loader is at epoch ${epoch + 1} after ${state.epochs.length} epochs`);
      }
      let epochDone = false;
      const epochStartLr = optim.schedule.kind === "step"
        ? stepScheduleLrAtStep(optim.lr, optim.schedule, step, stepsPerEpoch).lr
        : state.schedule.lr;
      for (;;) {
        if (hooks.signal?.aborted) {
          await save();
          log(`stopped at step ${step}; checkpoint saved to ${ckptPath}`);
          throw hooks.signal.reason ?? new DOMException("training aborted", "AbortError");
        }
        const batch = loader.next();
        if (optim.schedule.kind === "step") {
          // Step milestones may fall inside an epoch: the lr is a function of the step count alone.
          const at = stepScheduleLrAtStep(optim.lr, optim.schedule, step, stepsPerEpoch);
          state.schedule = { ...state.schedule, ...at };
        }
        // Record the whole step (forward, loss, backward, SGD) and submit it as one unit. It is submitted
        // before the next batch is written: queue writes overtake commands that are recorded but unsubmitted.
        const x = gpu.tensor([batch.n, C, H, W], "input");
        gpu.write(x, batch.x);
        const labels = gpu.tensor([batch.n], "labels");
        gpu.writeU32(labels, batch.labels);
        const logits = net.forward(x, { training: true, seed: config.seed, step });
        const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, model.classes);
        net.backward(dlogits);
        net.sgdStep({ lr: state.schedule.lr, momentum: optim.momentum, weightDecay: optim.weightDecay });
        const slot = pending.length;
        gpu.copy(stats, ring, batch.n * 4, 0, slot * bs * 4);
        gpu.submit();
        gpu.release(x, labels, logits, dlogits, stats);
        step++;
        pending.push({ step, epoch, n: batch.n, slot });
        epochDone = batch.last;
        const stopping = step >= totalSteps;
        // The CPU builds the next batch while the GPU runs; at most two steps are queued, so progress lines
        // and the loss readback stay close to the GPU.
        inFlight.push(gpu.device.queue.onSubmittedWorkDone());
        if (!stopping) loader.prefetch();
        if (inFlight.length >= 2) await inFlight.shift();
        if (
          epochDone || stopping || pending.length >= RING_SLOTS || performance.now() - lastFlush >= progressMs
        ) {
          await flush();
          inFlight = [];
        }
        if (config.checkpointEvery && step % config.checkpointEvery === 0 && !epochDone && !stopping) {
          await save();
        }
        if (epochDone || stopping) break;
      }
      // End of an epoch, or of the run (maxSteps) within one: evaluate and record.
      const r = await evaluateAll();
      if (epochDone) {
        const lrUsed = epochStartLr;
        const monitored = r.val ? r.val.top1Error : r.test.top1Error;
        const next = scheduleAfterEpoch(
          optim.schedule,
          optim.lr,
          state.schedule,
          state.epochs.length + 1,
          monitored,
        );
        const dropped = next.dropped || next.state.lr !== lrUsed;
        const m = epochMetrics(r, lrUsed, {
          ...(optim.schedule.kind === "plateau" ? { scheduleOn } : {}),
          ...(dropped ? { lrDropped: true } : {}),
        });
        state.schedule = next.state;
        state.epochs.push(m);
        state.epochAcc = { ...zeroAcc(), trainSeconds: 0, seconds: 0 };
        final = m;
        await Deno.writeTextFile(metricsPath, JSON.stringify(m) + "\n", { append: true });
        await save();
        log(
          `epoch ${m.epoch}/${config.epochs} done: train loss ${m.trainLoss.toFixed(4)} error ${
            pct(m.trainError)
          }` +
            (r.val ? `, val top-1 ${pct(m.valTop1Error)} top-5 ${pct(m.valTop5Error)}` : "") +
            `, test top-1 ${pct(m.testTop1Error)} top-5 ${pct(m.testTop5Error)}${
              augment.tenCrop ? " (10 views)" : ""
            }` +
            `, lr ${lrUsed.toPrecision(3)}${dropped ? ` -> ${next.state.lr.toPrecision(3)}` : ""}, ` +
            `${fmtTime(m.seconds)}, ${m.imagesPerSecond.toFixed(1)} images/s`,
        );
        await hooks.onEpoch?.(m);
      } else {
        const m = epochMetrics(r, state.schedule.lr, { partial: true });
        final = m;
        await Deno.writeTextFile(metricsPath, JSON.stringify(m) + "\n", { append: true });
        await save();
        log(
          `stopped after ${step} steps (maxSteps) in epoch ${m.epoch}: test top-1 ${pct(m.testTop1Error)} ` +
            `top-5 ${pct(m.testTop5Error)}`,
        );
      }
    }
    if (!final) {
      // Nothing left to train (a resumed run that had already stopped): measure what there is.
      const r = await evaluateAll();
      final = epochMetrics(r, state.schedule.lr, { partial: true });
    }
  } finally {
    await Promise.all(inFlight).catch(() => {});
    ring.release();
    net.destroy();
  }

  const result: TrainResult = {
    config,
    epochs: state.epochs,
    steps: state.steps,
    final,
    checkpoint: ckptPath,
    classes: data.classes,
    adapter,
    seconds: state.elapsed,
    datasetChecksum: data.checksum,
  };
  await Deno.writeTextFile(joinPath(config.outDir, RESULT_FILE), JSON.stringify(result, null, 2) + "\n");
  return result;
}
