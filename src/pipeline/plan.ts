import { parse as parseYaml } from "yaml";
import type { PipelineDefinition, StageDefinition } from "./definition.ts";
import { STANDARD_PRESETS } from "./definition.ts";
import type { PipelineIssue } from "./errors.ts";
import { PipelineValidationError } from "./errors.ts";
import { armAsStrings, armDirName, crossMatrix, instanceId, substituteMatrix } from "./matrix.ts";
import type { MatrixArm } from "./matrix.ts";
import { checkOverrideKey, matchStages } from "./parse.ts";
import type { StageKindRegistry } from "./registry.ts";
import { missingParams, schemaDefaults } from "./schema.ts";
import { didYouMean } from "../util/suggest.ts";
import type { ParamValues, StageKind, StageValidationInfo } from "./types.ts";

/** One `--set key=value` from the command line. */
export interface SetOverride {
  /** The argument as typed, for error messages. */
  raw: string;
  key: string;
  value: unknown;
}

/** Parses `train.epochs=3`; the value is read as a YAML scalar (or flow list), so `3` is a number. */
export function parseSetArgument(raw: string): SetOverride {
  const eq = raw.indexOf("=");
  const where = `--set ${raw}`;
  if (eq <= 0) {
    throw new PipelineValidationError([{
      where,
      key: "",
      message: "expected --set <stage>.<param>=<value>",
    }]);
  }
  const key = raw.slice(0, eq).trim(), text = raw.slice(eq + 1);
  if (text.trim() === "") return { raw, key, value: "" };
  try {
    return { raw, key, value: parseYaml(text, { version: "1.2" }) };
  } catch (error) {
    const message = `cannot read the value as YAML: ${(error as Error).message.split("\n")[0]}`;
    throw new PipelineValidationError([{ where, key, message }]);
  }
}

/** How one `needs` entry reaches a stage instance. */
export interface NeedBinding {
  stage: string;
  /** Instance ids the inputs come from. */
  ids: string[];
  /** True when the inputs arrive as an array (a non-matrix stage needing a matrix stage). */
  asArray: boolean;
}

/** One concrete run of a stage: the stage itself, or one arm of a `foreach: matrix` stage. */
export interface StageInstance {
  id: string;
  stage: string;
  kind: StageKind;
  params: ParamValues;
  matrix?: Record<string, string>;
  /** results/<pipeline>/ relative: `<stage>` or `<stage>/<arm>`. */
  outDirRel: string;
  needs: NeedBinding[];
}

export interface PipelinePlan {
  definition: PipelineDefinition;
  preset: string;
  seed: number;
  /** The `--set` overrides applied to this pipeline (key -> value). */
  overrides: Record<string, unknown>;
  /** In dependency order (file order where dependencies allow). */
  instances: StageInstance[];
}

export interface PlanOptions {
  preset: string;
  sets?: SetOverride[];
  /**
   * When several pipelines run together, a `--set` naming a stage this pipeline lacks is skipped here (the CLI
   * checks that every `--set` applies to at least one pipeline).
   */
  skipSetsForMissingStages?: boolean;
}

export function presetNames(definition: PipelineDefinition): string[] {
  return [...new Set([...STANDARD_PRESETS, ...Object.keys(definition.presets)])];
}

