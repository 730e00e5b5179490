import { basename, extname, join } from "@std/path";
import { findClaim } from "../paper/claims.ts";
import { armDirName } from "../pipeline/matrix.ts";
import type { RunInfo, StageResult } from "../pipeline/types.ts";
import type { Block, Cell, ClaimRow, LineChartBlock, LineSeries, Provenance } from "../report/model.ts";
import { givenClaimEffect, type GivenEstimate, measureClaimEffect } from "./claim_effect.ts";
import { planSeeds } from "./seed_plan.ts";
import { claimCharts } from "./claim_chart.ts";
import { parseRef, resolveNumbersBySeed, resolveRef, valueAtPath } from "./refs.ts";
import type { OutputRef } from "./refs.ts";
import type { ChartSpec, ClaimRowSpec, DataTableSpec, FigureSpec, Section, TableSpec } from "./sections.ts";

type Inputs = Record<string, StageResult | StageResult[]>;

/** Everything section builders need besides the section itself. */
export interface BuildContext {
  inputs: Inputs;
  /** The report's own output directory (figures are copied under it). */
  outDir: string;
  preset: string;
  /** Files written next to the page, name -> path relative to outDir (they become the stage's `files`). */
  files: Record<string, string>;
  /** Claim rows, collected so the index page can show them without parsing HTML. */
  claimRows: ClaimRow[];
  /** The run's seeds: with several, charts, tables and figures name each instance's seed. */
  seeds: number[];
  /** Recorded compute of one seed (seed_plan.ts), which prices each claim row's seeds for 80% power. */
  perSeedMs: number | null;
}

/** Fewer points than this per series and a line chart says nothing a table does not. */
export const MIN_LINE_POINTS = 4;

function ref(text: string): OutputRef {
  const parsed = parseRef(text);
  if (typeof parsed === "string") throw new Error(parsed); // validated earlier; only reachable from code
  return parsed;
}

function armText(result: StageResult): string {
  return Object.entries(result.matrix ?? {}).map(([axis, value]) => `${axis}=${value}`).join(", ");
}

/** `, seed 2` when the run has several seeds (so per-seed series, rows and figures can be told apart). */
function seedText(result: StageResult, ctx: Pick<BuildContext, "seeds">): string {
  return ctx.seeds.length > 1 && result.seed !== undefined ? `seed ${result.seed}` : "";
}

function fillLabel(template: string, result: StageResult): string {
  return template.replace(/\{([\w-]+)\}/g, (text, axis: string) => result.matrix?.[axis] ?? text);
}

function toNumber(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^(NaN|-?Infinity)$/.test(value)) return Number(value);
  return null;
}

/** Points from a list of numbers, a list of records, or a map of equal-length columns. */
function toPoints(value: unknown, x: string | undefined, y: string | undefined, where: string) {
  const points: { x: number; y: number }[] = [];
  const push = (xv: unknown, yv: unknown) => {
    const xn = toNumber(xv), yn = toNumber(yv);
    if (xn !== null && yn !== null && Number.isFinite(xn) && Number.isFinite(yn)) {
      points.push({ x: xn, y: yn });
    }
  };
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (typeof item === "object" && item !== null) {
        if (!y) throw new Error(`${where}: the list holds records, so the series needs y: <field>`);
        const record = item as Record<string, unknown>;
        push(x ? record[x] : i + 1, record[y]);
      } else push(i + 1, item);
    });
  } else if (typeof value === "object" && value !== null && y) {
    const columns = value as Record<string, unknown>;
    const ys = columns[y], xs = x ? columns[x] : undefined;
    if (!Array.isArray(ys)) throw new Error(`${where}: no column "${y}"`);
    ys.forEach((yv, i) => push(Array.isArray(xs) ? xs[i] : i + 1, yv));
  } else throw new Error(`${where}: expected a list or a map of columns, got ${JSON.stringify(value)}`);
  return points;
}

function buildChart(spec: ChartSpec, ctx: BuildContext): Block {
  const block = lineChart(spec, ctx);
  const longest = Math.max(0, ...block.series.map((series) => series.points.length));
  if (longest >= MIN_LINE_POINTS) return block;
  // One to three points (a two-epoch run's per-epoch curve): the tables carry the numbers.
  return {
    type: "text",
    text: `Chart "${block.title || block.yLabel}" left out: its longest series has ${longest} point${
      longest === 1 ? "" : "s"
    } (the tables give the numbers).`,
  };
}

