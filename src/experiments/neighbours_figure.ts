// `kind: neighbours-figure`: Figure 4. For a few test images: the top-5 predictions as bars (the true class in
// red, as in the paper), and the six training images whose feature vectors (AlexNet: the 4096-d output of fc7's
// ReLU; smaller nets: their penultimate fc activation) are nearest by Euclidean distance.

import { join } from "@std/path";
import type { ImageSet } from "../data/index.ts";
import { defineStageKind, type StageContext, type StageResult } from "../pipeline/types.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { Canvas, systemFont } from "./canvas.ts";
import {
  buildNetwork,
  featureLayer,
  forwardRows,
  type LoadedRun,
  loadTrainedRun,
  standInRun,
} from "./inference.ts";
import { checkNeedsOneTrain, upstreamTrain } from "./train.ts";

export interface NeighboursParams {
  train: string;
  queries: number;
  neighbours: number;
  train_images: number;
  display: number;
  batch: number;
}

export const NEIGHBOURS_PNG = "neighbours.png";

/** Indices of the `k` smallest squared distances from `query` to each row of `rows` (dim floats each). */
export function nearest(
  rows: Float32Array,
  dim: number,
  query: Float32Array,
  k: number,
): { index: number; distance: number }[] {
  const n = rows.length / dim;
  const best: { index: number; distance: number }[] = [];
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let j = 0; j < dim; j++) {
      const diff = rows[i * dim + j] - query[j];
      d += diff * diff;
    }
    if (best.length < k || d < best[best.length - 1].distance) {
      best.push({ index: i, distance: d });
      best.sort((a, b) => a.distance - b.distance);
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => ({ index: b.index, distance: Math.sqrt(b.distance) }));
}

/** One test image per class in turn (first of each class in stored order), so the figure spans classes. */
export function pickQueries(set: ImageSet, count: number): number[] {
  const chosen: number[] = [];
  const used = new Set<number>();
  for (let i = 0; i < set.count && chosen.length < count; i++) {
    if (!used.has(set.labels[i])) {
      used.add(set.labels[i]);
      chosen.push(i);
    }
  }
  for (let i = 0; i < set.count && chosen.length < count; i++) if (!chosen.includes(i)) chosen.push(i);
  return chosen;
}

/** Nearest training images to test image `index` by L2 distance of the raw pixels (no copy of the set). */
function nearestInPixels(train: ImageSet, test: ImageSet, index: number, k: number): number[] {
  const size = train.channels * train.height * train.width;
  const query = test.pixels.subarray(index * size, (index + 1) * size);
  const best: { index: number; distance: number }[] = [];
  for (let i = 0; i < train.count; i++) {
    const base = i * size;
    let d = 0;
    for (let j = 0; j < size; j++) {
      const diff = train.pixels[base + j] - query[j];
      d += diff * diff;
    }
    if (best.length < k || d < best[best.length - 1].distance) {
      best.push({ index: i, distance: d });
      best.sort((a, b) => a.distance - b.distance);
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b.index);
}

export const neighboursFigureStageKind = defineStageKind<NeighboursParams>({
  name: "neighbours-figure",
  description: "Figure 4: top-5 predictions and the nearest training images by L2 distance of fc7 features",
  params: {
    train: {
      type: "string",
      default: "",
      doc: "train stage whose checkpoint is used (default: the only one)",
    },
    queries: { type: "integer", default: 5, min: 1, max: 50, doc: "test images shown" },
    neighbours: {
      type: "integer",
      default: 6,
      min: 1,
      max: 20,
      doc: "nearest training images per test image",
    },
    train_images: {
      type: "integer",
      default: 0,
      min: 0,
      doc: "search this many training images (balanced subset); 0 = all the run trained on",
    },
    display: { type: "integer", default: 72, min: 16, max: 256, doc: "pixels per shown image" },
    batch: { type: "integer", default: 64, min: 1, doc: "images per forward pass" },
  },
  validateParams: (params, info) => checkNeedsOneTrain(params.train, info),
  async run(ctx) {
    const p = ctx.params;
    const trained = upstreamTrain(ctx.inputs, p.train || undefined);
    if (trained.outputs.skipped) return { skipped: true, reason: trained.outputs.reason, scale: "not run" };
    const limit = p.train_images ? { limitTrain: p.train_images } : {};
    return await drawNeighbours(ctx, trained, await loadTrainedRun(ctx.resources, trained, limit));
  },
  async fingerprint(ctx) {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined);
    if (trained.outputs.skipped) return { exact: { skipped: "yes" }, measures: {} };
    // The figure of the initial weights over a small search set: the same features, search and drawing.
    const run = await standInRun(ctx, trained, { limitTrain: 4 * ctx.params.neighbours, limitTest: 100 });
    return fingerprintByRunning((c) => drawNeighbours(c, trained, run), ctx, { numbersAsMeasures: true });
  },
});