/** Resolves presets, `--set` and the matrix into concrete stage instances, checking everything first. */
export function planPipeline(
  definition: PipelineDefinition,
  registry: StageKindRegistry,
  options: PlanOptions,
): PipelinePlan {
  const issues: PipelineIssue[] = [];
  const { source } = definition;
  const presets = presetNames(definition);
  if (!presets.includes(options.preset)) {
    issues.push({
      where: `--preset ${options.preset}`,
      key: "preset",
      message: `pipeline ${definition.file} has no preset "${options.preset}"${
        didYouMean(options.preset, presets)
      }`,
    });
  }
  const presetOverrides = definition.presets[options.preset] ?? {};
  const sets: SetOverride[] = [];
  for (const set of options.sets ?? []) {
    const stageName = set.key.split(".")[0];
    const stageExists = matchStages(stageName, definition.stages).length > 0;
    if (options.skipSetsForMissingStages && set.key !== "seed" && !stageExists) continue;
    const problem = checkOverrideKey(set.key, set.value, definition.stages, registry);
    if (problem) {
      issues.push({ where: `--set ${set.raw}`, key: set.key, message: `${problem} (in ${definition.file})` });
    } else sets.push(set);
  }
  if (issues.length) throw new PipelineValidationError(issues);

  // Patterns (`train*.batch`) first, so a line naming the stage itself wins; `--set` after the preset.
  const ordered = (
    keys: [string, unknown][],
  ) => [
    ...keys.filter(([key]) => key.split(".")[0].includes("*")),
    ...keys.filter(([key]) => !key.split(".")[0].includes("*")),
  ];
  const overridesFor = (stage: string): ParamValues => {
    const params: ParamValues = {};
    const layers = [
      Object.entries(presetOverrides),
      sets.map((set) => [set.key, set.value] as [string, unknown]),
    ];
    for (const layer of layers) {
      for (const [key, value] of ordered(layer)) {
        if (key === "seed") continue;
        const dot = key.indexOf(".");
        if (matchStages(key.slice(0, dot), [{ name: stage }]).length) {
          params[key.slice(dot + 1)] = structuredClone(value);
        }
      }
    }
    return params;
  };
  let seed = definition.seed;
  if ("seed" in presetOverrides) seed = presetOverrides.seed as number;
  for (const set of sets) if (set.key === "seed") seed = set.value as number;

  const arms = crossMatrix(definition.matrix);
  const validationInfo = (stage: StageDefinition): StageValidationInfo => ({
    stage: stage.name,
    needs: stage.needs,
    stages: Object.fromEntries(definition.stages.map((s) => [s.name, { kind: s.kind, foreach: s.foreach }])),
    matrix: Object.fromEntries(definition.matrix.map((axis) => [axis.name, axis.values.map(String)])),
  });
  const foreachStages = new Set(
    definition.stages.filter((stage) => stage.foreach).map((stage) => stage.name),
  );
  const instances: StageInstance[] = [];
  const reported = new Set<string>();
  const report = (issue: PipelineIssue) => {
    const text = JSON.stringify(issue);
    if (!reported.has(text)) issues.push(issue);
    reported.add(text);
  };

  for (const stage of orderStages(definition.stages)) {
    const kind = registry.get(stage.kind)!;
    const stageArms: (MatrixArm | undefined)[] = stage.foreach ? arms : [undefined];
    for (const arm of stageArms) {
      const fileParams = arm
        ? substituteMatrix(stage.params, arm) as ParamValues
        : structuredClone(stage.params);
      const params = { ...schemaDefaults(kind.params), ...fileParams, ...overridesFor(stage.name) };
      const paramsPath = ["stages", stage.name, "params"];
      for (const problem of missingParams(kind.name, kind.params, params)) {
        report(source.issue(paramsPath, problem.message));
      }
      for (const problem of kind.validateParams?.(params, validationInfo(stage)) ?? []) {
        report(source.issue([...paramsPath, ...problem.path], problem.message, problem.at ?? "value"));
      }
      const matrix = arm ? armAsStrings(arm) : undefined;
      const needs = stage.needs.map((need): NeedBinding => {
        if (!foreachStages.has(need)) return { stage: need, ids: [need], asArray: false };
        if (arm) return { stage: need, ids: [instanceId(need, arm)], asArray: false };
        return { stage: need, ids: arms.map((needArm) => instanceId(need, needArm)), asArray: true };
      });
      instances.push({
        id: instanceId(stage.name, arm),
        stage: stage.name,
        kind,
        params,
        matrix,
        outDirRel: arm ? `${stage.name}/${armDirName(arm)}` : stage.name,
        needs,
      });
    }
  }
  if (issues.length) throw new PipelineValidationError(issues);
  const overrides = Object.fromEntries(sets.map((set) => [set.key, set.value]));
  return { definition, preset: options.preset, seed, overrides, instances };
}

/** Topological order that keeps file order wherever dependencies allow (the parser has excluded cycles). */
export function orderStages(stages: StageDefinition[]): StageDefinition[] {
  const placed = new Set<string>();
  const ordered: StageDefinition[] = [];
  while (ordered.length < stages.length) {
    const next = stages.find((stage) =>
      !placed.has(stage.name) && stage.needs.every((need) => placed.has(need))
    );
    if (!next) throw new Error("dependency cycle (should have been rejected by the parser)");
    placed.add(next.name);
    ordered.push(next);
  }
  return ordered;
}
