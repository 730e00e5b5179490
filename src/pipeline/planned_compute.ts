// The dry run's compute statement: what the stage kinds estimate the work of a plan to be, in all and for the
// stages that would run.

import type { PipelinePlan } from "./plan.ts";

export interface PlannedCompute {
  flop: number;
  stages: number;
  flopToRun: number;
  stagesToRun: number;
  lines: { id: string; flop: number; what: string; wouldRun: boolean }[];
}

export function plannedCompute(plan: PipelinePlan, wouldRun: Set<string>): PlannedCompute {
  const byId = new Map(plan.instances.map((instance) => [instance.id, instance]));
  const out: PlannedCompute = { flop: 0, stages: 0, flopToRun: 0, stagesToRun: 0, lines: [] };
  for (const instance of plan.instances) {
    const upstream = Object.fromEntries(
      instance.needs.map((need) => [
        need.stage,
        need.ids.map((id) => byId.get(id)!).map((u) => ({
          kind: u.kind.name,
          params: u.params,
          matrix: u.matrix,
        })),
      ]),
    );
    const estimate = instance.kind.estimate?.(instance.params, upstream);
    if (!estimate) continue;
    const runs = wouldRun.has(instance.id);
    out.flop += estimate.flop;
    out.stages++;
    if (runs) {
      out.flopToRun += estimate.flop;
      out.stagesToRun++;
    }
    out.lines.push({ id: instance.id, ...estimate, wouldRun: runs });
  }
  return out;
}

/** 3.2e15 -> "3.2 PFLOP". */
export function formatFlop(flop: number): string {
  const units: [number, string][] = [[1e18, "EFLOP"], [1e15, "PFLOP"], [1e12, "TFLOP"], [1e9, "GFLOP"]];
  for (const [scale, unit] of units) if (flop >= scale) return `${(flop / scale).toPrecision(3)} ${unit}`;
  return flop === 0 ? "0 FLOP" : `${flop.toPrecision(3)} FLOP`;
}
