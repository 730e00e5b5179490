import { findClaim, PAPER_CLAIM_IDS } from "../paper/claims.ts";
import { didYouMean } from "../util/suggest.ts";
import type { ParamIssue, StageValidationInfo } from "../pipeline/types.ts";
import { parseRef } from "./refs.ts";

/**
 * The `sections` parameter of the report stage kind: what a pipeline file writes to decide a page's content.
 * Each section is a map with exactly one of these keys. See docs/pipelines.md for examples.
 */
export interface SeriesSpec {
  /** Reference to a list (of numbers or records) or to a map of columns. */
  from: string;
  /** Field (or column) for x; omitted: 1, 2, 3, ... */
  x?: string;
  /** Field (or column) for y; omitted only when the list holds numbers. */
  y?: string;
  /** Legend text; `{axis}` is filled with the arm's value. Default: the arm, or the y field. */
  label?: string;
  multiply?: number;
}

export interface ChartSpec {
  title?: string;
  x_label?: string;
  y_label?: string;
  log_y?: boolean;
  caption?: string;
  series: SeriesSpec[];
  /** Horizontal reference lines, e.g. Figure 1's 25% training error. */
  lines?: { y: number; label: string }[];
}

export interface ClaimRowSpec {
  claim: string;
  /** Paper figure by metric name (src/paper/claims.ts); optional when the claim has one figure. */
  metric?: string;
  value?: string;
  /** [a, b]: reproduced = a - b. */
  difference?: [string, string];
  /** [a, b]: reproduced = a / b. */
  ratio?: [string, string];
  /**
   * A stage output holding its own estimate and interval ({value, low, high, n, method}, e.g. an ensemble's
   * jackknife over nets), for effects that are not per-seed values.
   */
  estimate?: string;
  /** Applied to each referenced number, e.g. 100 to turn fractions into percent. */
  multiply?: number;
  scale?: string;
  note?: string;
  /**
   * Reference to a per-seed boolean saying that seed's value is only a bound (an arm that never reached a
   * threshold): the row then says which seeds gave bounds, and that the mean and interval bound the effect.
   */
  lower_bound?: string;
}

export interface TableSpec {
  title?: string;
  /** Stage whose arms become rows (matrix axes become the first columns). */
  rows: string;
  columns: { label: string; value: string; multiply?: number }[];
}

export interface FigureSpec {
  /** Reference to a file name relative to that stage's outDir (a matrix stage gives one figure per arm). */
  from: string;
  caption?: string;
  /** true: base64 inside the page; false (default): copied next to the page and linked. */
  embed?: boolean;
}

/** A table a stage computed itself: the reference points at `{columns: string[], rows: Cell[][]}`. */
export interface DataTableSpec {
  from: string;
  title?: string;
}

export type Section =
  | { text: string }
  /** Text a stage produced (a reference to a string; empty or missing strings show nothing). */
  | { text_from: string }
  | { data_table: DataTableSpec }
  | { heading: string }
  | { chart: ChartSpec }
  | { claims: ClaimRowSpec[] }
  | { table: TableSpec }
  | { figure: FigureSpec };

export const SECTION_KINDS = [
  "text",
  "text_from",
  "heading",
  "chart",
  "claims",
  "table",
  "data_table",
  "figure",
] as const;

type FieldType = "string" | "number" | "boolean" | "ref" | "ref-pair" | "stage" | "list";
type Fields = Record<string, { type: FieldType; required?: boolean }>;