function lineChart(spec: ChartSpec, ctx: BuildContext): LineChartBlock {
  const series: LineSeries[] = [];
  for (const seriesSpec of spec.series) {
    const resolved = resolveRef(ref(seriesSpec.from), ctx.inputs);
    for (const { result, value } of resolved) {
      const multiply = seriesSpec.multiply ?? 1;
      const points = toPoints(value, seriesSpec.x, seriesSpec.y, seriesSpec.from)
        .map((p) => ({ x: p.x, y: p.y * multiply }));
      const defaultLabel = [armText(result), resolved.length > 1 ? "" : seriesSpec.y ?? seriesSpec.from]
        .filter(Boolean).join(" ");
      const label = seriesSpec.label !== undefined ? fillLabel(seriesSpec.label, result) : defaultLabel;
      series.push({ label: [label || result.id, seedText(result, ctx)].filter(Boolean).join(", "), points });
    }
  }
  return {
    type: "line-chart",
    title: spec.title ?? "",
    xLabel: spec.x_label ?? spec.series[0].x ?? "step",
    yLabel: spec.y_label ?? spec.series[0].y ?? "",
    logY: spec.log_y,
    caption: spec.caption,
    series,
    ...(spec.lines ? { lines: spec.lines } : {}),
  };
}

/** One arm a claim row compares (a or b of `difference`/`ratio`): its label and each seed's value. */
export interface ClaimArm {
  ref: string;
  label: string;
  /** Path of the value in the arm's outputs, to tell apart two values of one arm. */
  path: string;
  values: number[];
}

/** A claim row with what its chart needs: the arms behind an effect (none for a `value` row). */
export interface ClaimMeasurement {
  row: ClaimRow;
  arms: ClaimArm[];
  /** The `value` reference of a row without arms. */
  valueRef?: string;
}

/** How a result is called in charts: its own `label` output (a train stage's), else its arm, else its stage. */
export function resultLabel(result: StageResult): string {
  if (typeof result.outputs.label === "string" && result.outputs.label) return result.outputs.label;
  return armText(result) || result.stage;
}

/** A claim row measured over seeds: per-seed values (paired across arms by seed), interval and verdict. */
export function measureClaimRow(spec: ClaimRowSpec, ctx: BuildContext): ClaimMeasurement {
  const claim = findClaim(spec.claim);
  if (!claim) throw new Error(`unknown paper claim "${spec.claim}"`);
  const figure = spec.metric === undefined
    ? claim.figures[0]
    : claim.figures.find((f) => f.metric === spec.metric);
  if (!figure) throw new Error(`claim "${claim.id}" has no figure "${spec.metric}"`);
  const multiply = spec.multiply ?? 1;
  const numbers = (text: string) => {
    const bySeed = resolveNumbersBySeed(ref(text), ctx.inputs);
    return new Map([...bySeed].map(([seed, found]) => [seed, { ...found, value: found.value * multiply }]));
  };
  const perSeed = new Map<number, number>();
  const arms: ClaimArm[] = [];
  let source: StageResult;
  let given: GivenEstimate | undefined;
  if (spec.estimate !== undefined) {
    const found = resolveRef(ref(spec.estimate), ctx.inputs);
    if (found.length !== 1) {
      throw new Error(`${spec.estimate}: selects ${found.length} results, expected one`);
    }
    given = asGivenEstimate(spec.estimate, found[0].value);
    source = found[0].result;
  } else if (spec.value !== undefined) {
    const a = numbers(spec.value);
    for (const [seed, { value }] of a) perSeed.set(seed, value);
    source = [...a.values()][0].result;
  } else {
    const [textA, textB] = (spec.difference ?? spec.ratio)!;
    const a = numbers(textA), b = numbers(textB);
    // Paired: each seed's a against the same seed's b (same initialisation and data order). A side from a
    // stage that runs once for every seed (it does not depend on the seed, e.g. a measure of the data alone)
    // is the same number for each seed of the other side.
    const once = (text: string, values: typeof a) =>
      !Array.isArray(ctx.inputs[ref(text).stage]) && values.size === 1 ? [...values.values()][0] : undefined;
    const onceA = once(textA, a), onceB = once(textB, b);
    const seeds = onceA && !onceB ? [...b.keys()] : [...a.keys()];
    for (const seed of seeds) {
      const found = onceA ?? a.get(seed), other = onceB ?? b.get(seed);
      if (found && other) {
        perSeed.set(seed, spec.difference ? found.value - other.value : found.value / other.value);
      }
    }
    for (const [text, values] of [[textA, a], [textB, b]] as const) {
      const first = [...values.values()][0].result;
      arms.push({
        ref: text,
        label: resultLabel(first),
        path: ref(text).path.join("."),
        values: [...values.values()].map((found) => found.value),
      });
    }
    source = [...a.values()][0].result;
  }
  const effect = given ? givenClaimEffect(figure, given, multiply) : measureClaimEffect(figure, perSeed);
  const bounded = spec.lower_bound === undefined
    ? []
    : resolveRef(ref(spec.lower_bound), ctx.inputs).filter(({ value }) => value === true)
      .map(({ result }) => result.seed ?? 0).sort((x, y) => x - y);
  const boundNote = bounded.length === 0
    ? undefined
    : `${
      bounded.length === effect.seeds.length
        ? "every seed's value is a lower bound"
        : `seed${bounded.length > 1 ? "s" : ""} ${bounded.join(", ")} gave lower bounds`
    } (an arm never reached the threshold), so the effect is at least this`;
  const scale = spec.scale ?? (typeof source.outputs.scale === "string" ? source.outputs.scale : "");
  const row: ClaimRow = {
    claimId: claim.id,
    section: claim.section,
    claim: claim.claim,
    metric: figure.metric,
    measures: figure.measures,
    unit: figure.unit,
    kind: figure.kind,
    paper: figure.value,
    reproduced: effect.mean,
    low: effect.low,
    high: effect.high,
    perSeed: effect.perSeed,
    seeds: effect.seeds,
    detectable: effect.detectable,
    verdict: effect.verdict,
    seedPlan: given
      ? {
        ...planSeeds({ kind: figure.kind, paper: figure.value, perSeed: [] }, ctx.perSeedMs),
        noCount: "given interval",
      }
      : planSeeds({ kind: figure.kind, paper: figure.value, perSeed: effect.perSeed }, ctx.perSeedMs),
    ...(figure.untestable ? { verdictNote: `not tested: ${figure.untestable}` } : {}),
    preset: source.preset,
    scale,
    ...(spec.note !== undefined || given
      ? {
        note: [spec.note, given && `interval: ${given.method} (n = ${given.n})`].filter(Boolean).join("; "),
      }
      : {}),
    ...(boundNote ? { boundNote } : {}),
  };
  return { row, arms, ...(spec.value !== undefined ? { valueRef: spec.value } : {}) };
}

