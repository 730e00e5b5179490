// `kind: neighbours-measure`: Figure 4's claim as a number over a whole test set. For every test image of the
// run, the share of its k nearest training images (Euclidean distance in the net's features, the layer Figure 4
// uses) that have its class. The figure's few queries are a picture; this is a per-seed value an interval over
// seeds can decide, against the same share by raw pixels (`pixel-neighbours-measure`, which needs no net).

import { defineStageKind, type ParamSpec, type StageContext, type StageResult } from "../pipeline/types.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import {
  buildNetwork,
  featureLayer,
  forwardRows,
  type LoadedRun,
  loadTrainedRun,
  standInRun,
} from "./inference.ts";
import { checkNeedsOneTrain, upstreamTrain } from "./train.ts";
import { sameClassShare } from "./neighbour_share.ts";

export interface NeighboursMeasureParams {
  train: string;
  neighbours: number;
  batch: number;
}

/** k, the same for the features' share and the pixels' (pixel_neighbours_measure.ts). */
export const NEIGHBOURS_PARAM: ParamSpec = {
  type: "integer",
  default: 6,
  min: 1,
  max: 50,
  doc: "nearest training images per test image",
};

export const neighboursMeasureStageKind = defineStageKind<NeighboursMeasureParams>({
  name: "neighbours-measure",
  description:
    "Figure 4 as a measure: share of same-class images among each test image's nearest training images " +
    "by the net's features, over every test image",
  params: {
    train: {
      type: "string",
      default: "",
      doc: "train stage whose checkpoint is used (default: the only one)",
    },
    neighbours: NEIGHBOURS_PARAM,
    batch: { type: "integer", default: 64, min: 1, doc: "images per forward pass" },
  },
  validateParams: (params, info) => checkNeedsOneTrain(params.train, info),
  async run(ctx) {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined);
    if (trained.outputs.skipped) return { skipped: true, reason: trained.outputs.reason, scale: "not run" };
    return await measure(ctx, trained, await loadTrainedRun(ctx.resources, trained));
  },
  async fingerprint(ctx) {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined);
    if (trained.outputs.skipped) return { exact: { skipped: "yes" }, measures: {} };
    // The initial weights over a small search set and a few test images: the same features and search.
    const run = await standInRun(ctx, trained, { limitTrain: 4 * ctx.params.neighbours, limitTest: 20 });
    return fingerprintByRunning((c) => measure(c, trained, run), ctx, { numbersAsMeasures: true });
  },
});

async function measure(ctx: StageContext<NeighboursMeasureParams>, trained: StageResult, run: LoadedRun) {
  const p = ctx.params;
  const { train, test } = run.data;
  const net = buildNetwork(run);
  const feature = featureLayer(net.spec);
  let trainFeatures: Float32Array, testFeatures: Float32Array, dim: number;
  try {
    const every = (n: number) => Array.from({ length: n }, (_, i) => i);
    const options = { batch: p.batch, layer: feature.index };
    const t = await forwardRows(net, run, train, every(train.count), options);
    trainFeatures = t.rows;
    dim = t.dim;
    testFeatures = (await forwardRows(net, run, test, every(test.count), options)).rows;
  } finally {
    net.destroy();
  }
  const t0 = performance.now();
  const features = sameClassShare(trainFeatures, train.labels, testFeatures, test.labels, dim, p.neighbours);
  ctx.log(
    `same-class share of the ${p.neighbours} nearest of ${train.count} training images, over all ${test.count} ` +
      `test images by ${feature.name}: ${(100 * features).toFixed(1)}% ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return {
    feature_layer: feature.name,
    feature_dim: dim,
    neighbours: p.neighbours,
    test_images: test.count,
    searched_train_images: train.count,
    neighbour_same_class: features,
    model: run.ckpt.meta.model.name,
    scale:
      `${trained.outputs.scale ?? ""}; every one of the ${test.count} test images against ${train.count} ` +
      "training images",
  };
}
