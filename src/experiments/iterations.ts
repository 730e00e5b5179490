// Iterations to reach a training error, from the train stage's logged curves: Figure 1 (`relu-vs-tanh`: ReLU
// reaches 25% training error six times sooner than tanh) and section 4.2 (`iterations-to-error`: dropout
// roughly doubles the iterations needed to converge).

import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { type CurvePoint, firstStepAtOrBelow, smooth } from "../train/curve.ts";
import {
  defineStageKind,
  type ParamIssue,
  type StageResult,
  type StageValidationInfo,
} from "../pipeline/types.ts";

export interface ArmCurve {
  name: string;
  curve: CurvePoint[];
  /** Steps the arm ran (its curve may end earlier than a threshold would be reached). */
  steps: number;
}

export interface IterationsComparison {
  threshold: number | null;
  /** Whether `threshold` is the one asked for first (e.g. the paper's 25%) rather than a fallback. */
  primary: boolean;
  iterations: Record<string, number | null>;
  /** numerator arm's iterations over the denominator arm's. */
  ratio: number | null;
  /** True when the numerator arm never reached the threshold: the ratio is at least `ratio`. */
  lowerBound: boolean;
  note: string;
}

/**
 * Compares the iterations two arms need to reach a training error. Thresholds are tried in order; the first one
 * both arms reach is used. If the faster arm reaches one the slower never does, the ratio is a lower bound
 * (slower arm's total steps over the faster arm's iterations). With no thresholds, the level is the higher of
 * the two arms' best smoothed errors, i.e. the best level both reached.
 */
export function compareIterations(
  numerator: ArmCurve,
  denominator: ArmCurve,
  thresholds: number[],
): IterationsComparison {
  const levels = thresholds.length ? thresholds : [
    Math.max(
      Math.min(...numerator.curve.map((p) => p.error)),
      Math.min(...denominator.curve.map((p) => p.error)),
    ),
  ];
  const describe = (t: number) => `${(100 * t).toFixed(1)}% training error`;
  for (let i = 0; i < levels.length; i++) {
    const t = levels[i];
    const a = firstStepAtOrBelow(numerator.curve, t), b = firstStepAtOrBelow(denominator.curve, t);
    if (a !== null && b !== null) {
      return {
        threshold: t,
        primary: i === 0,
        iterations: { [numerator.name]: a, [denominator.name]: b },
        ratio: a / b,
        lowerBound: false,
        note:
          `${numerator.name} reached ${describe(t)} after ${a} iterations, ${denominator.name} after ${b}` +
          (i > 0
            ? ` (neither reached ${describe(levels[0])} in this run; the lowest level both reached is used)`
            : ""),
      };
    }
  }
  for (let i = 0; i < levels.length; i++) {
    const t = levels[i];
    const b = firstStepAtOrBelow(denominator.curve, t);
    if (b !== null) {
      return {
        threshold: t,
        primary: i === 0,
        iterations: { [numerator.name]: null, [denominator.name]: b },
        ratio: numerator.steps / b,
        lowerBound: true,
        note: `${denominator.name} reached ${describe(t)} after ${b} iterations; ${numerator.name} had not ` +
          `reached it after ${numerator.steps}, so the ratio is at least ${(numerator.steps / b).toFixed(2)}`,
      };
    }
  }
  return {
    threshold: null,
    primary: false,
    iterations: { [numerator.name]: null, [denominator.name]: null },
    ratio: null,
    lowerBound: false,
    note: `neither arm reached ${levels.map(describe).join(" or ")}: train longer`,
  };
}

export interface IterationsParams {
  train: string;
  axis: string;
  numerator: string;
  denominator: string;
  thresholds: number[];
  smooth: number;
}

function armCurve(result: StageResult, name: string, window: number): ArmCurve {
  const curve = result.outputs.curve as CurvePoint[] | undefined;
  if (!Array.isArray(curve) || curve.length === 0) {
    throw new Error(`${result.id} logged no training curve (set its log_every)`);
  }
  return { name, curve: smooth(curve, window), steps: Number(result.outputs.steps ?? curve.at(-1)!.step) };
}

function findArm(inputs: StageResult[], axis: string, value: string): StageResult {
  const arm = inputs.find((result) => result.matrix?.[axis] === value);
  if (!arm) throw new Error(`no arm with ${axis}=${value} among ${inputs.map((r) => r.id).join(", ")}`);
  return arm;
}

