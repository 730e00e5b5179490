// The stage kinds `deno task reproduce` offers pipelines.

import type { StageKind } from "../pipeline/types.ts";
import { datasetStageKind } from "./dataset.ts";
import { ensembleStageKind } from "./ensemble.ts";
import { evaluateStageKind } from "./evaluate.ts";
import { iterationsToErrorStageKind, reluVsTanhStageKind } from "./iterations.ts";
import { kernelsFigureStageKind } from "./kernels_figure.ts";
import { lrSweepStageKind } from "./lr_sweep.ts";
import { neighboursFigureStageKind } from "./neighbours_figure.ts";
import { paperTableStageKind } from "./paper_table.ts";
import { publishModelStageKind } from "./publish_model.ts";
import { reportStageKind } from "./report_stage.ts";
import { trainStageKind } from "./train.ts";

export {
  datasetStageKind,
  ensembleStageKind,
  evaluateStageKind,
  iterationsToErrorStageKind,
  kernelsFigureStageKind,
  lrSweepStageKind,
  neighboursFigureStageKind,
  paperTableStageKind,
  publishModelStageKind,
  reluVsTanhStageKind,
  reportStageKind,
  trainStageKind,
};

/**
 * A dataset stage's outputs are a function of its parameters and the data it reads (whose checksums are part
 * of every identity): one run serves every pipeline and preset that declares the same data, so a preset's
 * dry run can see which of its trainings are the home preset's (pipeline/identity.ts, runKey).
 */
const sharedDatasetStageKind: StageKind = { ...datasetStageKind, resolvedConfig: ({ params }) => params };

export const REPRODUCE_STAGE_KINDS: readonly StageKind[] = [
  sharedDatasetStageKind,
  lrSweepStageKind,
  trainStageKind,
  evaluateStageKind,
  ensembleStageKind,
  reluVsTanhStageKind,
  iterationsToErrorStageKind,
  kernelsFigureStageKind,
  neighboursFigureStageKind,
  paperTableStageKind,
  publishModelStageKind,
  reportStageKind,
];