const SERIES_FIELDS: Fields = {
  from: { type: "ref", required: true },
  x: { type: "string" },
  y: { type: "string" },
  label: { type: "string" },
  multiply: { type: "number" },
};
const CHART_FIELDS: Fields = {
  title: { type: "string" },
  x_label: { type: "string" },
  y_label: { type: "string" },
  log_y: { type: "boolean" },
  caption: { type: "string" },
  series: { type: "list", required: true },
  lines: { type: "list" },
};
const LINE_FIELDS: Fields = {
  y: { type: "number", required: true },
  label: { type: "string", required: true },
};
const CLAIM_FIELDS: Fields = {
  claim: { type: "string", required: true },
  metric: { type: "string" },
  value: { type: "ref" },
  difference: { type: "ref-pair" },
  ratio: { type: "ref-pair" },
  estimate: { type: "ref" },
  multiply: { type: "number" },
  scale: { type: "string" },
  note: { type: "string" },
  lower_bound: { type: "ref" },
};
const TABLE_FIELDS: Fields = {
  title: { type: "string" },
  rows: { type: "stage", required: true },
  columns: { type: "list", required: true },
};
const COLUMN_FIELDS: Fields = {
  label: { type: "string", required: true },
  value: { type: "string", required: true },
  multiply: { type: "number" },
};
const DATA_TABLE_FIELDS: Fields = {
  from: { type: "ref", required: true },
  title: { type: "string" },
};
const FIGURE_FIELDS: Fields = {
  from: { type: "ref", required: true },
  caption: { type: "string" },
  embed: { type: "boolean" },
};

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type Path = (string | number)[];

const typeName = (value: unknown): string => typeof value;