function validate(params: IterationsParams, info: StageValidationInfo): ParamIssue[] {
  const issues: ParamIssue[] = [];
  if (!info.needs.includes(params.train)) {
    issues.push({ path: ["train"], message: `"${params.train}" is not in this stage's needs` });
  } else if (!info.stages[params.train].foreach) {
    issues.push({ path: ["train"], message: `"${params.train}" must be a matrix stage (foreach: matrix)` });
  }
  const values = info.matrix[params.axis];
  if (!values) {
    issues.push({ path: ["axis"], message: `the pipeline has no matrix axis "${params.axis}"` });
  } else {
    for (const key of ["numerator", "denominator"] as const) {
      if (!values.includes(params[key])) {
        issues.push({ path: [key], message: `axis "${params.axis}" has no value "${params[key]}"` });
      }
    }
  }
  if (Object.keys(info.matrix).length > 1) {
    issues.push({ path: [], message: "compare iterations in a pipeline with a single matrix axis" });
  }
  return issues;
}

function runComparison(p: IterationsParams, inputs: Record<string, StageResult | StageResult[]>) {
  const arms = inputs[p.train];
  if (!Array.isArray(arms)) throw new Error(`"${p.train}" must be a matrix stage`);
  const numArm = findArm(arms, p.axis, p.numerator), denArm = findArm(arms, p.axis, p.denominator);
  const num = armCurve(numArm, p.numerator, p.smooth);
  const den = armCurve(denArm, p.denominator, p.smooth);
  const result = compareIterations(
    { ...num, name: `${p.axis}=${p.numerator}` },
    { ...den, name: `${p.axis}=${p.denominator}` },
    p.thresholds,
  );
  const iterations = {
    [p.numerator]: result.iterations[`${p.axis}=${p.numerator}`],
    [p.denominator]: result.iterations[`${p.axis}=${p.denominator}`],
  };
  return {
    threshold: result.threshold,
    threshold_percent: result.threshold === null ? null : 100 * result.threshold,
    primary_threshold: result.primary,
    iterations,
    ratio: result.ratio,
    ratio_is_lower_bound: result.lowerBound,
    note: result.note,
    // Smoothed curves, for the page's chart (the raw ones are in the train stages' outputs).
    smoothed: { [p.numerator]: num.curve, [p.denominator]: den.curve },
    smoothing_records: p.smooth,
    scale: String(numArm.outputs.scale ?? ""),
  };
}

const COMMON = {
  train: { type: "string" as const, default: "train", doc: "the matrix train stage whose arms are compared" },
  smooth: {
    type: "integer" as const,
    default: 5,
    min: 1,
    doc: "moving average over this many logged records before thresholding",
  },
};

export const reluVsTanhStageKind = defineStageKind<IterationsParams>({
  name: "relu-vs-tanh",
  description: "Figure 1: iterations each arm needs to reach 25% training error, tanh over ReLU",
  params: {
    ...COMMON,
    axis: { type: "string", default: "activation", doc: "matrix axis holding relu and tanh" },
    numerator: { type: "string", default: "tanh", doc: "the slower arm (paper: tanh)" },
    denominator: { type: "string", default: "relu", doc: "the faster arm (paper: ReLU)" },
    thresholds: {
      type: "number[]",
      default: [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8],
      min: 0,
      max: 1,
      doc: "training errors tried in order (the paper's 25% first; later ones only when a short run " +
        "never gets there)",
    },
  },
  fingerprint: (ctx) => fingerprintByRunning((c) => Promise.resolve(runComparison(c.params, c.inputs)), ctx),
  validateParams: validate,
  run(ctx) {
    return Promise.resolve(runComparison(ctx.params, ctx.inputs));
  },
});

export const iterationsToErrorStageKind = defineStageKind<IterationsParams>({
  name: "iterations-to-error",
  description: "Iterations two arms need to reach the same training error, and their ratio",
  params: {
    ...COMMON,
    axis: { type: "string", required: true, doc: "matrix axis of the two arms" },
    numerator: { type: "string", required: true, doc: "arm whose iterations are divided" },
    denominator: { type: "string", required: true, doc: "arm dividing" },
    thresholds: {
      type: "number[]",
      default: [],
      min: 0,
      max: 1,
      doc: "training errors tried in order; empty = the best level both arms reached (convergence)",
    },
  },
  fingerprint: (ctx) => fingerprintByRunning((c) => Promise.resolve(runComparison(c.params, c.inputs)), ctx),
  validateParams: validate,
  run(ctx) {
    return Promise.resolve(runComparison(ctx.params, ctx.inputs));
  },
});
