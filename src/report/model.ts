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
  caption?: string;
}

/** One row of a claims table: the paper's number next to the reproduced one. */
export interface ClaimRow {
  claimId: string;
  section: string;
  claim: string;
  metric: string;
  measures: string;
  unit: string;
  paper: number;
  reproduced: number | null;
  /** reproduced - paper, in the claim's unit. */
  difference: number | null;
  /** Whether the reproduced effect goes the paper's way; null when the figure has no direction. */
  directionMatches: boolean | null;
  preset: string;
  /** What the reproduction ran at (data set, image size, epochs), since it is rarely the paper's scale. */
  scale: string;
  note?: string;
}

export interface ClaimsTableBlock {
  type: "claims-table";
  title?: string;
  rows: ClaimRow[];
}

/** A table cell: text, a number (formatted, raw value kept in data-value), or trusted pre-built HTML. */
export type Cell = string | number | null | { html: string };

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
