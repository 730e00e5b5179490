// `kind: ensemble`: Table 2's "averaging the predictions of several CNNs": the softmax of every seed's trained
// net on the test split (centre crop), averaged, against the members alone; the effect's interval is a
// jackknife over the nets (src/math/ensemble.ts).

import { defineStageKind, type StageContext, type StageResult } from "../pipeline/types.ts";
import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { ENSEMBLE_INTERVAL_METHOD, ensembleEffect } from "../math/ensemble.ts";
import { buildNetwork, forwardRows, type LoadedRun, loadTrainedRun, standInRun } from "./inference.ts";
import { pct } from "./util.ts";

export interface EnsembleParams {
  train: string;
  batch: number;
}

export const ensembleStageKind = defineStageKind<EnsembleParams>({
  name: "ensemble",
  description: "Error of the averaged softmax of every seed's net minus its members' mean error (Table 2)",
  // One ensemble over all seeds' nets.
  seeds: "all",
  params: {
    train: { type: "string", default: "train", doc: "the train stage whose seeds are the members" },
    batch: { type: "integer", default: 100, min: 10, doc: "network inputs per forward pass" },
  },
  validateParams(params, info) {
    if (!info.needs.includes(params.train)) {
      return [{ path: ["train"], message: `"${params.train}" is not in this stage's needs` }];
    }
    if (info.seeds.length < 3) {
      return [{
        path: [],
        message: `an ensemble with a jackknife interval needs at least 3 seeds, got ${info.seeds.length}`,
      }];
    }
    return [];
  },
  async run(ctx) {
    const members = trainedMembers(ctx);
    const runs: LoadedRun[] = [];
    for (const member of members) runs.push(await loadTrainedRun(ctx.resources, member));
    return measure(ctx, members, runs);
  },
  fingerprint(ctx) {
    // A few test images through the same measurement, each member from its initial weights.
    return fingerprintByRunning(
      async (c) => {
        const members = trainedMembers(c);
        const runs: LoadedRun[] = [];
        for (const member of members) {
          runs.push(await standInRun({ ...c, seed: member.seed ?? c.seed }, member, { limitTest: 20 }));
        }
        return measure(c, members, runs);
      },
      ctx,
      { numbersAsMeasures: true },
    );
  },
});

function trainedMembers(ctx: StageContext<EnsembleParams>): StageResult[] {
  const input = ctx.inputs[ctx.params.train];
  const members = (Array.isArray(input) ? input : input ? [input] : []).slice().sort((a, b) =>
    (a.seed ?? 0) - (b.seed ?? 0)
  );
  const untrained = members.filter((m) => m.outputs.skipped);
  if (untrained.length) throw new Error(`${untrained.map((m) => m.id).join(", ")} did not train`);
  return members;
}

async function measure(ctx: StageContext<EnsembleParams>, members: StageResult[], runs: LoadedRun[]) {
  const test = runs[0].data.test;
  const probs: Float32Array[] = [];
  for (const [i, run] of runs.entries()) {
    if (run.data.test.count !== test.count || run.data.test.labels.some((l, j) => l !== test.labels[j])) {
      throw new Error(`${members[i].id} was tested on other images than ${members[0].id}`);
    }
    const net = buildNetwork(run);
    try {
      const indices = Array.from({ length: test.count }, (_, j) => j);
      probs.push((await forwardRows(net, run, test, indices, { batch: ctx.params.batch })).rows);
    } finally {
      net.destroy();
    }
    ctx.progress(i + 1, runs.length, `member ${members[i].id}`);
  }
  const classes = runs[0].ckpt.meta.model.classes;
  const top1 = ensembleEffect(probs, classes, test.labels, 1);
  const top5 = ensembleEffect(probs, classes, test.labels, Math.min(5, classes));
  ctx.log(
    `${members.length} nets: ensemble top-1 ${pct(top1.ensemble)} against a mean of ` +
      `${pct(top1.members.reduce((a, b) => a + b, 0) / top1.members.length)} (effect ${
        (100 * top1.effect).toFixed(2)
      } points, 95% jackknife interval ${(100 * top1.interval.low).toFixed(2)} to ${
        (100 * top1.interval.high).toFixed(2)
      })`,
  );
  const interval = (e: typeof top1) => ({
    value: e.effect,
    low: e.interval.low,
    high: e.interval.high,
    n: e.interval.n,
    method: ENSEMBLE_INTERVAL_METHOD,
    seeds: members.map((m) => m.seed ?? 0),
  });
  return {
    members: members.map((m, i) => ({
      id: m.id,
      seed: m.seed ?? null,
      top1_error: top1.members[i],
      top5_error: top5.members[i],
    })),
    nets: members.length,
    ensemble_top1_error: top1.ensemble,
    ensemble_top5_error: top5.ensemble,
    effect_top1: interval(top1),
    effect_top5: interval(top5),
    leave_one_out_top1: top1.leaveOneOut,
    leave_one_out_top5: top5.leaveOneOut,
    images: test.count,
    scale: `${members[0].outputs.scale ?? ""}; ${members.length} nets (seeds ${
      members.map((m) => m.seed).join(", ")
    }) averaged on ${test.count} test images, centre crop`,
  };
}
