import type { MatrixAxis } from "./matrix.ts";
import type { ParamValues, PipelineInfo } from "./types.ts";
import type { YamlSource } from "./yaml_source.ts";

/** Presets every pipeline accepts even when it declares no overrides for them. */
export const STANDARD_PRESETS = ["smoke", "cpu", "full"] as const;

export interface StageDefinition {
  name: string;
  kind: string;
  description: string;
  /** Parameters as written in the file (matrix references not yet substituted). */
  params: ParamValues;
  needs: string[];
  /** True for `foreach: matrix`: the stage runs once per matrix combination. */
  foreach: boolean;
}

/** A pipeline file that passed structural validation. */
export interface PipelineDefinition extends PipelineInfo {
  /** The first of `seeds`: what stages that do not depend on randomness are keyed by. */
  seed: number;
  /** `seed: N` gives [N]; `seeds: 3` gives [1, 2, 3]. More than one expands the seeded stages per seed. */
  seeds: number[];
  /** Preset name -> override key (`stage.param`, `seed` or `seeds`) -> value. */
  presets: Record<string, Record<string, unknown>>;
  matrix: MatrixAxis[];
  /** In file order. */
  stages: StageDefinition[];
  source: YamlSource;
}