/** A stage output that is an estimate with its interval, checked field by field. */
function asGivenEstimate(text: string, value: unknown): GivenEstimate {
  const v = value as Partial<GivenEstimate> | null;
  const bad = ["value", "low", "high", "n"].filter((key) =>
    typeof v?.[key as keyof GivenEstimate] !== "number"
  );
  if (!v || bad.length || typeof v.method !== "string") {
    throw new Error(
      `${text}: expected {value, low, high, n, method}, missing or not numbers: ${bad.join(", ")}`,
    );
  }
  return v as GivenEstimate;
}

function buildTable(spec: TableSpec, ctx: BuildContext): Block {
  const input = ctx.inputs[spec.rows];
  if (!input) throw new Error(`table rows: stage "${spec.rows}" is not among the inputs`);
  const arms = Array.isArray(input) ? input : [input];
  const axes = Object.keys(arms[0].matrix ?? {});
  // A stage that runs once (no per-seed array) gives one row for every seed: no seed column.
  const withSeed = ctx.seeds.length > 1 && Array.isArray(input) &&
    arms.some((result) => result.seed !== undefined);
  const rows = arms.map((result): Cell[] => [
    ...axes.map((axis) => result.matrix![axis]),
    ...(withSeed ? [result.seed ?? null] : []),
    ...spec.columns.map((column) => {
      const path = column.value.split(".").map((seg) => (/^-?\d+$/.test(seg) ? Number(seg) : seg));
      const found = valueAtPath(result.outputs, path);
      if ("missing" in found) {
        throw new Error(`table column "${column.label}": ${result.id} has ${found.missing}`);
      }
      const number = toNumber(found.value);
      if (number !== null) return number * (column.multiply ?? 1);
      return found.value === null || found.value === undefined ? null : String(found.value);
    }),
  ]);
  const columns = [...axes, ...(withSeed ? ["seed"] : []), ...spec.columns.map((c) => c.label)];
  return { type: "table", title: spec.title, columns, rows };
}

const MIME: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
};

