// `kind: evaluate`: top-1/top-5 error of a checkpoint on its test split, with a single centre crop and with the
// paper's 10-view averaging (section 4.1), so Table 1's "with and without averaging" is measured. The checkpoint
// is a train stage's, or one given by path (`checkpoint`, e.g. torchvision's pretrained AlexNet imported with
// `deno task model import`) evaluated on a dataset stage's data; images are presented as the checkpoint says,
// its per-channel std included, exactly as `deno task evaluate` presents them.

import { defineStageKind, type ParamIssue, type StageContext, type StageResult } from "../pipeline/types.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { evaluateSet } from "../train/evaluate.ts";
import {
  buildNetwork,
  checkpointChecksum,
  inputStd,
  loadCheckpointRun,
  type LoadedRun,
  loadTrainedRun,
  standInRun,
} from "./inference.ts";
import { upstreamTrain } from "./train.ts";
import { checkNeedsOneDataset, type DatasetSummary, upstreamDataset } from "./dataset.ts";
import { pct } from "./util.ts";

export interface EvaluateParams {
  train: string;
  ten_crop: boolean;
  single_crop: boolean;
  split: "test" | "val" | "train";
  limit: number;
  batch: number;
  /** Optional (no defaults, so the evaluate stages of trained nets keep their cache keys): see the schema. */
  checkpoint?: string;
  needs_text?: string;
}

/** Images the probe of a checkpoint given by path evaluates (with 10 views each when ten_crop is on). */
const CHECKPOINT_PROBE_IMAGES = 1;

export const evaluateStageKind = defineStageKind<EvaluateParams>({
  name: "evaluate",
  description:
    "Top-1/top-5 error of a trained (or given) checkpoint: centre crop and 10-view softmax averaging",
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
    checkpoint: {
      type: "string",
      doc: "a checkpoint file to evaluate on the dataset stage in needs, instead of a train stage's; " +
        '"" = none given: the stage is skipped, saying needs_text',
    },
    needs_text: {
      type: "string",
      doc:
        "with checkpoint: what to tell the reader when no checkpoint is given (how to get one, how to pass it)",
    },
  },
  validateParams(params, info) {
    if (params.checkpoint !== undefined) {
      const issues: ParamIssue[] = checkNeedsOneDataset(info, "an evaluate stage with a checkpoint");
      if (params.train) {
        issues.push({ path: ["train"], message: "give either train (a train stage) or checkpoint (a file)" });
      }
      return issues;
    }
    if (params.needs_text !== undefined) {
      return [{ path: ["needs_text"], message: "needs_text goes with checkpoint" }];
    }
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
  async datasetChecksums(params, { resources }) {
    // The checkpoint's content is part of the stage's identity: a file replaced at the same path reruns it.
    if (!params.checkpoint) return {};
    const sha = await checkpointChecksum(resources, params.checkpoint);
    return sha ? { [`checkpoint:${params.checkpoint}`]: sha } : {};
  },
  async run(ctx) {
    const p = ctx.params;
    if (p.checkpoint !== undefined) {
      const absent = await checkpointAbsence(ctx);
      if (absent) {
        ctx.log(`skipped: ${absent.reason}`);
        return absent;
      }
      const { source, run } = await checkpointRun(ctx, p.limit);
      return evaluateWith(ctx, source, run);
    }
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
      trainedSource(trained),
      await loadTrainedRun(ctx.resources, trained, p.limit ? { limitTest: p.limit } : {}),
    );
  },
  async fingerprint(ctx) {
    if (ctx.params.checkpoint !== undefined) {
      if (await checkpointAbsence(ctx)) return { exact: { skipped: "yes" }, measures: {} };
      // The real weights (the file is here, unlike a trained stage's on a fresh clone), on one image.
      return fingerprintByRunning(
        async (c) => {
          const { source, run } = await checkpointRun(c, CHECKPOINT_PROBE_IMAGES);
          return evaluateWith(c, source, run);
        },
        ctx,
        { numbersAsMeasures: true },
      );
    }
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined);
    if (trained.outputs.skipped) return { exact: { skipped: "yes" }, measures: {} };
    // About one forward batch of test images, through the same evaluation with initial weights.
    const images = Math.max(10, Math.floor(ctx.params.batch / 10));
    return fingerprintByRunning(
      async (c) =>
        evaluateWith(c, trainedSource(trained), await standInRun(c, trained, { limitTest: images })),
      ctx,
      { numbersAsMeasures: true },
    );
  },
});

