// `reproduce --list`: the pipelines (claims, presets, matrix, stages) and every stage kind with its parameters.

import type { PipelineDefinition } from "./definition.ts";
import { presetNames } from "./plan.ts";
import type { StageKindRegistry } from "./registry.ts";
import { describeParamType } from "./schema.ts";

export function listPipeline(
  definition: PipelineDefinition,
  registry: StageKindRegistry,
  log: (line: string) => void,
) {
  log(`${definition.name}: ${definition.title}  (${definition.file})`);
  if (definition.claims.length) log(`  claims:  ${definition.claims.join(", ")}`);
  log(`  presets: ${presetNames(definition).join(", ")}`);
  if (definition.seeds.length > 1) log(`  seeds:   ${definition.seeds.join(", ")}`);
  if (definition.matrix.length) {
    log(
      `  matrix:  ${definition.matrix.map((axis) => `${axis.name}: [${axis.values.join(", ")}]`).join("; ")}`,
    );
  }
  for (const stage of definition.stages) {
    const needs = stage.needs.length ? ` <- ${stage.needs.join(", ")}` : "";
    const kind = registry.get(stage.kind);
    log(`  - ${stage.name} (${kind?.name ?? stage.kind}${stage.foreach ? ", foreach matrix" : ""})${needs}`);
  }
}

export function listStageKinds(registry: StageKindRegistry, log: (line: string) => void) {
  log("stage kinds:");
  for (const kind of registry.all()) {
    log(`  ${kind.name}: ${kind.description}`);
    for (const [param, spec] of Object.entries(kind.params)) {
      const detail = spec.default !== undefined
        ? `default ${JSON.stringify(spec.default)}`
        : spec.required
        ? "required"
        : "optional";
      log(`      ${param}: ${describeParamType(spec)}, ${detail}. ${spec.doc}`);
    }
  }
}
