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
  seed: number;
  /** Preset name -> override key (`stage.param` or `seed`) -> value. */
  presets: Record<string, Record<string, unknown>>;
  matrix: MatrixAxis[];
  /** In file order. */
  stages: StageDefinition[];
  source: YamlSource;
}
