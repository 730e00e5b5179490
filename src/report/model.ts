/**
 * The declarative page model: a report is a list of blocks; html.ts turns it into one self-contained HTML file.
 * Keeping the model separate from rendering lets stages and tests build pages without touching HTML.
 */

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  label: string;
  points: Point[];
}

export interface LineChartBlock {
  type: "line-chart";
  title: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  series: LineSeries[];
  /** Horizontal reference lines across the chart (a threshold such as Figure 1's 25%). */
  lines?: { y: number; label: string }[];
  caption?: string;
}

/** One series of an interval chart: a value (or none) per category, optionally with an interval. */
export interface IntervalSeries {
  label: string;
  /** bar: a filled bar from 0; dot: a point; mark: a dash or cross, for the paper's value. */
  style: "bar" | "dot" | "mark";
  /** Which value axis: the primary one, or the secondary logarithmic one (ratios next to differences). */
  axis?: "primary" | "secondary";
  values: (number | null)[];
  /** [low, high] per category, drawn as whiskers; null where there is none (one seed). */
  intervals?: ([number, number] | null)[];
}

/** Values per category with confidence whiskers: bars per arm, or effect dots next to the paper's numbers. */
export interface IntervalChartBlock {
  type: "interval-chart";
  title: string;
  /** vertical: categories along x, values up; horizontal: categories down the side (many long labels). */
  orientation: "vertical" | "horizontal";
  categories: string[];
  valueLabel: string;
  /** Label of the secondary, logarithmic value axis; present when a series uses it. */
  secondaryLabel?: string;
  series: IntervalSeries[];
  caption?: string;
}

/** One row of a claims table: the paper's number next to the reproduced one, measured over seeds. */
export interface ClaimRow {
  claimId: string;
  section: string;
  claim: string;
  metric: string;
  measures: string;
  unit: string;
  /** absolute, difference or ratio (src/paper/claims.ts): ratios are averaged on a log scale. */
  kind: string;
  /** The paper's number; null for a qualitative claim. */
  paper: number | null;
  /** Mean over seeds (a ratio's geometric mean); null when nothing finite was measured. */
  reproduced: number | null;
  /** The 95% t-interval of `reproduced`; null below two seeds. */
  low: number | null;
  high: number | null;
  /** The value of each seed, and the seeds. */
  perSeed: number[];
  seeds: number[];
  /** Smallest effect detectable with 80% power at this spread and seed count (ratios: a factor). */
  detectable: number | null;
  /** held, contradicted, inconclusive, inconclusive (1 seed), not measured, no direction, not tested. */
  verdict: string;
  /**
   * How many seeds a paired t-test needs to detect the paper's effect with 80% power, and their compute.
   * Absent on pages made before it was computed (the index then computes it from the lockfile).
   */
  seedPlan?: SeedPlan;
  /** Why the figure gets no verdict, when it is `not tested`. */
  verdictNote?: string;
  /** Which seeds' values are only bounds (an arm never reached a threshold), in words. */
  boundNote?: string;
  preset: string;
  /** What the reproduction ran at (data set, image size, epochs): said once per page, not per row. */
  scale: string;
  note?: string;
}

/** Why a claim row has no seed count. */
export type NoSeedCount =
  | "qualitative"
  | "absolute"
  | "not measured"
  | "one seed"
  | "no spread"
  | "no effect"
  | "given interval"
  | "over cap";

/**
 * The seeds a paired t-test (two-sided, 5%) needs for 80% power against the paper's effect, taking the
 * spread of the seeds run as the true one, and what running that many would cost at the recorded speed.
 */
export interface SeedPlan {
  /** The count; null when there is none (`noCount` says why). */
  seeds: number | null;
  noCount?: NoSeedCount;
  /** The largest count searched: beyond it the row reads "over <cap>". */
  cap: number;
  /** |paper's effect| / s, on the log scale for ratios; null where either is missing. */
  standardizedEffect: number | null;
  /** Seeds that gave a value (the pilot the spread comes from). */
  seedsRun: number;
  /** Recorded compute of one seed of the pipeline (ms); null when none was recorded. */
  perSeedMs: number | null;
  /** `seeds` times perSeedMs, and the part beyond the seeds run; null without a count or a record. */
  totalMs: number | null;
  addedMs: number | null;
  /** The count is over the cap, or its added compute over what this scale can afford: run `full` instead. */
  outOfReach: boolean;
}

export interface ClaimsTableBlock {
  type: "claims-table";
  title?: string;
  rows: ClaimRow[];
}

/** A table cell: text, a number (formatted, raw value kept in data-value), or trusted pre-built HTML. */
export type Cell = string | number | null | { html: string; className?: string };

export interface TableBlock {
  type: "table";
  title?: string;
  /** CSS class of the table element (default "data"; tests select tables by it). */
  className?: string;
  columns: string[];
  rows: Cell[][];
}

export interface FigureBlock {
  type: "figure";
  /** Path relative to the page, or a data: URI. */
  src: string;
  caption: string;
  alt?: string;
}

/** Paragraphs separated by blank lines; `code`, **bold** and [text](href) inline. */
export interface TextBlock {
  type: "text";
  text: string;
}

export interface HeadingBlock {
  type: "heading";
  text: string;
}

export interface StageProvenance {
  id: string;
  kind: string;
  durationMs: number;
  cached: boolean;
  preset: string;
  finishedAt: string;
}

export interface Provenance {
  pipeline: string;
  preset: string;
  overrides: Record<string, unknown>;
  seed: number;
  seeds: number[];
  adapter: string;
  denoVersion: string;
  gitCommit: string;
  generatedAt: string;
  datasets: Record<string, string>;
  stages: StageProvenance[];
}

export interface ProvenanceBlock {
  type: "provenance";
  provenance: Provenance;
}

export type Block =
  | LineChartBlock
  | IntervalChartBlock
  | ClaimsTableBlock
  | TableBlock
  | FigureBlock
  | TextBlock
  | HeadingBlock
  | ProvenanceBlock;

export interface ReportPage {
  title: string;
  subtitle?: string;
  /** Links shown under the title, e.g. back to the index; href relative to the page. */
  links?: { text: string; href: string }[];
  blocks: Block[];
}