/** What an evaluation measures, for its messages and its `scale` line. */
interface EvaluatedSource {
  /** The stage (or file) the weights come from. */
  id: string;
  /** The training's or the data's scale line. */
  scale: string;
  /** The train stage's final test error, for the generalisation gap; undefined for a given checkpoint. */
  testTop1Error?: number;
}

function trainedSource(trained: StageResult): EvaluatedSource {
  const error = trained.outputs.top1_error;
  return {
    id: trained.id,
    scale: String(trained.outputs.scale ?? ""),
    ...(typeof error === "number" ? { testTop1Error: error } : {}),
  };
}

/** Loads the checkpoint a stage names with its dataset stage's data, and says what it evaluates. */
async function checkpointRun(
  ctx: StageContext<EvaluateParams>,
  limitTest: number,
): Promise<{ source: EvaluatedSource; run: LoadedRun }> {
  const path = ctx.params.checkpoint!;
  const data = upstreamDataset(ctx.inputs);
  const run = await loadCheckpointRun(ctx.resources, data, path, limitTest ? { limitTest } : {});
  const summary = data.outputs as unknown as DatasetSummary;
  const [, height, width] = summary.image ?? [];
  const scale = `${run.ckpt.meta.model.name} from ${path}; ${summary.name ?? data.id}, ` +
    `${(summary.full_test_images ?? 0).toLocaleString("en-US")} test images stored ${width}x${height}`;
  return { source: { id: path, scale }, run };
}

/**
 * Why a stage with a checkpoint has nothing to evaluate (no data, no checkpoint given, no file there) and what
 * the reader needs for it, as its skipped outputs; undefined when it can run.
 */
async function checkpointAbsence(ctx: StageContext<EvaluateParams>) {
  const data = upstreamDataset(ctx.inputs).outputs as unknown as DatasetSummary;
  const path = ctx.params.checkpoint ?? "";
  const reasons: string[] = [], needs: string[] = [];
  if (!data.available) {
    reasons.push(data.reason ?? "no data");
    if (data.needs) needs.push(data.needs);
  }
  const missing = !path
    ? "no checkpoint given"
    : !(await checkpointChecksum(ctx.resources, path))
    ? `no checkpoint at ${path}`
    : undefined;
  if (missing) {
    reasons.push(missing);
    if (ctx.params.needs_text) needs.push(ctx.params.needs_text);
  }
  if (reasons.length === 0) return undefined;
  const sentence = (text: string) => /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
  return {
    skipped: true,
    reason: reasons.join("; "),
    needs: needs.map(sentence).join(" "),
    scale: "not run",
  };
}

async function evaluateWith(ctx: StageContext<EvaluateParams>, source: EvaluatedSource, run: LoadedRun) {
  const p = ctx.params;
  const set = p.split === "val" ? run.data.val : p.split === "train" ? run.data.train : run.data.test;
  if (!set) throw new Error(`${source.id} held out no validation images; use split: test`);
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
    const common = {
      crop: pre.crop,
      meanImage: run.meanImage,
      scale: pre.scale,
      std: inputStd(run),
      batchSize: p.batch,
    };
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
        generalisation_gap: out.single_top1_error === null || source.testTop1Error === undefined
          ? null
          : source.testTop1Error - out.single_top1_error,
      }
      : {}),
    model: run.ckpt.meta.model.name,
    scale: `${source.scale}; evaluated on ${set.count} ${p.split} images`,
  };
}
