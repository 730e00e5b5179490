// `kind: paper-table`: Tables 1 and 2 of the paper from src/paper/claims.ts, with a "this reproduction" row
// when an upstream evaluate stage measured a net trained on ImageNet-layout data; otherwise the page says what
// data is needed and how to pass it. With `pretrained`, Table 2 also shows torchvision's pretrained AlexNet as
// this code evaluates it (1 and 10 patches) beside torchvision's own published figure: a check of the
// evaluation itself on ImageNet, independent of any training here.

import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { findClaim, type PaperClaim } from "../paper/claims.ts";
import { defineStageKind, type ParamIssue, type StageResult } from "../pipeline/types.ts";

export interface PaperTableParams {
  evaluate: string;
  how_to: string;
  /** Optional (no default, so the stage's cache key is unchanged without it): see the schema. */
  pretrained?: string;
}

/**
 * torchvision's published accuracy of AlexNet_Weights.IMAGENET1K_V1 on the ILSVRC-2012 validation set (acc@1
 * 56.522, acc@5 79.066: resize 256, centre crop 224), as error in percent.
 */
export const TORCHVISION_ALEXNET_ERROR = { top1: 100 - 56.522, top5: 100 - 79.066 };

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
    pretrained: {
      type: "string",
      doc: "an evaluate stage of torchvision's pretrained AlexNet (checkpoint given by path): Table 2 rows",
    },
  },
  fingerprint(ctx) {
    return fingerprintByRunning((c) => this.run(c), ctx);
  },
  validateParams(params, info) {
    const issues: ParamIssue[] = [];
    for (const key of ["evaluate", "pretrained"] as const) {
      const stage = params[key];
      if (stage !== undefined && !info.needs.includes(stage)) {
        issues.push({ path: [key], message: `"${stage}" is not in this stage's needs` });
      }
    }
    return issues;
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
    const torchvision = ctx.params.pretrained === undefined
      ? undefined
      : pretrainedRows(ctx.inputs[ctx.params.pretrained] as StageResult);
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
        ...(torchvision?.rows ?? []),
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
      ...(torchvision ? { pretrained: torchvision.measured, pretrained_note: torchvision.note } : {}),
      table1,
      table2,
      needs,
      note,
      scale: what,
    });
  },
});

/**
 * Table 2's rows for torchvision's pretrained AlexNet: its published figure, then this code's measurement with
 * 1 and 10 patches (empty cells and the reason when the evaluate stage was skipped), with a note on them.
 */
function pretrainedRows(input: StageResult) {
  const out = input.outputs;
  const available = !out.skipped && typeof out.top1_error === "number";
  const num = (
    key: string,
  ) => (available && typeof out[key] === "number" ? 100 * (out[key] as number) : null);
  const round = (x: number | null) => (x === null ? null : Number(x.toFixed(2)));
  const measured = {
    available,
    single_top1: round(num("single_top1_error")),
    single_top5: round(num("single_top5_error")),
    ten_top1: round(num("ten_top1_error")),
    ten_top5: round(num("ten_top5_error")),
  };
  const source = available ? String(out.scale ?? "") : `not run: ${String(out.reason ?? "no data")}`;
  const name = "torchvision AlexNet (pretrained)";
  const rows = [
    [
      `${name}, published figure`,
      round(TORCHVISION_ALEXNET_ERROR.top1),
      round(TORCHVISION_ALEXNET_ERROR.top5),
      "torchvision's documentation (IMAGENET1K_V1: 1 patch, resize 256, centre crop 224)",
    ],
    [`${name}, this code, 1 patch`, measured.single_top1, measured.single_top5, source],
    [`${name}, this code, 10 patches`, measured.ten_top1, measured.ten_top5, source],
  ];
  const about = "torchvision's AlexNet is the one-tower variant of Krizhevsky's 2014 \"one weird trick\" " +
    "paper, not the paper's net; its rows check this code's ImageNet evaluation (data layout, class order, " +
    "decoding, preprocessing) against a published number, independently of any training here.";
  const note = available
    ? `The torchvision rows come from ${input.id}: ${source}. ${about}`
    : `**No torchvision rows measured**: ${String(out.reason ?? "no data")}. ${
      String(out.needs ?? "")
    } ${about}`;
  return { rows, measured, note: note.replace(/\s+/g, " ").trim() };
}