async function buildFigures(spec: FigureSpec, ctx: BuildContext): Promise<Block[]> {
  const blocks: Block[] = [];
  for (const { result, value } of resolveRef(ref(spec.from), ctx.inputs)) {
    if (typeof value !== "string") {
      throw new Error(`${spec.from}: expected a file name, got ${JSON.stringify(value)}`);
    }
    const source = join(result.outDir, value);
    const caption = [spec.caption ?? basename(value), armText(result), seedText(result, ctx)].filter(Boolean)
      .join(" - ");
    if (spec.embed) {
      const mime = MIME[extname(value).toLowerCase()] ?? "application/octet-stream";
      const base64 = btoa(
        Array.from(await Deno.readFile(source), (byte) => String.fromCharCode(byte)).join(""),
      );
      blocks.push({ type: "figure", src: `data:${mime};base64,${base64}`, caption });
      continue;
    }
    const label = ctx.seeds.length > 1 ? { ...result.matrix, seed: result.seed } : result.matrix;
    const arm = label && Object.keys(label).length ? `-${armDirName(label)}` : "";
    const name = `figures/${result.stage}${arm}-${basename(value)}`;
    await Deno.mkdir(join(ctx.outDir, "figures"), { recursive: true });
    await Deno.copyFile(source, join(ctx.outDir, name));
    ctx.files[`figure-${Object.keys(ctx.files).length}`] = name;
    blocks.push({ type: "figure", src: encodeURI(name), caption });
  }
  return blocks;
}

/** The text of the instance (or, with several seeds, of each seed's instance, each named). */
function buildTextFrom(text: string, ctx: BuildContext): Block[] {
  const blocks: Block[] = [];
  for (const { result, value } of resolveRef(ref(text), ctx.inputs)) {
    if (value === null || value === undefined || value === "") continue;
    if (typeof value !== "string") throw new Error(`${text}: expected text, got ${JSON.stringify(value)}`);
    const seed = seedText(result, ctx);
    blocks.push({ type: "text", text: seed ? `${seed[0].toUpperCase()}${seed.slice(1)}: ${value}` : value });
  }
  return blocks;
}

/** A stage's own table; with several seeds, the first seed's (the title says which). */
function buildDataTable(spec: DataTableSpec, ctx: BuildContext): Block {
  const [{ value, result }] = resolveRef(ref(spec.from), ctx.inputs);
  const table = value as { columns?: unknown; rows?: unknown };
  if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) {
    throw new Error(
      `${spec.from}: expected {columns: [...], rows: [[...], ...]}, got ${JSON.stringify(value)}`,
    );
  }
  const cell = (v: unknown): Cell =>
    typeof v === "number" || typeof v === "string" || v === null
      ? v
      : v === undefined
      ? null
      : JSON.stringify(v);
  const seed = seedText(result, ctx);
  return {
    type: "table",
    title: seed && spec.title ? `${spec.title} (${seed})` : spec.title,
    columns: table.columns.map(String),
    rows: (table.rows as unknown[][]).map((row) => row.map(cell)),
  };
}

/** Turns one section of the report params into page blocks (reading upstream outputs, copying figures). */
export async function buildSection(section: Section, ctx: BuildContext): Promise<Block[]> {
  if ("text" in section) return [{ type: "text", text: section.text }];
  if ("text_from" in section) return buildTextFrom(section.text_from, ctx);
  if ("data_table" in section) return [buildDataTable(section.data_table, ctx)];
  if ("heading" in section) return [{ type: "heading", text: section.heading }];
  if ("chart" in section) return [buildChart(section.chart, ctx)];
  if ("table" in section) return [buildTable(section.table, ctx)];
  if ("figure" in section) return await buildFigures(section.figure, ctx);
  const measured = section.claims.map((row) => measureClaimRow(row, ctx));
  const rows = measured.map((m) => m.row);
  ctx.claimRows.push(...rows);
  const contexts = [...new Set(rows.map((row) => row.claimId))]
    .map((id) => findClaim(id)!)
    .filter((claim) => claim.context)
    .map((claim) => `**${claim.id}**: ${claim.context}`);
  return [
    { type: "claims-table", rows },
    ...claimCharts(measured),
    ...(contexts.length ? [{ type: "text" as const, text: contexts.join("\n\n") }] : []),
  ];
}

export function buildProvenance(run: RunInfo, preset: string): Provenance {
  const stages = [...run.completed.values()];
  const datasets: Record<string, string> = {};
  for (const stage of stages) Object.assign(datasets, stage.datasets);
  return {
    pipeline: run.pipeline.name,
    preset,
    overrides: run.overrides,
    seed: run.seed,
    seeds: run.seeds,
    adapter: run.adapter,
    denoVersion: run.denoVersion,
    gitCommit: run.gitCommit,
    // When the run began (a probe of the page sees a fixed time, so its fingerprint is stable).
    generatedAt: run.startedAt,
    datasets,
    stages: stages.map((stage) => ({
      id: stage.id,
      kind: stage.kind,
      durationMs: stage.durationMs,
      cached: stage.cached,
      preset: stage.preset,
      finishedAt: stage.finishedAt,
    })),
  };
}
