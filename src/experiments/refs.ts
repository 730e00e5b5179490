import type { StageResult } from "../pipeline/types.ts";

/**
 * References from report params into upstream outputs: `stage[axis=value,...].path.to.value`.
 * Path segments are object keys or array indices (negative counts from the end: `history.-1`).
 * Without `[...]` a matrix stage's reference means every arm.
 */
export interface OutputRef {
  text: string;
  stage: string;
  /** Arm selector (`[lrn=on]`); undefined when none was written. */
  select?: Record<string, string>;
  path: (string | number)[];
}

const REF_PATTERN = /^([a-z][a-z0-9_-]*)(?:\[([^\]]*)\])?((?:\.[^.\[\]]+)*)$/;

export function parseRef(text: string): OutputRef | string {
  const match = REF_PATTERN.exec(text.trim());
  if (!match) return `"${text}" is not a reference of the form stage[axis=value].path.to.value`;
  const [, stage, selector, rest] = match;
  let select: Record<string, string> | undefined;
  if (selector !== undefined) {
    select = {};
    for (const part of selector.split(",").map((s) => s.trim()).filter(Boolean)) {
      const eq = part.indexOf("=");
      if (eq <= 0) return `arm selector "${part}" in "${text}" must read axis=value`;
      select[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  }
  const path = rest ? rest.slice(1).split(".").map((seg) => (/^-?\d+$/.test(seg) ? Number(seg) : seg)) : [];
  return { text, stage, select, path };
}

/** The value at `path`, or a description of where the path stopped matching. */
export function valueAtPath(
  value: unknown,
  path: (string | number)[],
): { value: unknown } | { missing: string } {
  let current = value;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    if (Array.isArray(current) && typeof segment === "number") {
      const index = segment < 0 ? current.length + segment : segment;
      if (index < 0 || index >= current.length) {
        return { missing: `index ${segment} is outside a list of ${current.length}` };
      }
      current = current[index];
    } else if (
      typeof current === "object" && current !== null && !Array.isArray(current) && String(segment) in current
    ) {
      current = (current as Record<string, unknown>)[String(segment)];
    } else {
      const here = path.slice(0, i).join(".") || "(outputs)";
      const keys = typeof current === "object" && current !== null
        ? Array.isArray(current) ? `a list of ${current.length}` : `keys: ${Object.keys(current).join(", ")}`
        : JSON.stringify(current);
      return { missing: `no "${segment}" under ${here} (${keys})` };
    }
  }
  return { value: current };
}

export interface ResolvedValue {
  result: StageResult;
  value: unknown;
}

/** Every arm the reference selects, with its value; throws with a precise message when something is missing. */
export function resolveRef(
  ref: OutputRef,
  inputs: Record<string, StageResult | StageResult[]>,
): ResolvedValue[] {
  const input = inputs[ref.stage];
  if (!input) throw new Error(`${ref.text}: stage "${ref.stage}" is not among this stage's inputs`);
  const arms = (Array.isArray(input) ? input : [input]).filter((result) =>
    Object.entries(ref.select ?? {}).every(([axis, value]) => result.matrix?.[axis] === value)
  );
  if (arms.length === 0) throw new Error(`${ref.text}: no arm of "${ref.stage}" matches the selector`);
  return arms.map((result) => {
    const found = valueAtPath(result.outputs, ref.path);
    if ("missing" in found) throw new Error(`${ref.text}: ${result.id} has ${found.missing}`);
    return { result, value: found.value };
  });
}

/** A single number from exactly one arm. */
export function resolveNumber(
  ref: OutputRef,
  inputs: Record<string, StageResult | StageResult[]>,
): ResolvedValue & {
  value: number;
} {
  const values = resolveRef(ref, inputs);
  if (values.length !== 1) {
    throw new Error(`${ref.text}: selects ${values.length} arms; name one with [axis=value,...]`);
  }
  const [{ result, value }] = values;
  return { result, value: toNumber(ref, value) };
}

/** A reference's number from each seed's instance of one arm; throws when one seed has several arms. */
export function resolveNumbersBySeed(
  ref: OutputRef,
  inputs: Record<string, StageResult | StageResult[]>,
): Map<number, ResolvedValue & { value: number }> {
  const bySeed = new Map<number, ResolvedValue & { value: number }>();
  for (const { result, value } of resolveRef(ref, inputs)) {
    const seed = result.seed ?? 0;
    if (bySeed.has(seed)) {
      throw new Error(`${ref.text}: selects several arms; name one with [axis=value,...]`);
    }
    bySeed.set(seed, { result, value: toNumber(ref, value) });
  }
  return bySeed;
}

// null is "not measured" (e.g. a table whose data was not given): it shows as "-", not as an error.
function toNumber(ref: OutputRef, value: unknown): number {
  const number = value === null
    ? NaN
    : typeof value === "string" && /^(NaN|-?Infinity)$/.test(value)
    ? Number(value)
    : value;
  if (typeof number !== "number") {
    throw new Error(`${ref.text}: expected a number, got ${JSON.stringify(value)}`);
  }
  return number;
}
