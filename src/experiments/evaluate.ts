// `kind: evaluate`: top-1/top-5 error of a trained checkpoint on its test split, with a single centre crop and
// with the paper's 10-view averaging (section 4.1), so Table 1's "with and without averaging" is measured.

import { defineStageKind, type ParamIssue, type StageContext, type StageResult } from "../pipeline/types.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { evaluateSet } from "../train/evaluate.ts";
import { buildNetwork, type LoadedRun, loadTrainedRun, standInRun } from "./inference.ts";
import { upstreamTrain } from "./train.ts";
import { pct } from "./util.ts";

export interface EvaluateParams {
  train: string;
  ten_crop: boolean;
  single_crop: boolean;
  split: "test" | "val" | "train";
  limit: number;
  batch: number;
}

export const evaluateStageKind = defineStageKind<EvaluateParams>({
  name: "evaluate",
  description: "Top-1/top-5 error of a trained checkpoint: centre crop and 10-view softmax averaging",
  params: {
    train: {
      type: "string",
      default: "",
      doc: "the train stage to evaluate (default: the only one in needs)",
    },
    ten_crop: { type: "boolean", default: true, doc: "average the softmax over 10 views (paper)" },
    single_crop: { type: "boolean", default: true, doc: "also measure the single centre crop" },
    split: {
      type: "enum",
      values: ["test", "val", "train"],
      default: "test",
      doc:
        "which split; train measures the training images in eval mode (no dropout, centre crop), for overfitting",
    },
    limit: { type: "integer", default: 0, min: 0, doc: "balanced subset of N images; 0 = as trained" },
    batch: { type: "integer", default: 100, min: 10, doc: "network inputs per forward pass" },
  },
  validateParams(params, info) {
    const issues: ParamIssue[] = [];
    const trains = info.needs.filter((need) => info.stages[need]?.kind === "train");
    if (params.train && !info.needs.includes(params.train)) {
      issues.push({ path: ["train"], message: `"${params.train}" is not in this stage's needs` });
    } else if (!params.train && trains.length !== 1) {
      issues.push({
        path: [],
        message: "evaluate needs exactly one train stage (or name it: train: <stage>)",
      });
    }
    return issues;
  },
  async run(ctx) {
    const p = ctx.params;
    const trained = upstreamTrain(ctx.inputs, p.train || undefined);
    if (trained.outputs.skipped) {
      return {
        skipped: true,
        reason: trained.outputs.reason,
        needs: trained.outputs.needs ?? "",
        scale: "not run",
      };
    }
    return evaluateWith(
      ctx,
      trained,
      await loadTrainedRun(ctx.resources, trained, p.limit ? { limitTest: p.limit } : {}),
    );
  },
  fingerprint(ctx) {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined);
    if (trained.outputs.skipped) return Promise.resolve({ exact: { skipped: "yes" }, measures: {} });
    // About one forward batch of test images, through the same evaluation with initial weights.
    const images = Math.max(10, Math.floor(ctx.params.batch / 10));
    return fingerprintByRunning(
      async (c) => evaluateWith(c, trained, await standInRun(c, trained, { limitTest: images })),
      ctx,
      { numbersAsMeasures: true },
    );
  },
});

async function evaluateWith(ctx: StageContext<EvaluateParams>, trained: StageResult, run: LoadedRun) {
  const p = ctx.params;
  const set = p.split === "val" ? run.data.val : p.split === "train" ? run.data.train : run.data.test;
  if (!set) throw new Error(`${trained.id} held out no validation images; use split: test`);
  const pre = run.ckpt.meta.preprocess;
  const net = buildNetwork(run);
  // Every key is present (null when not measured), so report tables work with either option off.
  const out: Record<string, number | null> = {
    single_top1_error: null,
    single_top5_error: null,
    single_loss: null,
    ten_top1_error: null,
    ten_top5_error: null,
    ten_loss: null,
  };
  try {
    const common = { crop: pre.crop, meanImage: run.meanImage, scale: pre.scale, batchSize: p.batch };
    if (p.single_crop) {
      const r = await evaluateSet(net, set, { ...common, tenCrop: false });
      Object.assign(out, {
        single_top1_error: r.top1Error,
        single_top5_error: r.top5Error,
        single_loss: r.loss,
      });
      ctx.log(`centre crop: top-1 ${pct(r.top1Error)} top-5 ${pct(r.top5Error)}`);
    }
    if (p.ten_crop) {
      const r = await evaluateSet(net, set, { ...common, tenCrop: true });
      Object.assign(out, { ten_top1_error: r.top1Error, ten_top5_error: r.top5Error, ten_loss: r.loss });
      ctx.log(`10 views: top-1 ${pct(r.top1Error)} top-5 ${pct(r.top5Error)}`);
    }
  } finally {
    net.destroy();
  }
  const best = p.ten_crop ? "ten" : "single";
  return {
    ...out,
    top1_error: out[`${best}_top1_error`],
    top5_error: out[`${best}_top5_error`],
    averaging_effect_top1: p.ten_crop && p.single_crop ? out.ten_top1_error! - out.single_top1_error! : null,
    averaging_effect_top5: p.ten_crop && p.single_crop ? out.ten_top5_error! - out.single_top5_error! : null,
    images: set.count,
    split: p.split,
    // Overfitting, both in eval mode with a centre crop: the train stage's final test error minus this
    // training error (the train stage's own gap uses the running error, with dropout active).
    ...(p.split === "train"
      ? {
        generalisation_gap: out.single_top1_error === null || typeof trained.outputs.top1_error !== "number"
          ? null
          : trained.outputs.top1_error - out.single_top1_error,
      }
      : {}),
    model: run.ckpt.meta.model.name,
    scale: `${trained.outputs.scale ?? ""}; evaluated on ${set.count} ${p.split} images`,
  };
}
