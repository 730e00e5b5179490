// `kind: paper-table`: Tables 1 and 2 of the paper from src/paper/claims.ts, with a "this reproduction" row
// when an upstream evaluate stage measured a net trained on ImageNet-layout data; otherwise the page says what
// data is needed and how to pass it.

import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { findClaim, type PaperClaim } from "../paper/claims.ts";
import { defineStageKind, type StageResult } from "../pipeline/types.ts";

export interface PaperTableParams {
  evaluate: string;
  how_to: string;
}

const figure = (claim: PaperClaim | undefined, metric: string) =>
  claim?.figures.find((f) => f.metric === metric)?.value ?? null;

export const paperTableStageKind = defineStageKind<PaperTableParams>({
  name: "paper-table",
  description: "Tables 1 and 2 (paper numbers) with a reproduced row when ImageNet-layout data was given",
  params: {
    evaluate: { type: "string", default: "evaluate", doc: "the evaluate stage measuring the trained net" },
    how_to: {
      type: "string",
      default: "",
      doc: "text shown when no data was given: what is needed and the command that passes it",
    },
  },
  fingerprint(ctx) {
    return fingerprintByRunning((c) => this.run(c), ctx);
  },
  validateParams(params, info) {
    if (!info.needs.includes(params.evaluate)) {
      return [{ path: ["evaluate"], message: `"${params.evaluate}" is not in this stage's needs` }];
    }
    return [];
  },
  run(ctx) {
    const input = ctx.inputs[ctx.params.evaluate] as StageResult;
    const out = input.outputs;
    const available = !out.skipped && typeof out.top1_error === "number";
    const num = (
      key: string,
    ) => (available && typeof out[key] === "number" ? 100 * (out[key] as number) : null);
    const reproduced = {
      top1: num("ten_top1_error") ?? num("top1_error"),
      top5: num("ten_top5_error") ?? num("top5_error"),
      single_top1: num("single_top1_error"),
      single_top5: num("single_top5_error"),
    };
    const t1 = findClaim("table1"), peers = findClaim("table1-peers"), t2 = findClaim("table2");
    const dash = (x: number | null) => (x === null ? null : Number(x.toFixed(2)));
    const what = available ? String(out.scale ?? "") : "not run: no ImageNet-layout data given";
    const table1 = {
      columns: ["Model", "Top-1 (%)", "Top-5 (%)", "source"],
      rows: [
        [
          "Sparse coding",
          figure(peers, "sparse coding top-1"),
          figure(peers, "sparse coding top-5"),
          "paper",
        ],
        ["SIFT + FVs", figure(peers, "SIFT+FV top-1"), figure(peers, "SIFT+FV top-5"), "paper"],
        ["CNN (10 patches)", figure(t1, "top-1"), figure(t1, "top-5"), "paper"],
        ["CNN (single patch)", figure(t1, "top-1 single patch"), figure(t1, "top-5 single patch"), "paper"],
        ["This reproduction, 10 patches", dash(reproduced.top1), dash(reproduced.top5), what],
        ["This reproduction, single patch", dash(reproduced.single_top1), dash(reproduced.single_top5), what],
      ],
    };
    const table2 = {
      columns: ["Model", "Top-1 (val, %)", "Top-5 (val, %)", "source"],
      rows: [
        ["1 CNN", figure(t2, "1 CNN top-1"), figure(t2, "1 CNN top-5"), "paper"],
        ["5 CNNs", figure(t2, "5 CNNs top-1"), figure(t2, "5 CNNs top-5"), "paper"],
        ["1 CNN*", figure(t2, "1 CNN* top-1"), figure(t2, "1 CNN* top-5"), "paper"],
        ["7 CNNs*", figure(t2, "7 CNNs* top-1"), figure(t2, "7 CNNs* top-5"), "paper"],
        ["This reproduction, 1 CNN", dash(reproduced.top1), dash(reproduced.top5), what],
      ],
    };
    const needs = String(out.needs ?? "") || ctx.params.how_to;
    const note = available
      ? `The reproduced rows come from ${input.id}: ${what}. Table 1 is the ILSVRC-2010 test set and Table 2 ` +
        `the ILSVRC-2012 validation set; the reproduction uses whatever ImageNet-layout data was passed, so ` +
        `compare with the table matching it.`
      : `**No reproduced row**: ${String(out.reason ?? "no data")}. ${ctx.params.how_to}`;
    ctx.log(available ? `reproduced top-1 ${reproduced.top1?.toFixed(2)}%` : "no data: paper numbers only");
    return Promise.resolve({
      available,
      reproduced,
      // Derived effects for the claim rows (null when nothing was measured).
      averaging_effect_top1: reproduced.top1 !== null && reproduced.single_top1 !== null
        ? reproduced.top1 - reproduced.single_top1
        : null,
      averaging_effect_top5: reproduced.top5 !== null && reproduced.single_top5 !== null
        ? reproduced.top5 - reproduced.single_top5
        : null,
      // The paper's ensembles (5 and 7 CNNs) are out of reach here: no reproduced number.
      ensemble_effect_top1: null,
      peers: null,
      table1,
      table2,
      needs,
      note,
      scale: what,
    });
  },
});
