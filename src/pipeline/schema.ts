import type { ParamSchema, ParamSpec, ParamValues } from "./types.ts";
import { didYouMean } from "../util/suggest.ts";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Human description of what a parameter accepts, for error messages and `--list`. */
export function describeParamType(spec: ParamSpec): string {
  if (spec.type === "enum") return `one of ${spec.values!.map((v) => JSON.stringify(v)).join(", ")}`;
  const bounds = spec.min !== undefined || spec.max !== undefined
    ? ` in [${spec.min ?? "-inf"}, ${spec.max ?? "inf"}]`
    : "";
  return spec.type + bounds;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) return "a map";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function checkBounds(value: number, spec: ParamSpec): string | undefined {
  if (spec.min !== undefined && value < spec.min) return `${value} is below the minimum ${spec.min}`;
  if (spec.max !== undefined && value > spec.max) return `${value} is above the maximum ${spec.max}`;
  return undefined;
}

/** Why `value` does not fit `spec`, or undefined when it does. */
export function checkParamValue(value: unknown, spec: ParamSpec): string | undefined {
  const expected = `expected ${describeParamType(spec)}, got ${describeValue(value)}`;
  switch (spec.type) {
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? checkBounds(value, spec) : expected;
    case "integer":
      return Number.isInteger(value) ? checkBounds(value as number, spec) : expected;
    case "string":
      return typeof value === "string" ? undefined : expected;
    case "boolean":
      return typeof value === "boolean" ? undefined : expected;
    case "enum":
      return typeof value === "string" && spec.values!.includes(value)
        ? undefined
        : expected + (typeof value === "string" ? didYouMean(value, spec.values!) : "");
    case "string[]":
      return Array.isArray(value) && value.every((v) => typeof v === "string") ? undefined : expected;
    case "number[]":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
        return expected;
      }
      for (const v of value) {
        const problem = checkBounds(v, spec);
        if (problem) return problem;
      }
      return undefined;
    case "object":
      return isPlainObject(value) ? undefined : expected;
    case "object[]":
      return Array.isArray(value) && value.every(isPlainObject) ? undefined : expected;
  }
}

export interface SchemaProblem {
  /** Parameter name the problem is about. */
  param: string;
  message: string;
  kind: "unknown" | "type" | "missing";
}

/** Unknown names and wrong types in `given` (missing required parameters are checked by `missingParams`). */
export function checkParams(kindName: string, schema: ParamSchema, given: ParamValues): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const [param, value] of Object.entries(given)) {
    const spec = schema[param];
    if (!spec) {
      problems.push({
        param,
        kind: "unknown",
        message: `unknown parameter "${param}" for stage kind "${kindName}"${
          didYouMean(param, Object.keys(schema))
        }`,
      });
      continue;
    }
    const problem = checkParamValue(value, spec);
    if (problem) problems.push({ param, kind: "type", message: problem });
  }
  return problems;
}

export function missingParams(kindName: string, schema: ParamSchema, given: ParamValues): SchemaProblem[] {
  return Object.entries(schema)
    .filter(([param, spec]) => spec.required && spec.default === undefined && given[param] === undefined)
    .map(([param, spec]) => ({
      param,
      kind: "missing" as const,
      message: `stage kind "${kindName}" requires parameter "${param}" (${spec.doc})`,
    }));
}

/** Schema defaults, deep-copied so a stage mutating its params cannot change another stage's. */
export function schemaDefaults(schema: ParamSchema): ParamValues {
  const defaults: ParamValues = {};
  for (const [param, spec] of Object.entries(schema)) {
    if (spec.default !== undefined) defaults[param] = structuredClone(spec.default);
  }
  return defaults;
}
