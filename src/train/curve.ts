// Training-error curves (the trainer's logged records): the moving average Figure 1 plots and thresholds, and
// the first step it reaches a level. One definition, used by the trainer's early stop, the learning-rate sweep
// and the iterations-to-error stages.

/** A logged record: the step and the training error of the batches since the previous record. */
export interface CurvePoint {
  step: number;
  error: number;
}

/** Moving average over the last `window` records: one record is only logEvery steps of noisy batches. */
export function smooth(curve: readonly CurvePoint[], window: number): CurvePoint[] {
  const out: CurvePoint[] = [];
  let sum = 0;
  for (let i = 0; i < curve.length; i++) {
    sum += curve[i].error;
    if (i >= window) sum -= curve[i - window].error;
    out.push({ step: curve[i].step, error: sum / Math.min(i + 1, window) });
  }
  return out;
}

/** First step at which the (smoothed) error is at or below `threshold`; null when never. */
export function firstStepAtOrBelow(curve: readonly CurvePoint[], threshold: number): number | null {
  for (const point of curve) if (point.error <= threshold) return point.step;
  return null;
}

/** The mean error of the last `window` records (a run's training error at its end); NaN without records. */
export function finalError(curve: readonly CurvePoint[], window: number): number {
  const last = curve.slice(-window);
  return last.length ? last.reduce((s, p) => s + p.error, 0) / last.length : NaN;
}
