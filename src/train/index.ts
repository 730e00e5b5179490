/** Training: the trainer, evaluation, schedules, configs and the data preparation they share. */
export * from "./types.ts";
export {
  CHECKPOINT_FILE,
  type EpochExtras,
  METRICS_FILE,
  RESULT_FILE,
  train,
  type TrainHooks,
  type TrainState,
} from "./trainer.ts";
export * from "./evaluate.ts";
export * from "./schedule.ts";
export * from "./config.ts";
export * from "./data.ts";
