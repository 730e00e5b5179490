// The stage kinds `deno task reproduce` offers pipelines.

import type { StageKind } from "../pipeline/types.ts";
import { datasetStageKind } from "./dataset.ts";
import { ensembleStageKind } from "./ensemble.ts";
import { evaluateStageKind } from "./evaluate.ts";
import { iterationsToErrorStageKind, reluVsTanhStageKind } from "./iterations.ts";
import { kernelsFigureStageKind } from "./kernels_figure.ts";
import { lrSweepStageKind } from "./lr_sweep.ts";
import { neighboursFigureStageKind } from "./neighbours_figure.ts";
import { neighboursMeasureStageKind } from "./neighbours_measure.ts";
import { paperTableStageKind } from "./paper_table.ts";
import { pixelNeighboursMeasureStageKind } from "./pixel_neighbours_measure.ts";
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
  neighboursMeasureStageKind,
  paperTableStageKind,
  pixelNeighboursMeasureStageKind,
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

/**
 * The kinds that open a train stage's checkpoint (its `keptFiles`): a training is reused from another record
 * without its checkpoint only where none of these would run on it.
 */
const readsCheckpoints = (kind: StageKind): StageKind => ({ ...kind, readsUpstreamFiles: true });

export const REPRODUCE_STAGE_KINDS: readonly StageKind[] = [
  sharedDatasetStageKind,
  lrSweepStageKind,
  trainStageKind,
  readsCheckpoints(evaluateStageKind),
  readsCheckpoints(ensembleStageKind),
  reluVsTanhStageKind,
  iterationsToErrorStageKind,
  readsCheckpoints(kernelsFigureStageKind),
  readsCheckpoints(neighboursFigureStageKind),
  readsCheckpoints(neighboursMeasureStageKind),
  pixelNeighboursMeasureStageKind,
  paperTableStageKind,
  readsCheckpoints(publishModelStageKind),
  reportStageKind,
];