/** Checks the `sections` parameter against the pipeline around the report stage. */
export function validateSections(sections: unknown, info: StageValidationInfo): ParamIssue[] {
  const issues: ParamIssue[] = [];
  const push = (path: Path, message: string, at: "key" | "value" = "value") =>
    issues.push({ path, message, at });

  const checkStageName = (stage: string, path: Path): boolean => {
    if (info.needs.includes(stage)) return true;
    const hint = stage in info.stages ? ` (add it to this stage's needs)` : didYouMean(stage, info.needs);
    push(path, `"${stage}" is not a stage this report needs${hint}`);
    return false;
  };
  /** `single`: must select exactly one arm (claims take one number). */
  const checkRef = (text: unknown, path: Path, single: boolean) => {
    if (typeof text !== "string") return push(path, "expected a reference like stage[axis=value].path");
    const ref = parseRef(text);
    if (typeof ref === "string") return push(path, ref);
    if (!checkStageName(ref.stage, path)) return;
    const target = info.stages[ref.stage];
    if (ref.select && !target.foreach) {
      return push(path, `stage "${ref.stage}" has no matrix arms, so "${text}" cannot select one`);
    }
    let selectorOk = true;
    for (const [axis, value] of Object.entries(ref.select ?? {})) {
      if (!(axis in info.matrix)) {
        push(path, `unknown matrix axis "${axis}"${didYouMean(axis, Object.keys(info.matrix))}`);
        selectorOk = false;
      } else if (!info.matrix[axis].includes(value)) {
        push(path, `matrix axis "${axis}" has no value "${value}"${didYouMean(value, info.matrix[axis])}`);
        selectorOk = false;
      }
    }
    // With a broken selector, "pick one arm" would only repeat the problem.
    if (single && target.foreach && selectorOk) {
      const unselected = Object.keys(info.matrix).filter((axis) => !(axis in (ref.select ?? {})));
      if (unselected.length) {
        push(
          path,
          `"${text}" must pick one arm of "${ref.stage}": add [${
            unselected.map((a) => `${a}=...`).join(",")
          }]`,
        );
      }
    }
  };
  const checkFields = (value: unknown, path: Path, fields: Fields, what: string, single = false): boolean => {
    if (!isMap(value)) {
      push(path, `expected a map for ${what}`);
      return false;
    }
    for (const key of Object.keys(value)) {
      if (!(key in fields)) {
        push([...path, key], `unknown key "${key}" in ${what}${didYouMean(key, Object.keys(fields))}`, "key");
      }
    }
    for (const [key, field] of Object.entries(fields)) {
      const item = value[key];
      if (item === undefined) {
        if (field.required) push(path, `${what} needs "${key}"`);
        continue;
      }
      const at = [...path, key];
      if (field.type === "ref") checkRef(item, at, single);
      else if (field.type === "ref-pair") {
        if (!Array.isArray(item) || item.length !== 2) push(at, "expected two references [a, b]");
        else item.forEach((ref, i) => checkRef(ref, [...at, i], true));
      } else if (field.type === "stage") {
        if (typeof item !== "string") push(at, "expected a stage name");
        else checkStageName(item, at);
      } else if (field.type === "list") {
        if (!Array.isArray(item) || item.length === 0) push(at, "expected a non-empty list");
      } else if (typeName(item) !== field.type) {
        push(at, `expected a ${field.type}, got ${JSON.stringify(item)}`);
      }
    }
    return true;
  };

  if (!Array.isArray(sections)) return [{ path: [], message: "expected a list of sections" }];
  sections.forEach((section, i) => {
    const path: Path = [i];
    if (!isMap(section) || Object.keys(section).length !== 1) {
      return push(path, `each section is a map with exactly one of: ${SECTION_KINDS.join(", ")}`, "key");
    }
    const [kind, body] = Object.entries(section)[0];
    const at = [...path, kind];
    switch (kind) {
      case "text":
      case "heading":
        if (typeof body !== "string") push(at, "expected a string");
        break;
      case "chart":
        if (checkFields(body, at, CHART_FIELDS, "a chart") && Array.isArray((body as ChartSpec).series)) {
          (body as ChartSpec).series.forEach((series, j) =>
            checkFields(series, [...at, "series", j], SERIES_FIELDS, "a chart series")
          );
          const lines = (body as ChartSpec).lines;
          if (Array.isArray(lines)) {
            lines.forEach((line, j) => checkFields(line, [...at, "lines", j], LINE_FIELDS, "a chart line"));
          }
        }
        break;
      case "claims":
        if (!Array.isArray(body) || body.length === 0) push(at, "expected a non-empty list of claim rows");
        else body.forEach((row, j) => checkClaimRow(row, [...at, j]));
        break;
      case "table":
        if (checkFields(body, at, TABLE_FIELDS, "a table") && Array.isArray((body as TableSpec).columns)) {
          (body as TableSpec).columns.forEach((column, j) =>
            checkFields(column, [...at, "columns", j], COLUMN_FIELDS, "a table column")
          );
        }
        break;
      case "figure":
        checkFields(body, at, FIGURE_FIELDS, "a figure");
        break;
      case "text_from":
        checkRef(body, at, true);
        break;
      case "data_table":
        checkFields(body, at, DATA_TABLE_FIELDS, "a data table", true);
        break;
      default:
        push([...path, kind], `unknown section "${kind}"${didYouMean(kind, SECTION_KINDS)}`, "key");
    }
  });
  return issues;

  function checkClaimRow(row: unknown, path: Path) {
    if (!checkFields(row, path, CLAIM_FIELDS, "a claim row", true)) return;
    const spec = row as ClaimRowSpec;
    const sources = (["value", "difference", "ratio", "estimate"] as const).filter((key) =>
      spec[key] !== undefined
    );
    if (sources.length !== 1) {
      push(path, "a claim row needs exactly one of value, difference, ratio, estimate");
    }
    if (typeof spec.claim !== "string") return;
    const claim = findClaim(spec.claim);
    if (!claim) {
      return push(
        [...path, "claim"],
        `unknown paper claim "${spec.claim}"${didYouMean(spec.claim, PAPER_CLAIM_IDS)}`,
      );
    }
    const metrics = claim.figures.map((figure) => figure.metric);
    if (metrics.length === 0) {
      push([...path, "claim"], `claim "${claim.id}" is qualitative; it has no number to compare`);
    } else if (spec.metric === undefined && metrics.length > 1) {
      push(
        path,
        `claim "${claim.id}" has several figures; add metric: one of ${
          metrics.map((m) => `"${m}"`).join(", ")
        }`,
      );
    } else if (spec.metric !== undefined && !metrics.includes(spec.metric)) {
      push(
        [...path, "metric"],
        `claim "${claim.id}" has no figure "${spec.metric}"${didYouMean(spec.metric, metrics)}`,
      );
    }
  }
}