async function drawNeighbours(ctx: StageContext<NeighboursParams>, trained: StageResult, run: LoadedRun) {
  const p = ctx.params;
  const { train: trainSet, test } = run.data;
  const classes = run.data.classes;
  const net = buildNetwork(run);
  const feature = featureLayer(net.spec);
  const queries = pickQueries(test, p.queries);
  let probs: Float32Array, queryFeatures: Float32Array, trainFeatures: Float32Array, dim: number;
  try {
    probs = (await forwardRows(net, run, test, queries, { batch: p.batch })).rows;
    const q = await forwardRows(net, run, test, queries, { batch: p.batch, layer: feature.index });
    queryFeatures = q.rows;
    dim = q.dim;
    const all = Array.from({ length: trainSet.count }, (_, i) => i);
    const t0 = performance.now();
    trainFeatures =
      (await forwardRows(net, run, trainSet, all, { batch: p.batch, layer: feature.index })).rows;
    ctx.log(
      `${feature.name} features (${dim}-d) of ${trainSet.count} training images in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    net.destroy();
  }

  const rows = queries.map((index, q) => {
    const pr = Array.from(probs.subarray(q * classes.length, (q + 1) * classes.length));
    const top5 = pr.map((prob, c) => ({ c, prob })).sort((a, b) => b.prob - a.prob).slice(0, 5);
    const near = nearest(trainFeatures, dim, queryFeatures.subarray(q * dim, (q + 1) * dim), p.neighbours);
    const pixelNear = nearestInPixels(trainSet, test, index, p.neighbours);
    const label = test.labels[index];
    return {
      test_index: index,
      label: classes[label],
      top5: top5.map((t) => ({ class: classes[t.c], probability: t.prob })),
      correct_top1: top5[0].c === label,
      correct_top5: top5.some((t) => t.c === label),
      neighbours: near.map((n) => ({
        train_index: n.index,
        class: classes[trainSet.labels[n.index]],
        distance: n.distance,
      })),
      same_class: near.filter((n) => trainSet.labels[n.index] === label).length / near.length,
      pixel_same_class: pixelNear.filter((i) => trainSet.labels[i] === label).length / pixelNear.length,
    };
  });

  // Layout per row: test image | top-5 bars | neighbours; a header names the columns.
  const font = await systemFont();
  const d = p.display, pad = 8, barsW = Math.max(170, 2 * d), header = 22;
  const width = pad + d + pad + barsW + 2 * pad + p.neighbours * (d + 4) + pad;
  const canvas = new Canvas(width, header + rows.length * (d + pad) + pad, 0xffffffff);
  const nx = pad + d + pad + barsW + 2 * pad;
  await canvas.text(font, pad, 4, "image", 12);
  await canvas.text(font, pad + d + pad, 4, "top-5 (true class red)", 12);
  await canvas.text(font, nx, 4, `${p.neighbours} nearest training images (${feature.name})`, 12);
  for (let q = 0; q < rows.length; q++) {
    const y = header + q * (d + pad);
    canvas.stored(pad, y, test, rows[q].test_index, d);
    const slot = Math.floor(d / 5);
    for (let t = 0; t < rows[q].top5.length; t++) {
      const { class: name, probability } = rows[q].top5[t];
      const colour: [number, number, number] = name === rows[q].label ? [232, 120, 120] : [150, 185, 230];
      const by = y + t * slot;
      canvas.box(pad + d + pad, by + 1, Math.max(1, Math.round(probability * barsW)), slot - 2, colour);
      await canvas.text(
        font,
        pad + d + pad + 3,
        by + Math.max(0, (slot - 12) / 2),
        name,
        Math.min(11, slot - 2),
      );
    }
    rows[q].neighbours.forEach((n, j) => canvas.stored(nx + j * (d + 4), y, trainSet, n.train_index, d));
  }
  await Deno.writeFile(join(ctx.outDir, NEIGHBOURS_PNG), await canvas.encode());

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    feature_layer: feature.name,
    feature_dim: dim,
    searched_train_images: trainSet.count,
    queries: rows,
    // Share of neighbours with the test image's class: in fc7 space vs in pixel space (the paper's point is
    // that the former is high although the images are not close in pixels).
    neighbour_same_class: mean(rows.map((r) => r.same_class)),
    pixel_neighbour_same_class: mean(rows.map((r) => r.pixel_same_class)),
    table: {
      columns: [
        "test image",
        "true class",
        "top-5 (probability)",
        `${p.neighbours} nearest (class)`,
        "same class",
      ],
      rows: rows.map((r) => [
        `#${r.test_index}`,
        r.label,
        r.top5.map((t) => `${t.class} ${(100 * t.probability).toFixed(0)}%`).join(", "),
        r.neighbours.map((n) => n.class).join(", "),
        `${Math.round(r.same_class * p.neighbours)}/${p.neighbours}`,
      ]),
    },
    model: run.ckpt.meta.model.name,
    scale: `${trained.outputs.scale ?? ""}; neighbours searched among ${trainSet.count} training images`,
    files: { figure: NEIGHBOURS_PNG },
  };
}
