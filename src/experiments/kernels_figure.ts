// `kind: kernels-figure`: Figure 3, the first conv layer's kernels of a trained checkpoint as a PNG grid, each
// kernel normalised to [0, 1] on its own, tower 1 and tower 2 in two blocks (the kernels feeding each group of
// conv2). Also measures how colour-specific and how oriented each tower's kernels are, beside the same measures
// of the same net's initial weights (the seed's initialisation, rebuilt), so "trained" has a baseline.

import { join } from "@std/path";
import { type Checkpoint, loadCheckpoint } from "../io/checkpoint.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { standInRun } from "./inference.ts";
import type { ConvLayer } from "./figure_types.ts";
import { defineStageKind, type StageContext, type StageResult } from "../pipeline/types.ts";
import { Canvas, systemFont } from "./canvas.ts";
import { checkNeedsOneTrain, upstreamTrain } from "./train.ts";
import { fileSha256 } from "./util.ts";
import { colourIndex, kernelSetStats } from "./kernel_measures.ts";

export interface KernelsParams {
  train: string;
  layer: string;
  zoom: number;
  columns: number;
}

export const KERNELS_PNG = "conv1-kernels.png";
/** The same drawing of the same net's initial weights: what "nothing learned" looks like. */
export const INITIAL_KERNELS_PNG = "conv1-kernels-at-init.png";

export const kernelsFigureStageKind = defineStageKind<KernelsParams>({
  name: "kernels-figure",
  description: "Figure 3: a checkpoint's conv1 kernels as a PNG grid, one block per tower",
  params: {
    train: {
      type: "string",
      default: "",
      doc: "train stage whose checkpoint is drawn (default: the only one)",
    },
    layer: { type: "string", default: "conv1", doc: "conv layer to draw (needs 3 input channels)" },
    zoom: { type: "integer", default: 5, min: 1, max: 32, doc: "screen pixels per kernel pixel" },
    columns: { type: "integer", default: 16, min: 1, doc: "kernels per row within a tower's block" },
  },
  validateParams: (params, info) => checkNeedsOneTrain(params.train, info),
  async run(ctx) {
    const p = ctx.params;
    const trained = upstreamTrain(ctx.inputs, p.train || undefined);
    if (trained.outputs.skipped) return { skipped: true, reason: trained.outputs.reason, scale: "not run" };
    const path = join(trained.outDir, String(trained.outputs.checkpoint));
    if ((await fileSha256(path)) !== trained.outputs.checkpoint_sha256) {
      throw new Error(`${path} is missing or changed: rerun ${trained.stage} with --force ${trained.stage}`);
    }
    const initial = await standInRun(ctx, trained, { limitTrain: 1, limitTest: 1 });
    return await drawKernels(ctx, trained, await loadCheckpoint(path), initial.ckpt);
  },
  async fingerprint(ctx) {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined);
    if (trained.outputs.skipped) return { exact: { skipped: "yes" }, measures: {} };
    // The same drawing and statistics of the initial weights (computed on the CPU: bit-exact everywhere).
    const run = await standInRun(ctx, trained, { limitTrain: 1, limitTest: 1 });
    return fingerprintByRunning((c) => drawKernels(c, trained, run.ckpt, run.ckpt), ctx);
  },
});

