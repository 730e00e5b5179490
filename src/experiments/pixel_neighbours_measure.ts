// `kind: pixel-neighbours-measure`: Figure 4's no-effect level over a whole test set. For every test image, the
// share of its k nearest training images by raw pixels (Euclidean distance over the stored bytes) that have its
// class. It depends on the data alone, so a pipeline with several seeds runs it once and every seed's
// `neighbours-measure` is compared with the same value.

import { defineStageKind, type StageContext } from "../pipeline/types.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { loadTrainingData } from "../train/data.ts";
import type { DataConfig } from "../train/types.ts";
import {
  checkNeedsOneDataset,
  dataConfig,
  type DatasetParams,
  type DatasetSummary,
  toSource,
  upstreamDataset,
} from "./dataset.ts";
import { sharedDataset } from "./resources.ts";
import { pixelSameClassShare } from "./neighbour_share.ts";
import { NEIGHBOURS_PARAM } from "./neighbours_measure.ts";

export interface PixelNeighboursMeasureParams {
  neighbours: number;
}

export const pixelNeighboursMeasureStageKind = defineStageKind<PixelNeighboursMeasureParams>({
  name: "pixel-neighbours-measure",
  description:
    "Figure 4's no-effect level: share of same-class images among each test image's nearest training images " +
    "by raw pixels, over every test image (once per dataset, not per seed)",
  params: { neighbours: NEIGHBOURS_PARAM },
  validateParams: (_params, info) => checkNeedsOneDataset(info, "pixel-neighbours-measure"),
  async run(ctx) {
    const summary = upstreamDataset(ctx.inputs).outputs as unknown as DatasetSummary;
    if (!summary.available) return { skipped: true, reason: summary.reason ?? "no data", scale: "not run" };
    return await measure(ctx, {});
  },
  fingerprint(ctx) {
    // The same search over a few training and test images of the same data.
    const limits = { limitTrain: 4 * ctx.params.neighbours, limitTest: 20 };
    return fingerprintByRunning((c) => measure(c, limits), ctx);
  },
});

async function measure(ctx: StageContext<PixelNeighboursMeasureParams>, limits: Partial<DataConfig>) {
  const k = ctx.params.neighbours;
  const params = upstreamDataset(ctx.inputs).params as unknown as DatasetParams;
  const dataset = await sharedDataset(ctx.resources, toSource(params));
  const { train, test } = await loadTrainingData({ ...dataConfig(params), ...limits }, dataset);
  const t0 = performance.now();
  const share = pixelSameClassShare(train, test, k);
  ctx.log(
    `same-class share of the ${k} nearest of ${train.count} training images by pixels, over all ` +
      `${test.count} test images: ${(100 * share).toFixed(1)}% (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
  );
  return {
    neighbours: k,
    test_images: test.count,
    searched_train_images: train.count,
    pixel_neighbour_same_class: share,
    scale: `every one of the ${test.count} test images against ${train.count} training images, ` +
      `${train.channels}x${train.height}x${train.width} bytes each`,
  };
}
