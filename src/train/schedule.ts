// Learning-rate schedules (types.ts Schedule) as a small state machine whose state is plain JSON, so a
// checkpoint can carry it and a resumed run makes exactly the decisions an uninterrupted one would.

import type { Schedule } from "./types.ts";

export interface ScheduleState {
  /** The learning rate in force for the next step. */
  lr: number;
  /** Plateau: the best monitored error so far (null before the first evaluation). */
  best: number | null;
  /** Plateau: epochs since the monitored error last improved. */
  bad: number;
  /** How many times the lr was lowered. */
  drops: number;
}

/** Checks a schedule's fields; errors name the field (`where` says which file or config it came from). */
export function validateSchedule(s: Schedule, where = "optim.schedule"): void {
  if (s.kind === "fixed") return;
  if (s.kind === "step") {
    if (!Array.isArray(s.epochs) || !s.epochs.every((e: unknown) => typeof e === "number" && e > 0)) {
      throw new Error(
        `${where}.epochs: expected a list of positive epoch numbers (fractions allowed: 0.5 = mid-epoch 1), got ${
          JSON.stringify(s.epochs)
        }`,
      );
    }
    if (!(typeof s.gamma === "number" && s.gamma > 0)) {
      throw new Error(
        `${where}.gamma: expected a positive number (0.1 divides the lr by 10), got ${s.gamma}`,
      );
    }
    return;
  }
  if (s.kind === "plateau") {
    if (!(Number.isInteger(s.patience) && s.patience >= 1)) {
      throw new Error(`${where}.patience: expected a whole number >= 1, got ${s.patience}`);
    }
    if (!(typeof s.factor === "number" && s.factor > 0 && s.factor < 1)) {
      throw new Error(
        `${where}.factor: expected a number in (0, 1) that multiplies the lr (0.1 = divide by 10), got ${s.factor}`,
      );
    }
    if (!(Number.isInteger(s.maxDrops) && s.maxDrops >= 0)) {
      throw new Error(`${where}.maxDrops: expected a whole number >= 0, got ${s.maxDrops}`);
    }
    return;
  }
  const kind = (s as { kind?: unknown }).kind;
  throw new Error(`${where}.kind: expected "fixed", "step" or "plateau", got ${JSON.stringify(kind)}`);
}

export function initialScheduleState(baseLr: number): ScheduleState {
  return { lr: baseLr, best: null, bad: 0, drops: 0 };
}

/**
 * The lr for training epoch `completed` (0-based: the number of epochs already finished) under a step
 * schedule: multiplied by gamma once for every listed milestone <= completed, so milestone 30 means "after 30
 * epochs" (PyTorch's MultiStepLR).
 */
export function stepScheduleLr(baseLr: number, s: { epochs: number[]; gamma: number }, completed: number) {
  const passed = s.epochs.filter((e) => e <= completed).length;
  return { lr: baseLr * Math.pow(s.gamma, passed), drops: passed };
}

/**
 * The same per optimizer step, so milestones may fall inside an epoch: milestone e takes effect from step
 * round(e * stepsPerEpoch) on (for whole e, the first step of epoch e + 1, as stepScheduleLr).
 */
export function stepScheduleLrAtStep(
  baseLr: number,
  s: { epochs: number[]; gamma: number },
  step: number,
  stepsPerEpoch: number,
) {
  const passed = s.epochs.filter((e) => step >= Math.round(e * stepsPerEpoch)).length;
  return { lr: baseLr * Math.pow(s.gamma, passed), drops: passed };
}

/**
 * Called after each epoch's evaluation with the number of finished epochs and the monitored top-1 error
 * (validation, else test). Returns the next state; `dropped` says whether the lr was just lowered.
 */
