// The numerics probe of a training run (docs/caching.md): what the run's code computes, measured cheaply on the
// run's own configuration and data, so a cache can be keyed by it instead of by source files. It drives the
// real TrainingRun for a few steps, so every kernel, the initialisation, the loss, the SGD update and the
// evaluation aggregation are the ones the run uses; the data order, augmentation draws and learning rates are
// enumerated for every step of the whole run, since those can change late without touching the first steps.

import { createHash } from "node:crypto";
import type { Gpu } from "../gpu/runtime.ts";
import type { Dataset } from "../data/index.ts";
import { type EvalOptions, evaluateSet } from "./evaluate.ts";
import type { Network } from "../nn/network.ts";
import { TrainingRun } from "./trainer.ts";
import { lrTrace } from "./schedule.ts";
import type { TrainConfig } from "./types.ts";

/** SGD steps the probe runs: two, so the second update carries the first one's momentum. */
export const PROBE_STEPS = 2;

export interface NumericsProbe {
  /** Digests (hex) that must match bit for bit. */
  exact: Record<string, string>;
  /** Float results, compared within a relative tolerance. */
  measures: Record<string, number[]>;
}

/** SHA-256 (hex) of the raw bytes of the views, in order: bit-exact numbers. */
export function digest(...views: ArrayBufferView[]): string {
  const hash = createHash("sha256");
  for (const v of views) hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return hash.digest("hex");
}

function digestWeights(weights: Map<string, Float32Array>): string {
  const hash = createHash("sha256");
  for (const [name, values] of [...weights].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(name);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest("hex");
}

/** A fixed pseudo-random sign per index (Knuth's multiplicative hash), for projections. */
function sign(i: number, salt: number): number {
  return (Math.imul(i + 1, 2654435761) ^ salt) & 0x10000 ? 1 : -1;
}

/**
 * Three numbers that move with any change of `values`: its 2-norm and two fixed random projections. A change
 * confined to a few entries still moves the projections by about its own size.
 */
export function summarise(values: ArrayLike<number>): number[] {
  let norm = 0, p1 = 0, p2 = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    norm += v * v;
    p1 += sign(i, 0x5bd1e995) * v;
    p2 += sign(i, 0x1b873593) * v;
  }
  return [Math.sqrt(norm), p1, p2];
}

/**
 * The first `limit` test images through `net` with the run's own evaluation (centre crop or 10-view softmax
 * averaging): their mean loss and two projections of the averaged class probabilities.
 */
export async function probeEvaluation(
  net: Network,
  set: Parameters<typeof evaluateSet>[1],
  options: EvalOptions,
): Promise<number[]> {
  const probs: number[] = [];
  const r = await evaluateSet(net, set, { ...options, observe: (p) => probs.push(...p) });
  return [r.loss, ...summarise(probs)];
}

/** Images of one evaluation batch: batchSize network inputs, so a tenth of that with 10 views. */
export function firstBatchImages(options: EvalOptions): number {
  return Math.max(1, Math.floor((options.batchSize ?? 128) / (options.tenCrop ? 10 : 1)));
}

/** Probes `config` (see the file comment); writes only into `scratchDir`. */
export async function probeTraining(
  gpu: Gpu,
  config: TrainConfig,
  dataset: Dataset | undefined,
  scratchDir: string,
): Promise<NumericsProbe> {
  const run = await TrainingRun.open(
    gpu,
    { ...config, outDir: scratchDir, resume: false, logEvery: 1, checkpointEvery: undefined },
    { dataset, log: () => {} },
  );
  try {
    const exact: Record<string, string> = {};
    const measures: Record<string, number[]> = {};
    const init = await run.net.exportWeights("value");
    exact.initial_weights = digestWeights(init);
    exact.preprocessing = digest(
      run.pre.meanImage ?? new Float32Array(0),
      Float64Array.from(run.pre.pca ? [...run.pre.pca.eigenvalues, ...run.pre.pca.eigenvectors.flat()] : []),
    );
    Object.assign(exact, dataPlan(run));
    // Synthetic errors that improve for three epochs and then stall exercise a plateau schedule's drops.
    const monitored = (epoch: number) => 0.9 - 0.1 * Math.min(epoch, 3);
    exact.learning_rates = digest(
      lrTrace(config.optim.lr, config.optim.schedule, run.stepsPerEpoch, run.totalSteps, monitored),
    );

    const steps = Math.min(PROBE_STEPS, run.totalSteps);
    run.startEpoch();
    for (let i = 0; i < steps; i++) await run.trainStep();
    await run.flush();
    measures.loss = run.state.steps.map((s) => s.loss);
    const after = await run.net.exportWeights("value");
    // One vector per tensor, so a change confined to the biases is not lost beside the weights' scale.
    for (const [name, values] of after) {
      const before = init.get(name)!;
      measures[`update ${name}`] = summarise(values.map((v, i) => v - before[i]));
    }
    const evalOptions = run.evalOptions;
    measures.evaluation = await probeEvaluation(run.net, run.data.test, {
      ...evalOptions,
      limit: firstBatchImages(evalOptions),
    });
    return { exact, measures };
  } finally {
    await run.close();
  }
}

/** Digests of the image order and of the crop, mirror and colour-shift draws of every step the run takes. */
function dataPlan(run: TrainingRun): Record<string, string> {
  const { loader } = run;
  const order = createHash("sha256");
  const draws = createHash("sha256");
  const bs = loader.batchSize;
  const row = new Float64Array(3 + loader.set.channels);
  for (let step = 0, epoch = 0; step < run.totalSteps; epoch++) {
    const steps = Math.min(run.stepsPerEpoch, run.totalSteps - step);
    const o = loader.order(epoch);
    order.update(new Uint8Array(o.buffer, o.byteOffset, o.byteLength));
    const samples = Math.min(loader.samplesPerEpoch, steps * bs);
    for (let pos = 0; pos < samples; pos++) {
      const { spec, shift } = loader.augmentation(epoch, pos);
      row[0] = spec.x;
      row[1] = spec.y;
      row[2] = spec.flip ? 1 : 0;
      row.fill(0, 3);
      if (shift) row.set(shift, 3);
      draws.update(new Uint8Array(row.buffer));
    }
    step += steps;
  }
  return { data_order: order.digest("hex"), augmentation: draws.digest("hex") };
}
