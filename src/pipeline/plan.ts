import { parse as parseYaml } from "yaml";
import type { PipelineDefinition, StageDefinition } from "./definition.ts";
import { STANDARD_PRESETS } from "./definition.ts";
import type { PipelineIssue } from "./errors.ts";
import { PipelineValidationError } from "./errors.ts";
import { armAsStrings, armDirName, crossMatrix, instanceId, substituteMatrix } from "./matrix.ts";
import type { MatrixArm } from "./matrix.ts";
import { readSeeds, SEED_AXIS } from "./seeds.ts";
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

/**
 * One concrete run of a stage: the stage itself, one arm of a `foreach: matrix` stage, or (with several seeds)
 * one seed of a seeded stage or of one of its arms.
 */
export interface StageInstance {
  id: string;
  stage: string;
  kind: StageKind;
  params: ParamValues;
  matrix?: Record<string, string>;
  /** The seed it runs with (the pipeline's first seed unless it runs once per seed). */
  seed: number;
  /** True when the pipeline has several seeds and this stage runs once per seed. */
  perSeed: boolean;
  /** results/<pipeline>/ relative: `<stage>`, `<stage>/<arm>`, `<stage>/<arm>,seed=N` or `<stage>/seed=N`. */
  outDirRel: string;
  needs: NeedBinding[];
  /** The pipeline file's text its outputs show, for kinds that `readsPipelineText` (part of its identity). */
  pipelineText?: { title: string; description: string; budget: string | null; design: string | null };
}

export interface PipelinePlan {
  definition: PipelineDefinition;
  preset: string;
  /** The first of `seeds`: the seed of the stages that run once. */
  seed: number;
  /** Every seed; more than one expands the seeded stages (and what needs them) per seed. */
  seeds: number[];
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
    const seedKey = set.key === "seed" || set.key === "seeds";
    if (options.skipSetsForMissingStages && !seedKey && !stageExists) continue;
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
        if (key === "seed" || key === "seeds") continue;
        const dot = key.indexOf(".");
        if (matchStages(key.slice(0, dot), [{ name: stage }]).length) {
          params[key.slice(dot + 1)] = structuredClone(value);
        }
      }
    }
    return params;
  };
  // Later layers win: the file, then the preset, then --set; `seed: N` in a layer means the one seed N.
  let seeds = definition.seeds;
  for (const layer of [Object.entries(presetOverrides), sets.map((set) => [set.key, set.value] as const)]) {
    for (const [key, value] of layer) {
      if (key === "seed") seeds = [value as number];
      if (key === "seeds") seeds = readSeeds(value) as number[]; // checked by checkOverrideKey
    }
  }
  const seed = seeds[0];

  const arms = crossMatrix(definition.matrix);
  const perSeedStages = seededStages(definition.stages, registry, seeds.length > 1);
  const validationInfo = (stage: StageDefinition): StageValidationInfo => ({
    stage: stage.name,
    needs: stage.needs,
    stages: Object.fromEntries(
      definition.stages.map((s) => [s.name, {
        kind: s.kind,
        foreach: s.foreach,
        perSeed: perSeedStages.has(s.name),
      }]),
    ),
    matrix: Object.fromEntries(definition.matrix.map((axis) => [axis.name, axis.values.map(String)])),
    seeds,
  });
  const foreachStages = new Set(
    definition.stages.filter((stage) => stage.foreach).map((stage) => stage.name),
  );
  // Instance ids of a stage for one arm (or all arms) and one seed (or all seeds), in matrix-then-seed order.
  const idsOf = (need: string, arm: MatrixArm | undefined, seedOf: number | undefined): string[] => {
    const needArms = foreachStages.has(need) ? (arm ? [arm] : arms) : [undefined];
    const needSeeds = perSeedStages.has(need) ? (seedOf !== undefined ? [seedOf] : seeds) : [undefined];
    return needArms.flatMap((a) => needSeeds.map((s) => instanceId(need, withSeed(a, s))));
  };
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
    const perSeed = perSeedStages.has(stage.name);
    const stageSeeds: (number | undefined)[] = perSeed ? seeds : [undefined];
    for (const [arm, ownSeed] of stageArms.flatMap((a) => stageSeeds.map((s) => [a, s] as const))) {
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
      // The same arm when both expand over the matrix, else every arm; the same seed when both run per
      // seed, else every seed (a stage aggregating over seeds).
      const needs = stage.needs.map((need): NeedBinding => {
        const ids = idsOf(need, stage.foreach ? arm : undefined, ownSeed);
        const several = (foreachStages.has(need) && !stage.foreach) ||
          (perSeedStages.has(need) && !perSeed);
        return { stage: need, ids, asArray: several };
      });
      const label = withSeed(arm, ownSeed);
      instances.push({
        id: instanceId(stage.name, label),
        stage: stage.name,
        kind,
        params,
        matrix,
        seed: ownSeed ?? seed,
        perSeed,
        outDirRel: label ? `${stage.name}/${armDirName(label)}` : stage.name,
        needs,
        ...(kind.readsPipelineText
          ? {
            pipelineText: {
              title: definition.title,
              description: definition.description,
              budget: definition.budget ?? null,
              design: definition.design ?? null,
            },
          }
          : {}),
      });
    }
  }
  if (issues.length) throw new PipelineValidationError(issues);
  const overrides = Object.fromEntries(sets.map((set) => [set.key, set.value]));
  return { definition, preset: options.preset, seed, seeds, overrides, instances };
}

/** The arm with the seed added as the last label part (`lrn=on,seed=2`); undefined when there is neither. */
function withSeed(arm: MatrixArm | undefined, seed: number | undefined): MatrixArm | undefined {
  if (seed === undefined) return arm;
  return { ...(arm ?? {}), [SEED_AXIS]: seed };
}

/**
 * The stages that run once per seed: kinds that depend on the seed (`seeds: "each"`) and, unless they
 * aggregate over seeds (`seeds: "all"`), the stages that need one of them. None with a single seed, so a
 * one-seed pipeline keeps its ids, directories and cache keys.
 */
export function seededStages(
  stages: StageDefinition[],
  registry: StageKindRegistry,
  severalSeeds: boolean,
): Set<string> {
  const seeded = new Set<string>();
  if (!severalSeeds) return seeded;
  for (const stage of orderStages(stages)) {
    const mode = registry.get(stage.kind)?.seeds;
    if (mode === "each" || (mode !== "all" && stage.needs.some((need) => seeded.has(need)))) {
      seeded.add(stage.name);
    }
  }
  return seeded;
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
