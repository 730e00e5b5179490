// Comparing numerics fingerprints (types.ts Fingerprint), and the probe of a cheap deterministic stage: its own
// run into a scratch folder, so what it would write is the key.

import { checkOutputFiles, hashOutputs, serializeOutputs } from "./outputs.ts";
import type { Fingerprint, StageContext, StageOutputs } from "./types.ts";
import { keyUnion } from "./hash.ts";

export const DEFAULT_TOLERANCE = 1e-4;

/** How a fingerprint compares with the one recorded when the outputs were made. */
export interface FingerprintMatch {
  same: boolean;
  /** Bit for bit, measures included. */
  exact: boolean;
  /** Parts that differ (names of digests or measures). */
  changed: string[];
  /** Largest relative difference among the measures (0 when bit-identical). */
  maxRelative: number;
}

/** The relative difference of two vectors: max |a_i - b_i| / max |a_i|; Infinity when their lengths differ. */
export function relativeDifference(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
    diff = Math.max(diff, Math.abs(a[i] - b[i]) || 0);
    scale = Math.max(scale, Math.abs(a[i]) || 0);
  }
  if (diff === 0) return 0;
  return scale > 0 ? diff / scale : Infinity;
}

export function compareFingerprints(recorded: Fingerprint, now: Fingerprint): FingerprintMatch {
  const tolerance = recorded.tolerance ?? DEFAULT_TOLERANCE;
  const changed: string[] = [];
  let maxRelative = 0;
  let exact = true;
  for (const name of keyUnion(recorded.exact, now.exact)) {
    if (recorded.exact[name] !== now.exact[name]) changed.push(name);
  }
  for (const name of keyUnion(recorded.measures, now.measures)) {
    const a = recorded.measures[name], b = now.measures[name];
    const relative = a && b ? relativeDifference(a, b) : Infinity;
    if (relative !== 0) exact = false;
    maxRelative = Math.max(maxRelative, relative);
    if (!(relative <= tolerance)) changed.push(name);
  }
  return { same: changed.length === 0, exact: exact && changed.length === 0, changed, maxRelative };
}

/** One line for `--dry-run`: why a stage reruns, or how close a cached one came. */
export function describeMatch(match: FingerprintMatch): string {
  if (match.exact) return "numerics bit-identical";
  const relative = Number.isFinite(match.maxRelative)
    ? match.maxRelative.toExponential(1)
    : "a different shape";
  if (match.same) return `numerics equal within rounding (largest relative difference ${relative})`;
  return `numerics changed: ${match.changed.join(", ")}`;
}

/**
 * The fingerprint of a stage whose run is cheap and deterministic given its inputs (tables, comparisons,
 * pages): its own run into the probe's scratch folder, keyed by what it returned and wrote.
 */
export async function fingerprintByRunning<P>(
  run: (ctx: StageContext<P>) => Promise<StageOutputs>,
  ctx: StageContext<P>,
  options: { numbersAsMeasures?: boolean } = {},
): Promise<Fingerprint> {
  const outputs = await run(ctx);
  checkOutputFiles(outputs);
  if (!options.numbersAsMeasures) {
    const text = serializeOutputs(outputs);
    return {
      exact: { outputs: await hashOutputs(ctx.outDir, text, JSON.parse(text), ctx.projectRoot) },
      measures: {},
    };
  }
  // Float results of GPU work (errors, losses, distances) compare within rounding, grouped by field name so
  // each vector holds numbers of one kind and scale; the rest, files included, bit for bit.
  const measures: Record<string, number[]> = {};
  const shape = JSON.stringify(outputs, (key, value) => {
    if (typeof value !== "number") return value;
    (measures[/^\d+$/.test(key) ? "items" : key] ??= []).push(value);
    return 0;
  });
  return { exact: { outputs: await hashOutputs(ctx.outDir, shape, outputs, ctx.projectRoot) }, measures };
}
