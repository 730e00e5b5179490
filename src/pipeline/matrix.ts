/** Matrix expansion: `matrix: {lrn: [on, off], pooling: [overlap, non-overlap]}` crossed into arms. */

export type MatrixScalar = string | number | boolean;

export interface MatrixAxis {
  name: string;
  values: MatrixScalar[];
}

/** One combination of axis values, typed as in the file. */
export type MatrixArm = Record<string, MatrixScalar>;

/** Every combination, first axis varying slowest (so arms list in the order a reader expects). */
export function crossMatrix(axes: readonly MatrixAxis[]): MatrixArm[] {
  let arms: MatrixArm[] = [{}];
  for (const axis of axes) {
    arms = arms.flatMap((arm) => axis.values.map((value) => ({ ...arm, [axis.name]: value })));
  }
  return arms;
}

export function armAsStrings(arm: MatrixArm): Record<string, string> {
  return Object.fromEntries(Object.entries(arm).map(([axis, value]) => [axis, String(value)]));
}

/** `lrn=on,pooling=overlap`: used in instance ids (`train[lrn=on]`) and as the arm's directory name. */
export function armLabel(arm: Record<string, unknown>): string {
  return Object.entries(arm).map(([axis, value]) => `${axis}=${value}`).join(",");
}

/** Directory-safe arm name; keeps `=` and `,` so the directory still reads as the arm. */
export function armDirName(arm: Record<string, unknown>): string {
  return armLabel(arm).replace(/[^A-Za-z0-9._=,-]/g, "_");
}

export function instanceId(stage: string, arm?: Record<string, unknown>): string {
  return arm && Object.keys(arm).length ? `${stage}[${armLabel(arm)}]` : stage;
}

const TEMPLATE = /\$\{([^}]*)\}/g;
const WHOLE_TEMPLATE = /^\$\{([^}]*)\}$/;
const MATRIX_REFERENCE = /^\s*matrix\.([A-Za-z_][\w-]*)\s*$/;

export interface TemplateReference {
  /** Path inside the params value where the string is. */
  path: (string | number)[];
  /** Text between `${` and `}`. */
  expression: string;
  /** The axis named, when the expression has the form `matrix.<axis>`. */
  axis?: string;
}

/** Every `${...}` in a params value, with where it is, so the parser can check axis names. */
export function findTemplates(value: unknown, path: (string | number)[] = []): TemplateReference[] {
  if (typeof value === "string") {
    return [...value.matchAll(TEMPLATE)].map((match) => ({
      path,
      expression: match[1],
      axis: MATRIX_REFERENCE.exec(match[1])?.[1],
    }));
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => findTemplates(item, [...path, i]));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => findTemplates(item, [...path, key]));
  }
  return [];
}

/**
 * Substitutes `${matrix.axis}`. A string that is exactly one reference takes the axis value with its type
 * (`lr: ${matrix.lr}` stays a number); references inside longer strings are interpolated as text.
 */
export function substituteMatrix(value: unknown, arm: MatrixArm): unknown {
  if (typeof value === "string") {
    const whole = WHOLE_TEMPLATE.exec(value);
    const wholeAxis = whole ? MATRIX_REFERENCE.exec(whole[1])?.[1] : undefined;
    if (wholeAxis !== undefined && wholeAxis in arm) return arm[wholeAxis];
    return value.replace(TEMPLATE, (text, expression: string) => {
      const axis = MATRIX_REFERENCE.exec(expression)?.[1];
      return axis !== undefined && axis in arm ? String(arm[axis]) : text;
    });
  }
  if (Array.isArray(value)) return value.map((item) => substituteMatrix(item, arm));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteMatrix(item, arm)]));
  }
  return value;
}