async function drawKernels(
  ctx: StageContext<KernelsParams>,
  trained: StageResult,
  ckpt: Checkpoint,
  initial: Checkpoint,
) {
  const p = ctx.params;
  const layers = ckpt.meta.model.layers;
  const index = layers.findIndex((l) => "name" in l && l.name === p.layer);
  const layer = layers[index] as ConvLayer | undefined;
  if (!layer || layer.type !== "conv") {
    throw new Error(`${ckpt.meta.model.name} has no conv layer "${p.layer}"`);
  }
  const weights = ckpt.weights.get(`${p.layer}.weight`)!;
  const k = layer.kernel, count = layer.out;
  const cin = weights.length / (count * k * k);
  if (cin !== 3) throw new Error(`${p.layer} reads ${cin} channels; the figure draws RGB kernels`);
  // The towers are the groups of the next conv layer: each reads one half of this layer's kernels.
  const next = layers.slice(index + 1).find((l) => l.type === "conv") as ConvLayer | undefined;
  const towers = next?.groups ?? 1;
  const perTower = count / towers;
  const size = 3 * k * k;
  const indices = Array.from(
    { length: towers },
    (_, t) => Array.from({ length: perTower }, (_, j) => colourIndex(weights, (t * perTower + j) * size, k)),
  );
  const start = initial.weights.get(`${p.layer}.weight`);
  if (!start || start.length !== weights.length) {
    throw new Error(`the initial weights of ${p.layer} do not match the checkpoint's shape`);
  }
  const grid = { layer: p.layer, kernel: k, towers, perTower, columns: p.columns, zoom: p.zoom };
  await Deno.writeFile(join(ctx.outDir, KERNELS_PNG), await drawGrid(weights, grid));
  await Deno.writeFile(join(ctx.outDir, INITIAL_KERNELS_PNG), await drawGrid(start, grid));
  const perTowerStats = (w: Float32Array) =>
    Array.from({ length: towers }, (_, t) => kernelSetStats(w, k, t * perTower, perTower));
  const trainedTowers = perTowerStats(weights), initialTowers = perTowerStats(start);
  const towerStats = indices.map((xs, t) => ({
    tower: t + 1,
    kernels: xs.length,
    mean_colour_index: trainedTowers[t].mean_colour_index,
    colour_specific_share: xs.filter((x) => x > 0.2).length / Math.max(1, xs.length),
    mean_orientation_selectivity: trainedTowers[t].mean_orientation_selectivity,
  }));
  const trainedAll = kernelSetStats(weights, k, 0, count), initialAll = kernelSetStats(start, k, 0, count);
  // The paper's observation, independent of which tower gets which role: one tower's kernels are far more
  // colour-specific than the other's (more colourful tower's mean colour index over the less colourful one's).
  const contrast = (stats: { mean_colour_index: number }[]) => {
    const means = stats.map((s) => s.mean_colour_index).sort((a, b) => a - b);
    return means[means.length - 1] / (means[0] || 1);
  };
  const trainedContrast = towers > 1 ? contrast(trainedTowers) : null;
  const initialContrast = towers > 1 ? contrast(initialTowers) : null;
  return {
    kernels: count,
    kernel_size: k,
    towers,
    tower_stats: towerStats,
    colour_contrast: trainedContrast,
    // The same contrast of the initial weights: what the measure gives with nothing learned.
    colour_contrast_at_init: initialContrast,
    colour_contrast_gain: trainedContrast !== null && initialContrast !== null
      ? trainedContrast / initialContrast
      : null,
    orientation_selectivity: trainedAll.mean_orientation_selectivity,
    orientation_selectivity_at_init: initialAll.mean_orientation_selectivity,
    // Trained over initial: above 1 when training made the kernels oriented (edges, gratings).
    orientation_gain: trainedAll.mean_orientation_selectivity / initialAll.mean_orientation_selectivity,
    colour_index: trainedAll.mean_colour_index,
    colour_index_at_init: initialAll.mean_colour_index,
    model: ckpt.meta.model.name,
    step: ckpt.meta.step,
    scale: String(trained.outputs.scale ?? ""),
    files: { figure: KERNELS_PNG, figure_at_init: INITIAL_KERNELS_PNG },
  };
}

/** How drawGrid lays out a layer's kernels: one block per tower, `columns` kernels a row, `zoom` px a pixel. */
interface GridLayout {
  layer: string;
  kernel: number;
  towers: number;
  perTower: number;
  columns: number;
  zoom: number;
}

/** RGB kernels [count][3][k][k] as a PNG grid, each normalised to [0, 1] on its own, a labelled block per tower. */
async function drawGrid(weights: Float32Array, g: GridLayout): Promise<Uint8Array> {
  const k = g.kernel, size = 3 * k * k;
  const columns = Math.min(g.columns, g.perTower);
  const rows = Math.ceil(g.perTower / columns);
  const cell = k * g.zoom + 2, gap = 14, label = 18;
  const font = await systemFont();
  const blockH = label + rows * cell;
  const canvas = new Canvas(columns * cell + 2, g.towers * blockH + (g.towers - 1) * gap + 2, 0xffffffff);
  const normalised = new Float32Array(size);
  for (let t = 0; t < g.towers; t++) {
    const y0 = t * (blockH + gap);
    await canvas.text(font, 2, y0 + 1, g.towers > 1 ? `tower ${t + 1}` : g.layer, 13);
    for (let j = 0; j < g.perTower; j++) {
      const kernel = t * g.perTower + j;
      let min = Infinity, max = -Infinity;
      for (let i = 0; i < size; i++) {
        const v = weights[kernel * size + i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const range = max - min || 1;
      for (let i = 0; i < size; i++) normalised[i] = (weights[kernel * size + i] - min) / range;
      const x = 1 + (j % columns) * cell, y = y0 + label + Math.floor(j / columns) * cell;
      canvas.planar(x + 1, y + 1, normalised, 3, k, k, g.zoom);
    }
  }
  return await canvas.encode();
}
