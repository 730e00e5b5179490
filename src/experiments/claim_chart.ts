// The chart under a page's claims table: one bar per arm (mean over seeds, 95% t-interval whiskers) and the
// paper's value marked where the paper predicts it: for an effect "a minus b", at b's mean plus the paper's
// difference on a's bar (for a ratio a/b, b's mean times it); for a single number, on its own bar.

import { mean, tInterval } from "../math/stats.ts";
import type { Block, IntervalSeries } from "../report/model.ts";
import type { ClaimArm, ClaimMeasurement } from "./build.ts";
import { CONFIDENCE } from "./claim_effect.ts";

interface Category {
  key: string;
  label: string;
  values: number[];
}

const UNIT_LABEL: Record<string, string> = {
  "%": "percent (arms: error; single numbers: as the claim states them)",
  x: "ratio (x)",
};

function interval(values: number[]): [number, number] | null {
  if (values.length < 2) return null;
  const t = tInterval(values, CONFIDENCE);
  return [t.low, t.high];
}

/** One chart per unit among the section's rows (percent next to ratios would squash one of them). */
export function claimCharts(measured: ClaimMeasurement[]): Block[] {
  const units = [...new Set(measured.map((m) => m.row.unit))];
  return units.flatMap((unit) => {
    const block = unitChart(measured.filter((m) => m.row.unit === unit), unit);
    return block ? [block] : [];
  });
}

function unitChart(measured: ClaimMeasurement[], unit: string): Block | undefined {
  const categories: Category[] = [];
  const byKey = new Map<string, Category>();
  const add = (key: string, label: string, values: number[]) => {
    if (!byKey.has(key)) {
      const category = { key, label, values };
      byKey.set(key, category);
      categories.push(category);
    }
    return byKey.get(key)!;
  };
  const armKey = (arm: ClaimArm) => arm.ref;
  for (const { row, arms, valueRef } of measured) {
    for (const arm of arms) add(armKey(arm), arm.label, arm.values.filter(Number.isFinite));
    if (valueRef !== undefined) add(valueRef, `${row.claimId}: ${row.metric}`, row.perSeed);
  }
  // Two bars of one arm (top-1 and top-5 of the same net) are told apart by the value's path.
  const labels = categories.map((c) => c.label);
  for (const { arms } of measured) {
    for (const arm of arms) {
      const category = byKey.get(armKey(arm))!;
      if (labels.filter((label) => label === arm.label).length > 1) {
        category.label = `${arm.label} · ${arm.path}`;
      }
    }
  }
  const shown = categories.filter((category) => category.values.length > 0);
  if (shown.length === 0) return undefined;
  const index = new Map(shown.map((category, i) => [category.key, i]));
  const bars: IntervalSeries = {
    label: `mean over seeds, ${100 * CONFIDENCE}% CI`,
    style: "bar",
    values: shown.map((category) => mean(category.values)),
    intervals: shown.map((category) => interval(category.values)),
  };
  const marks: IntervalSeries[] = [];
  for (const { row, arms, valueRef } of measured) {
    if (row.paper === null) continue;
    const values: (number | null)[] = shown.map(() => null);
    if (arms.length === 2) {
      const [a, b] = arms;
      const base = b.values.filter(Number.isFinite);
      const at = index.get(armKey(a));
      if (at === undefined || base.length === 0) continue;
      values[at] = row.kind === "ratio" ? mean(base) * row.paper : mean(base) + row.paper;
    } else if (valueRef !== undefined && index.has(valueRef)) {
      values[index.get(valueRef)!] = row.paper;
    } else continue;
    marks.push({
      label: `paper: ${row.claimId} ${row.metric}${row.note ? ` (${row.note})` : ""}`,
      style: "mark",
      values,
    });
  }
  return {
    type: "interval-chart",
    title: "Per arm: mean over seeds with its 95% confidence interval, and the paper's value",
    orientation: "vertical",
    categories: shown.map((category) => category.label),
    valueLabel: UNIT_LABEL[unit] ?? unit,
    series: [bars, ...marks],
    caption: "Bars: each arm's mean over seeds; whiskers: the 95% Student-t interval of that mean (none " +
      "with one seed). Black dashes: where the paper puts this arm, i.e. the other arm's mean plus the " +
      "paper's difference (times its ratio), or the paper's number itself for a single value.",
  };
}
