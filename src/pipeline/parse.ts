import { basename, extname } from "@std/path";
import type { PipelineIssue } from "./errors.ts";
import { PipelineValidationError } from "./errors.ts";
import type { PipelineDefinition, StageDefinition } from "./definition.ts";
import { crossMatrix, findTemplates, substituteMatrix } from "./matrix.ts";
import type { MatrixAxis, MatrixScalar } from "./matrix.ts";
import type { StageKindRegistry } from "./registry.ts";
import { checkParams, checkParamValue } from "./schema.ts";
import { readSeeds, SEED_AXIS } from "./seeds.ts";
import { didYouMean } from "../util/suggest.ts";
import type { ParamValues } from "./types.ts";
import { YamlSource } from "./yaml_source.ts";

const TOP_LEVEL_KEYS = [
  "name",
  "title",
  "description",
  "claims",
  "seed",
  "seeds",
  "budget",
  "design",
  "presets",
  "matrix",
  "stages",
];
const STAGE_KEYS = ["kind", "description", "params", "needs", "foreach"];
const NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;

export interface LoadOptions {
  /** Claim ids `claims:` may name; without a list any id is accepted. */
  knownClaimIds?: readonly string[];
  /** File name used in messages (e.g. relative to the project root); default: the path as given. */
  displayName?: string;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is MatrixScalar {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

export async function loadPipelineFile(
  file: string,
  registry: StageKindRegistry,
  options: LoadOptions = {},
): Promise<PipelineDefinition> {
  return parsePipeline(options.displayName ?? file, await Deno.readTextFile(file), registry, options);
}

/**
 * Parses and validates a pipeline file. Throws PipelineValidationError listing every problem, each with
 * file:line:col and key, before anything runs.
 */
export function parsePipeline(
  file: string,
  text: string,
  registry: StageKindRegistry,
  options: LoadOptions = {},
): PipelineDefinition {
  const source = new YamlSource(file, text);
  const syntax = source.syntaxIssues();
  if (syntax.length) throw new PipelineValidationError(syntax);
  const issues: PipelineIssue[] = [];
  const root = source.toJS();
  if (!isMap(root)) {
    throw new PipelineValidationError([
      source.issue([], "a pipeline file must be a map of keys (title, stages, ...)"),
    ]);
  }
  checkKnownKeys(source, [], root, TOP_LEVEL_KEYS, "top-level key", issues);

  const stem = basename(file, extname(file));
  const name = readString(source, root, "name", issues) ?? stem;
  if (name !== stem) {
    issues.push(source.issue(
      ["name"],
      `"${name}" differs from the file name "${stem}"; results go to ` +
        `results/<name>/, so they must agree`,
      "value",
    ));
  }
  if (!NAME_PATTERN.test(stem)) {
    issues.push({ where: file, key: "", message: `file name "${stem}" must match ${NAME_PATTERN}` });
  }
  const title = readString(source, root, "title", issues);
  if (title === undefined && !("title" in root)) {
    issues.push(source.issue([], 'missing required key "title"'));
  }
  const description = readString(source, root, "description", issues) ?? "";
  const claims = readClaims(source, root, options.knownClaimIds, issues);
  const seeds = readSeedKeys(source, root, issues);
  const budget = readString(source, root, "budget", issues);
  const design = readString(source, root, "design", issues);
  const matrix = readMatrix(source, root, issues);
  const stages = readStages(source, root, registry, matrix, issues);
  const presets = readPresets(source, root, registry, stages, issues);

  if (issues.length) throw new PipelineValidationError(issues);
  return {
    name,
    title: title!,
    description,
    claims,
    file,
    ...(budget !== undefined ? { budget } : {}),
    ...(design !== undefined ? { design } : {}),
    seed: seeds[0],
    seeds,
    presets,
    matrix,
    stages,
    source,
  };
}

/** `seed: N` (default 1) or `seeds: N | [list]`; one of them, since both would say different things. */
function readSeedKeys(source: YamlSource, root: Record<string, unknown>, issues: PipelineIssue[]): number[] {
  if ("seed" in root && "seeds" in root) {
    issues.push(source.issue(["seeds"], "give either seed (one seed) or seeds (several), not both"));
  }
  if ("seeds" in root) {
    const seeds = readSeeds(root.seeds);
    if (typeof seeds !== "string") return seeds;
    issues.push(source.issue(["seeds"], seeds, "value"));
  }
  if ("seed" in root) {
    if (Number.isInteger(root.seed)) return [root.seed as number];
    issues.push(source.issue(["seed"], `expected an integer, got ${JSON.stringify(root.seed)}`, "value"));
  }
  return [1];
}

function checkKnownKeys(
  source: YamlSource,
  path: (string | number)[],
  map: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
  issues: PipelineIssue[],
): void {
  for (const key of Object.keys(map)) {
    if (!allowed.includes(key)) {
      issues.push(source.issue([...path, key], `unknown ${what} "${key}"${didYouMean(key, allowed)}`));
    }
  }
}

function readString(
  source: YamlSource,
  map: Record<string, unknown>,
  key: string,
  issues: PipelineIssue[],
): string | undefined {
  if (!(key in map)) return undefined;
  const value = map[key];
  if (typeof value === "string") return value;
  issues.push(source.issue([key], `expected a string, got ${JSON.stringify(value)}`, "value"));
  return undefined;
}

function readClaims(
  source: YamlSource,
  root: Record<string, unknown>,
  known: readonly string[] | undefined,
  issues: PipelineIssue[],
): string[] {
  if (!("claims" in root)) return [];
  const claims = root.claims;
  if (!Array.isArray(claims) || !claims.every((claim) => typeof claim === "string")) {
    issues.push(source.issue(["claims"], "expected a list of paper claim ids, e.g. [lrn, overlap]", "value"));
    return [];
  }
  claims.forEach((claim, i) => {
    if (known && !known.includes(claim)) {
      issues.push(source.issue(["claims", i], `unknown paper claim "${claim}"${didYouMean(claim, known)}`));
    }
  });
  return claims;
}

function readMatrix(
  source: YamlSource,
  root: Record<string, unknown>,
  issues: PipelineIssue[],
): MatrixAxis[] {
  if (!("matrix" in root)) return [];
  if (!isMap(root.matrix)) {
    issues.push(
      source.issue(["matrix"], "expected a map of axis -> list of values, e.g. {lrn: [on, off]}", "value"),
    );
    return [];
  }
  const axes: MatrixAxis[] = [];
  for (const [axis, values] of Object.entries(root.matrix)) {
    if (!/^[A-Za-z_][\w-]*$/.test(axis)) {
      issues.push(source.issue(["matrix", axis], `axis name "${axis}" must be letters, digits, _ or -`));
    }
    if (axis === SEED_AXIS) {
      issues.push(
        source.issue(["matrix", axis], "the seed is not a matrix axis: write `seeds: [...]` instead"),
      );
    }
    if (!Array.isArray(values) || values.length === 0 || !values.every(isScalar)) {
      issues.push(source.issue(["matrix", axis], "expected a non-empty list of scalar values", "value"));
      continue;
    }
    const texts = values.map(String);
    const duplicate = texts.find((text, i) => texts.indexOf(text) !== i);
    if (duplicate !== undefined) {
      issues.push(source.issue(["matrix", axis], `value "${duplicate}" is listed twice`, "value"));
    }
    axes.push({ name: axis, values });
  }
  return axes;
}

function readStages(
  source: YamlSource,
  root: Record<string, unknown>,
  registry: StageKindRegistry,
  matrix: MatrixAxis[],
  issues: PipelineIssue[],
): StageDefinition[] {
  if (!("stages" in root)) {
    issues.push(source.issue([], 'missing required key "stages"'));
    return [];
  }
  if (!isMap(root.stages) || Object.keys(root.stages).length === 0) {
    issues.push(source.issue(["stages"], "expected a non-empty map of stage name -> stage", "value"));
    return [];
  }
  const stages: StageDefinition[] = [];
  for (const [name, raw] of Object.entries(root.stages)) {
    const path = ["stages", name];
    if (!NAME_PATTERN.test(name)) {
      issues.push(source.issue(path, `stage name "${name}" must match ${NAME_PATTERN}`));
    }
    if (!isMap(raw)) {
      issues.push(source.issue(path, "expected a map with at least `kind`", "value"));
      continue;
    }
    checkKnownKeys(source, path, raw, STAGE_KEYS, "stage key", issues);
    stages.push(readStage(source, name, raw, registry, issues));
  }
  checkNeeds(source, stages, root.stages, issues);
  checkCycles(source, stages, issues);
  for (const stage of stages) checkStageParams(source, stage, registry, matrix, issues);
  return stages;
}

function readStage(
  source: YamlSource,
  name: string,
  raw: Record<string, unknown>,
  registry: StageKindRegistry,
  issues: PipelineIssue[],
): StageDefinition {
  const path = ["stages", name];
  // A stage with a bad kind is still returned so that stages needing it do not report a second, false problem.
  const kind = raw.kind;
  if (typeof kind !== "string") {
    issues.push(
      source.issue("kind" in raw ? [...path, "kind"] : path, "every stage needs `kind: <stage kind>`"),
    );
  } else if (!registry.has(kind)) {
    issues.push(
      source.issue([...path, "kind"], `unknown stage kind "${kind}"${didYouMean(kind, registry.names())}`),
    );
  }
  let needs: string[] = [];
  if (typeof raw.needs === "string") needs = [raw.needs];
  else if (Array.isArray(raw.needs) && raw.needs.every((need) => typeof need === "string")) needs = raw.needs;
  else if (raw.needs !== undefined) {
    issues.push(source.issue([...path, "needs"], "expected a stage name or a list of stage names", "value"));
  }
  let foreach = false;
  if (raw.foreach !== undefined) {
    if (raw.foreach === "matrix") foreach = true;
    else {
      issues.push(source.issue(
        [...path, "foreach"],
        `the only supported value is "matrix"` +
          (typeof raw.foreach === "string" ? didYouMean(raw.foreach, ["matrix"]) : ""),
        "value",
      ));
    }
  }
  let params: ParamValues = {};
  if (isMap(raw.params)) params = raw.params;
  else if (raw.params !== undefined && raw.params !== null) {
    issues.push(source.issue([...path, "params"], "expected a map of parameter -> value", "value"));
  }
  const description = typeof raw.description === "string" ? raw.description : "";
  if (raw.description !== undefined && typeof raw.description !== "string") {
    issues.push(source.issue([...path, "description"], "expected a string", "value"));
  }
  return { name, kind: typeof kind === "string" ? kind : "", description, params, needs, foreach };
}

function checkNeeds(
  source: YamlSource,
  stages: StageDefinition[],
  rawStages: Record<string, unknown>,
  issues: PipelineIssue[],
): void {
  const names = stages.map((stage) => stage.name);
  for (const stage of stages) {
    const needsIsList = Array.isArray((rawStages[stage.name] as Record<string, unknown>).needs);
    stage.needs.forEach((need, i) => {
      const path = ["stages", stage.name, "needs", ...(needsIsList ? [i] : [])];
      if (need === stage.name) {
        issues.push(source.issue(path, `stage "${stage.name}" cannot need itself`, "value"));
      } else if (!names.includes(need)) {
        issues.push(source.issue(path, `needs unknown stage "${need}"${didYouMean(need, names)}`, "value"));
      } else if (stage.needs.indexOf(need) !== i) {
        issues.push(source.issue(path, `"${need}" is listed twice`, "value"));
      }
    });
    // Drop broken edges so cycle detection and planning only see real ones.
    stage.needs = stage.needs.filter((need, i) =>
      names.includes(need) && need !== stage.name &&
      stage.needs.indexOf(need) === i
    );
  }
}

/** Reports each dependency cycle once, as `a -> b -> a`. */
function checkCycles(source: YamlSource, stages: StageDefinition[], issues: PipelineIssue[]): void {
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    state.set(name, "visiting");
    stack.push(name);
    for (const need of byName.get(name)?.needs ?? []) {
      if (state.get(need) === "visiting") {
        const cycle = [...stack.slice(stack.indexOf(need)), need];
        const signature = [...new Set(cycle)].sort().join(" ");
        if (!seen.has(signature)) {
          seen.add(signature);
          issues.push(source.issue(["stages", cycle[0], "needs"], `dependency cycle: ${cycle.join(" -> ")}`));
        }
      } else if (!state.has(need)) visit(need);
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const stage of stages) if (!state.has(stage.name)) visit(stage.name);
}

function checkStageParams(
  source: YamlSource,
  stage: StageDefinition,
  registry: StageKindRegistry,
  matrix: MatrixAxis[],
  issues: PipelineIssue[],
): void {
  const kind = registry.get(stage.kind);
  if (!kind) return;
  const paramsPath = ["stages", stage.name, "params"];
  let templatesOk = true;
  for (const template of findTemplates(stage.params)) {
    const path = [...paramsPath, ...template.path];
    if (template.axis === undefined) {
      issues.push(source.issue(
        path,
        `unsupported reference "\${${template.expression}}"; only ` +
          `\${matrix.<axis>} is supported`,
        "value",
      ));
      templatesOk = false;
    } else if (!stage.foreach) {
      issues.push(source.issue(
        path,
        `\${matrix.${template.axis}} is only allowed in stages with ` +
          "`foreach: matrix`",
        "value",
      ));
      templatesOk = false;
    } else if (!matrix.some((axis) => axis.name === template.axis)) {
      issues.push(source.issue(
        path,
        `unknown matrix axis "${template.axis}"` +
          didYouMean(template.axis, matrix.map((axis) => axis.name)),
        "value",
      ));
      templatesOk = false;
    }
  }
  if (stage.foreach && matrix.length === 0) {
    issues.push(
      source.issue(["stages", stage.name, "foreach"], "`foreach: matrix` but the pipeline has no matrix"),
    );
  }
  // Check every arm's substituted values, but report each distinct problem once.
  const arms = stage.foreach && templatesOk && matrix.length ? crossMatrix(matrix) : [{}];
  const reported = new Set<string>();
  for (const arm of arms) {
    const params = substituteMatrix(stage.params, arm) as ParamValues;
    for (const problem of checkParams(kind.name, kind.params, params)) {
      if (!templatesOk && problem.kind === "type") continue;
      const message =
        problem.kind === "type" && arms.length > 1 && findTemplates(stage.params[problem.param]).length
          ? `${problem.message} (in arm ${JSON.stringify(arm)})`
          : problem.message;
      if (reported.has(problem.param + message)) continue;
      reported.add(problem.param + message);
      issues.push(
        source.issue([...paramsPath, problem.param], message, problem.kind === "type" ? "value" : "key"),
      );
    }
  }
}

function readPresets(
  source: YamlSource,
  root: Record<string, unknown>,
  registry: StageKindRegistry,
  stages: StageDefinition[],
  issues: PipelineIssue[],
): Record<string, Record<string, unknown>> {
  if (!("presets" in root)) return {};
  if (!isMap(root.presets)) {
    issues.push(source.issue(["presets"], "expected a map of preset name -> overrides", "value"));
    return {};
  }
  const presets: Record<string, Record<string, unknown>> = {};
  for (const [preset, overrides] of Object.entries(root.presets)) {
    const path = ["presets", preset];
    if (overrides === null) {
      presets[preset] = {};
      continue;
    }
    if (!isMap(overrides)) {
      issues.push(source.issue(path, "expected a map of `stage.param: value` overrides", "value"));
      continue;
    }
    presets[preset] = overrides;
    for (const [key, value] of Object.entries(overrides)) {
      const problem = checkOverrideKey(key, value, stages, registry);
      if (problem) issues.push(source.issue([...path, key], problem));
    }
  }
  return presets;
}

/**
 * Checks an override key (`stage.param`, `seed` or `seeds`) and its value; shared by presets and `--set`.
 * Returns the problem, or undefined.
 */
export function checkOverrideKey(
  key: string,
  value: unknown,
  stages: StageDefinition[],
  registry: StageKindRegistry,
): string | undefined {
  if (key === "seed") {
    return Number.isInteger(value) ? undefined : `seed must be an integer, got ${JSON.stringify(value)}`;
  }
  if (key === "seeds") {
    const seeds = readSeeds(value);
    return typeof seeds === "string" ? seeds : undefined;
  }
  const dot = key.indexOf(".");
  const stageNames = stages.map((stage) => stage.name);
  if (dot < 0) {
    return `override keys have the form <stage>.<param> (or seed, seeds), got "${key}"` +
      didYouMean(key, ["seed", "seeds", ...stageNames]);
  }
  const stageName = key.slice(0, dot), param = key.slice(dot + 1);
  const matched = matchStages(stageName, stages);
  if (matched.length === 0) {
    return stageName.includes("*")
      ? `no stage matches "${stageName}" (stages: ${stageNames.join(", ")})`
      : `unknown stage "${stageName}"${didYouMean(stageName, stageNames)}`;
  }
  for (const stage of matched) {
    const kind = registry.get(stage.kind);
    if (!kind) continue; // already reported as an unknown kind
    const spec = kind.params[param];
    if (!spec) {
      return `stage "${stage.name}" (kind "${kind.name}") has no parameter "${param}"` +
        didYouMean(param, Object.keys(kind.params));
    }
    const problem = checkParamValue(value, spec);
    if (problem) return matched.length > 1 ? `stage "${stage.name}": ${problem}` : problem;
  }
  return undefined;
}

/**
 * The stages an override's stage part names: a stage name, or a pattern with `*` (any characters), so one
 * preset line can set a parameter on every arm stage (`train*.batch: 64`).
 */
export function matchStages<S extends { name: string }>(pattern: string, stages: readonly S[]): S[] {
  if (!pattern.includes("*")) return stages.filter((stage) => stage.name === pattern);
  const re = new RegExp(
    `^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`,
  );
  return stages.filter((stage) => re.test(stage.name));
}
