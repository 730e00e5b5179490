// A learning-rate sweep whose rule is written in the pipeline file before anything runs. Figure 1's nets had
// "the learning rate chosen independently for each network to make training as fast as possible": every
// candidate here trains the arm's net from the same initialisation and data order for `steps` SGD steps, and
// the one with the lowest training error at the end (the mean of the last `smooth` logged records) wins; a
// tie goes to the earlier candidate, and a candidate whose loss diverges loses. A train stage trains with the
// winner through `lr_from`.

import { join } from "@std/path";
import { defineStageKind, type ParamIssue, type ParamSchema, type ParamValues } from "../pipeline/types.ts";
import { probeTraining } from "../train/probe.ts";
import { train } from "../train/trainer.ts";
import { finalError } from "../train/curve.ts";
import { estimateTraining, type TrainParams, trainSetup, trainStageKind } from "./train.ts";
import { sharedGpu } from "./resources.ts";

interface SweepParams extends TrainParams {
  candidates: number[];
  steps: number;
  smooth: number;
}

interface CandidateOutcome {
  lr: number;
  /** Mean training error of the last `smooth` records; null when the candidate diverged. */
  final_train_error: number | null;
  diverged: boolean;
  steps: number;
}

/** The train stage's parameters for one candidate: its lr, `steps` steps, no early stop and no lr source. */
function candidateParams(p: SweepParams, lr: number): TrainParams {
  const { candidates: _c, steps: _s, smooth: _m, ...rest } = p;
  return {
    ...rest,
    lr,
    lr_for: {},
    lr_from: undefined,
    stop_at_train_error: undefined,
    max_steps: p.steps,
    // Enough passes for `steps` whatever the data size; max_steps ends the run.
    epochs: Math.max(p.epochs, p.steps),
    schedule: "fixed",
  };
}

/** The winner: the lowest final training error, earlier candidates winning ties; diverged ones never win. */
export function chooseLearningRate(outcomes: readonly CandidateOutcome[]): number | null {
  let best: CandidateOutcome | null = null;
  for (const o of outcomes) {
    if (o.final_train_error === null) continue;
    if (!best || o.final_train_error < best.final_train_error!) best = o;
  }
  return best?.lr ?? null;
}

const SWEEP_PARAMS: ParamSchema = {
  ...trainStageKind.params,
  candidates: { type: "number[]", required: true, min: 0, doc: "learning rates to try, in order" },
  steps: { type: "integer", required: true, min: 1, doc: "SGD steps each candidate trains" },
  smooth: {
    type: "integer",
    default: 5,
    min: 1,
    doc: "logged records averaged for each candidate's final training error",
  },
};

export const lrSweepStageKind = defineStageKind<SweepParams>({
  name: "lr-sweep",
  description:
    "Trains each candidate learning rate for a fixed number of steps and picks the fastest (lowest " +
    "final training error); a train stage uses it through lr_from",
  params: SWEEP_PARAMS,
  validateParams(params, info) {
    // The candidate nets are train stages in all but the learning rate: the same checks apply.
    const issues: ParamIssue[] = trainStageKind.validateParams?.(params as unknown as ParamValues, info) ??
      [];
    if (params.candidates.length === 0) issues.push({ path: ["candidates"], message: "no candidates" });
    params.candidates.forEach((lr, i) => {
      if (!(lr > 0)) issues.push({ path: ["candidates", i], message: `expected a positive rate, got ${lr}` });
    });
    for (const key of ["lr_from", "stop_at_train_error"] as const) {
      if (params[key] !== undefined) issues.push({ path: [key], message: "not used by a sweep" });
    }
    return issues;
  },
  estimate(params, upstream) {
    const one = estimateTraining(candidateParams(params, params.candidates[0]), upstream);
    if (!one) return undefined;
    const n = params.candidates.length;
    return { flop: n * one.flop, what: `${n} candidates x (${one.what})` };
  },
  async fingerprint(ctx) {
    // The first candidate's training probe: the same code and data path every candidate runs.
    const setup = await trainSetup({ ...ctx, params: candidateParams(ctx.params, ctx.params.candidates[0]) });
    if (!setup) return { exact: { skipped: "no data" }, measures: {} };
    return probeTraining(await sharedGpu(ctx.resources), setup.config, setup.dataset, ctx.outDir);
  },
  async run(ctx) {
    const p = ctx.params;
    const gpu = await sharedGpu(ctx.resources);
    const outcomes: CandidateOutcome[] = [];
    let scale = "";
    for (const lr of p.candidates) {
      const outDir = join(ctx.outDir, `lr=${lr}`);
      await Deno.mkdir(outDir, { recursive: true });
      const setup = await trainSetup({ ...ctx, outDir, params: candidateParams(p, lr) });
      if (!setup) throw new Error("lr-sweep: the upstream dataset is not available");
      scale ||= `${setup.model.name}, ${p.steps} steps of batch ${p.batch} per candidate`;
      try {
        const result = await train(gpu, setup.config, {
          dataset: setup.dataset,
          log: (line) => ctx.log(`lr ${lr}: ${line}`),
          progressSeconds: 30,
        });
        const error = finalError(result.steps, p.smooth);
        outcomes.push({ lr, final_train_error: error, diverged: false, steps: result.final.step });
        ctx.log(`lr ${lr}: final training error ${(100 * error).toFixed(2)}%`);
      } catch (e) {
        if (!/training diverged/.test((e as Error).message)) throw e;
        outcomes.push({ lr, final_train_error: null, diverged: true, steps: 0 });
        ctx.log(`lr ${lr}: diverged (${(e as Error).message})`);
      }
    }
    const chosen = chooseLearningRate(outcomes);
    if (chosen === null) throw new Error(`lr-sweep: every candidate diverged (${p.candidates.join(", ")})`);
    ctx.log(`chose lr ${chosen}`);
    return {
      chosen_lr: chosen,
      candidates: outcomes,
      rule: `lowest training error after ${p.steps} steps (mean of the last ${p.smooth} logged records, ` +
        `one every ${p.log_every} steps) among ${
          p.candidates.join(", ")
        }; ties to the earlier, diverged lose`,
      scale,
    };
  },
});
