// How a stage's parameters differ from its last run, said in one line of the run log. Long structured values
// (a report's sections, say) are not printed whole: the line names the first place where they differ.

import { canonicalJson, keyUnion } from "./hash.ts";

/** Longest value printed as it is; longer ones are shown from their first difference, cut to this length. */
const SHORT = 60;

function shown(value: unknown): string {
  const text = canonicalJson(value) ?? "unset";
  return text.length > SHORT ? `${text.slice(0, SHORT - 1)}…` : text;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The path of the first leaf (in key and index order) where two JSON values differ, and the values there. */
export function firstDifference(
  a: unknown,
  b: unknown,
  path: string,
): { path: string; a: unknown; b: unknown } | undefined {
  if (canonicalJson(a) === canonicalJson(b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
  }
  if (isObject(a) && isObject(b)) {
    for (const key of keyUnion(a, b)) {
      const d = firstDifference(a[key], b[key], `${path}.${key}`);
      if (d) return d;
    }
  }
  return { path, a, b };
}

/** One changed parameter; `a` and `b` are its values as canonical JSON ("unset" when absent). */
function describeOne(key: string, before: unknown, after: unknown, a: string, b: string): string {
  if (a.length <= SHORT && b.length <= SHORT) return `${key} ${a} -> ${b}`;
  const d = firstDifference(before, after, key)!;
  const items = Array.isArray(before) && Array.isArray(after) && before.length !== after.length
    ? ` (${key}: ${before.length} -> ${after.length} items)`
    : "";
  return `${d.path} ${shown(d.a)} -> ${shown(d.b)}${items}`;
}

/** "epochs 12 -> 20, init_std unset -> {...}": the first three changed parameters, and how many there are. */
export function describeParamChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string {
  const changes: string[] = [];
  for (const key of keyUnion(before, after)) {
    const a = canonicalJson(before[key]) ?? "unset", b = canonicalJson(after[key]) ?? "unset";
    if (a !== b) changes.push(describeOne(key, before[key], after[key], a, b));
  }
  const first = changes.slice(0, 3).join(", ");
  return changes.length > 3 ? `${first}, ... (${changes.length} changes)` : first;
}