export function scheduleAfterEpoch(
  schedule: Schedule,
  baseLr: number,
  state: ScheduleState,
  completedEpochs: number,
  monitoredError: number,
): { state: ScheduleState; dropped: boolean } {
  switch (schedule.kind) {
    case "fixed":
      return { state: { ...state, lr: baseLr }, dropped: false };
    case "step": {
      const { lr, drops } = stepScheduleLr(baseLr, schedule, completedEpochs);
      return { state: { ...state, lr, drops }, dropped: drops > state.drops };
    }
    case "plateau": {
      // A strictly lower error counts as progress; equal (e.g. a tiny test set) does not.
      if (state.best === null || monitoredError < state.best) {
        return { state: { ...state, best: monitoredError, bad: 0 }, dropped: false };
      }
      const bad = state.bad + 1;
      if (bad >= schedule.patience && state.drops < schedule.maxDrops) {
        return {
          state: { lr: state.lr * schedule.factor, best: state.best, bad: 0, drops: state.drops + 1 },
          dropped: true,
        };
      }
      return { state: { ...state, bad }, dropped: false };
    }
  }
}

/** The state a run starts epoch `completed` with (for step schedules resumed or started at a later epoch). */
export function scheduleAtStart(schedule: Schedule, baseLr: number, completed = 0): ScheduleState {
  const s = initialScheduleState(baseLr);
  if (schedule.kind === "step") return { ...s, ...stepScheduleLr(baseLr, schedule, completed) };
  return s;
}

export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case "fixed":
      return "fixed lr";
    case "step":
      return `lr x${s.gamma} after epochs ${s.epochs.join(", ")}`;
    case "plateau":
      return `lr x${s.factor} after ${s.patience} epoch(s) without improvement, at most ${s.maxDrops} times`;
  }
}

/**
 * The learning rate a run uses at every step, around the JSON state a checkpoint carries (`holder.schedule`):
 * step schedules are a function of the step count (milestones may fall inside an epoch), the others change
 * after an epoch's evaluation. The trainer and the numerics probe (lrTrace) both go through it.
 */
export class LrSchedule {
  constructor(
    readonly baseLr: number,
    readonly schedule: Schedule,
    readonly stepsPerEpoch: number,
    readonly holder: { schedule: ScheduleState },
  ) {}

  /** The lr of optimizer step `step` (0-based); call it once per step, in order. */
  lrForStep(step: number): number {
    if (this.schedule.kind === "step") {
      const at = stepScheduleLrAtStep(this.baseLr, this.schedule, step, this.stepsPerEpoch);
      this.holder.schedule = { ...this.holder.schedule, ...at };
    }
    return this.holder.schedule.lr;
  }

  /** The lr in force when an epoch starts at `step` (what its metrics report). */
  epochStartLr(step: number): number {
    return this.schedule.kind === "step"
      ? stepScheduleLrAtStep(this.baseLr, this.schedule, step, this.stepsPerEpoch).lr
      : this.holder.schedule.lr;
  }

  /** After `completed` epochs, with the monitored top-1 error of the last one. */
  afterEpoch(completed: number, monitoredError: number): { state: ScheduleState; dropped: boolean } {
    const next = scheduleAfterEpoch(
      this.schedule,
      this.baseLr,
      this.holder.schedule,
      completed,
      monitoredError,
    );
    this.holder.schedule = next.state;
    return next;
  }
}

/**
 * The lr of every step of a run of `totalSteps` steps, as the trainer would use them, with `monitored(e)` as
 * the error after epoch e (1-based) for schedules that watch it.
 */
export function lrTrace(
  baseLr: number,
  schedule: Schedule,
  stepsPerEpoch: number,
  totalSteps: number,
  monitored: (epoch: number) => number,
): Float64Array {
  const lrs = new Float64Array(totalSteps);
  const lr = new LrSchedule(baseLr, schedule, stepsPerEpoch, {
    schedule: scheduleAtStart(schedule, baseLr, 0),
  });
  for (let step = 0; step < totalSteps; step++) {
    lrs[step] = lr.lrForStep(step);
    if ((step + 1) % stepsPerEpoch === 0) {
      const epoch = (step + 1) / stepsPerEpoch;
      lr.afterEpoch(epoch, monitored(epoch));
    }
  }
  return lrs;
}
