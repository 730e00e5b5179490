import { chartJsSource } from "./chartjs.ts";
import {
  escapeHtml,
  formatDuration,
  formatHours,
  formatNumber,
  formatSigned,
  jsonForScript,
  paragraphs,
} from "./format.ts";
import type {
  Block,
  Cell,
  ClaimRow,
  ClaimsTableBlock,
  FigureBlock,
  IntervalChartBlock,
  LineChartBlock,
  NoSeedCount,
  Provenance,
  ReportPage,
  SeedPlan,
  TableBlock,
} from "./model.ts";

const STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #2f5fb3; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.2em; margin: 32px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 8px; } nav a { margin-right: 16px; }
a { color: var(--accent); } code { background: #f1f3f7; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 0.93em; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f6f7fa; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.muted { color: var(--muted); } .note { color: var(--muted); font-size: .85em; }
td.verdict { font-weight: 600; white-space: nowrap; } td.seed-plan { min-width: 9em; }
td.verdict-held { background: #e3f4e8; color: #17612b; }
td.verdict-contradicted { background: #fbe4e2; color: #9c1f17; }
td.verdict-inconclusive { background: #fdf1d8; color: #7a5200; }
td.verdict-none { color: var(--muted); font-weight: 400; }
.method { font-size: .92em; } .method td:first-child { width: 200px; color: var(--muted); }
figure { margin: 16px 0; } figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
.chart-box { position: relative; height: 340px; }
figure img { max-width: 100%; min-width: 160px; image-rendering: pixelated; border: 1px solid var(--line); }
td code { white-space: nowrap; }
.provenance { margin-top: 40px; font-size: 0.88em; } .provenance td:first-child { width: 180px; color: var(--muted); }
.provenance code { word-break: break-all; }
`;

// Colour-blind-safe palette (Okabe-Ito), so arms stay distinguishable in print and for every reader.
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

const CHART_INIT = `
(() => {
  const palette = ${JSON.stringify(PALETTE)};
  const charts = [];
  // Reference lines span the x range of the chart's series, dashed and grey.
  const lines = (spec) => {
    const xs = spec.series.flatMap((series) => series.points.map((point) => point.x));
    if (!xs.length) return [];
    const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
    return (spec.lines || []).map((line) => ({
      label: line.label,
      data: [{ x: lo, y: line.y }, { x: hi, y: line.y }],
      borderColor: "#5b6475",
      backgroundColor: "#5b6475",
      borderDash: [6, 4],
      borderWidth: 1.5,
      pointRadius: 0,
    }));
  };
  for (const element of document.querySelectorAll("script[data-chart]")) {
    const spec = JSON.parse(element.textContent);
    const canvas = document.getElementById(element.dataset.chart);
    charts.push(new Chart(canvas, {
      type: "line",
      data: {
        datasets: spec.series.map((series, i) => ({
          label: series.label,
          data: series.points,
          borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length],
          pointRadius: series.points.length > 60 ? 0 : 2,
          borderWidth: 2,
        })).concat(lines(spec)),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { type: "linear", title: { display: true, text: spec.xLabel } },
          y: { type: spec.logY ? "logarithmic" : "linear", title: { display: true, text: spec.yLabel } },
        },
        plugins: { title: { display: Boolean(spec.title), text: spec.title }, legend: { position: "bottom" } },
      },
    }));
  }
  // Interval charts: bars or dots with confidence whiskers (drawn by the plugin), the paper's values as marks.
  const whiskers = {
    id: "whiskers",
    afterDatasetsDraw(chart) {
      const horizontal = chart.options.indexAxis === "y";
      const { ctx } = chart;
      chart.data.datasets.forEach((dataset, i) => {
        const meta = chart.getDatasetMeta(i);
        if (!dataset.intervals || meta.hidden) return;
        const scale = chart.scales[horizontal ? meta.xAxisID : meta.yAxisID];
        ctx.save();
        ctx.strokeStyle = "#1d2330";
        ctx.lineWidth = 1.5;
        dataset.intervals.forEach((interval, j) => {
          const element = meta.data[j];
          if (!interval || !element) return;
          const a = scale.getPixelForValue(interval[0]), b = scale.getPixelForValue(interval[1]);
          const c = horizontal ? element.y : element.x, cap = 5;
          ctx.beginPath();
          for (const [x0, y0, x1, y1] of [[a, c, b, c], [a, c - cap, a, c + cap], [b, c - cap, b, c + cap]]) {
            if (horizontal) { ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); } else { ctx.moveTo(y0, x0); ctx.lineTo(y1, x1); }
          }
          ctx.stroke();
        });
        ctx.restore();
      });
    },
  };
  for (const element of document.querySelectorAll("script[data-interval-chart]")) {
    const spec = JSON.parse(element.textContent);
    const canvas = document.getElementById(element.dataset.intervalChart);
    const horizontal = spec.orientation === "horizontal";
    const valueAxis = horizontal ? "x" : "y", categoryAxis = horizontal ? "y" : "x";
    const datasets = spec.series.map((series, i) => {
      const colour = series.style === "mark" ? "#000000" : palette[i % palette.length];
      const axisId = series.axis === "secondary" ? valueAxis + "2" : valueAxis;
      const common = {
        label: series.label,
        data: series.values,
        intervals: series.intervals,
        borderColor: colour,
        backgroundColor: series.style === "bar" ? colour + "99" : colour,
        [valueAxis + "AxisID"]: axisId,
      };
      if (series.style === "bar") return { ...common, type: "bar", borderWidth: 1, maxBarThickness: 64 };
      return {
        ...common,
        type: "line",
        showLine: false,
        pointStyle: series.style === "mark" ? "line" : "circle",
        rotation: series.style === "mark" && horizontal ? 90 : 0,
        pointRadius: series.style === "mark" ? 12 : 5,
        pointBorderWidth: series.style === "mark" ? 3 : 1,
      };
    });
    const scales = {
      [categoryAxis]: { type: "category", labels: spec.categories, offset: true },
      [valueAxis]: { type: "linear", title: { display: true, text: spec.valueLabel }, suggestedMin: spec.range[0], suggestedMax: spec.range[1] },
    };
    if (spec.secondaryLabel) {
      scales[valueAxis + "2"] = {
        type: "logarithmic",
        position: horizontal ? "top" : "right",
        title: { display: true, text: spec.secondaryLabel },
        suggestedMin: spec.secondaryRange[0],
        suggestedMax: spec.secondaryRange[1],
        grid: { drawOnChartArea: false },
      };
    }
    charts.push(new Chart(canvas, {
      type: "bar",
      data: { labels: spec.categories, datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales,
        plugins: { title: { display: Boolean(spec.title), text: spec.title }, legend: { position: "bottom" } },
      },
      plugins: [whiskers],
    }));
  }
  window.reportCharts = charts;
})();
`;

function renderCell(cell: Cell): string {
  if (cell === null) return `<td class="muted">-</td>`;
  if (typeof cell === "number") return `<td class="num" data-value="${cell}">${formatNumber(cell)}</td>`;
  if (typeof cell === "string") return `<td>${escapeHtml(cell)}</td>`;
  return cell.className
    ? `<td class="${escapeHtml(cell.className)}">${cell.html}</td>`
    : `<td>${cell.html}</td>`;
}

const DECIDED = ["held", "contradicted", "inconclusive"];

/** A verdict as a table cell, coloured by what it says (held, contradicted, inconclusive, or no verdict). */
export function verdictCell(verdict: string, note?: string): { html: string; className: string } {
  const tone = DECIDED.includes(verdict)
    ? verdict
    : verdict.startsWith("inconclusive")
    ? "inconclusive"
    : "none";
  const title = note ? ` title="${escapeHtml(note)}"` : "";
  return { html: `<span${title}>${escapeHtml(verdict)}</span>`, className: `verdict verdict-${tone}` };
}

const NO_SEED_COUNT: Record<Exclude<NoSeedCount, "over cap">, string> = {
  qualitative: "qualitative: no seed count",
  absolute: "absolute number: no effect to test",
  "not measured": "not measured",
  "one seed": "1 seed: no spread to plan from",
  "no spread": "the seeds agree exactly (s = 0): no count",
  "no effect": "the paper's effect is 0: no count",
  "given interval": "interval over nets, not seeds: no seed count",
};

/**
 * A claim row's seed plan as a table cell: "11 (3.7 CPU-h more)" with the total at this scale beneath, or
 * why there is no count. Hours are of the machine the records come from: CPU-h below the `full` preset.
 */
export function seedPlanCell(
  plan: SeedPlan | undefined,
  preset: string,
): { html: string; className: string } {
  const className = "seed-plan";
  if (!plan) return { html: "-", className: `${className} muted` };
  const unit = preset === "full" ? "GPU-h" : "CPU-h";
  const note = (text: string) => `<div class="note">${text}</div>`;
  const fullInstead = note("out of reach here: the <code>full</code> preset instead");
  if (plan.noCount === "over cap") {
    return { html: `<span data-seeds="">over ${plan.cap}</span>${fullInstead}`, className };
  }
  if (plan.seeds === null) {
    return {
      html: escapeHtml(NO_SEED_COUNT[plan.noCount ?? "not measured"]),
      className: `${className} muted`,
    };
  }
  const count = `<span data-seeds="${plan.seeds}">${plan.seeds}</span>`;
  if (plan.totalMs === null || plan.addedMs === null) {
    return { html: `${count} (compute not recorded)`, className };
  }
  const more = plan.addedMs > 0
    ? `${formatHours(plan.addedMs)} ${unit} more`
    : `the ${plan.seedsRun} run suffice`;
  return {
    html: `${count} (${more})` +
      note(`${formatHours(plan.totalMs)} ${unit} in all, at this scale`) +
      (plan.outOfReach ? fullInstead : ""),
    className,
  };
}

/** `[low, high]` of a claim row's interval in its unit; "-" below two seeds. */
export function intervalText(row: Pick<ClaimRow, "low" | "high" | "kind">): string {
  if (row.low === null || row.high === null) return "-";
  const format = row.kind === "difference" ? formatSigned : formatNumber;
  return `[${format(row.low)}, ${format(row.high)}]`;
}

/** A claim row's number: signed for differences, `-` when nothing was measured. */
export function effectText(value: number | null, kind: string): string {
  if (value === null) return "-";
  return kind === "difference" ? formatSigned(value) : formatNumber(value);
}

function renderTable(block: TableBlock): string {
  const head = block.columns.map((column) => `<th>${escapeHtml(column)}</th>`).join("");
  const body = block.rows.map((row) => `<tr>${row.map(renderCell).join("")}</tr>`).join("\n");
  const title = block.title ? `<h2>${escapeHtml(block.title)}</h2>\n` : "";
  return `${title}<table class="${
    escapeHtml(block.className ?? "data")
  }"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function numberCell(value: number | null, className: string, signed = false): string {
  if (value === null) return `<td class="num ${className} muted">-</td>`;
  const text = signed ? formatSigned(value) : formatNumber(value);
  return `<td class="num ${className}" data-value="${value}">${text}</td>`;
}

function renderClaimRow(row: ClaimRow): string {
  const unit = row.unit === "%" ? "" : ` ${escapeHtml(row.unit)}`;
  const signed = row.kind === "difference";
  const verdict = verdictCell(row.verdict, row.verdictNote);
  const seedPlan = seedPlanCell(row.seedPlan, row.preset);
  const note = [row.note, row.boundNote, row.verdictNote].filter(Boolean).map((text) =>
    `<div class="note">${escapeHtml(text!)}</div>`
  ).join("");
  return `<tr data-claim="${escapeHtml(row.claimId)}" data-metric="${escapeHtml(row.metric)}">` +
    `<td class="claim-id"><code>${escapeHtml(row.claimId)}</code></td>` +
    `<td>${escapeHtml(row.section)}</td>` +
    `<td title="${escapeHtml(row.measures)}">${escapeHtml(row.metric)}${unit}` +
    `<div class="note">${escapeHtml(row.measures)}</div>${note}</td>` +
    (row.paper === null
      ? `<td class="num paper muted">qualitative</td>`
      : numberCell(row.paper, "paper", signed)) +
    numberCell(row.reproduced, "reproduced", signed) +
    `<td class="num interval">${intervalText(row)}</td>` +
    `<td class="${seedPlan.className}">${seedPlan.html}</td>` +
    `<td class="num seeds" data-value="${row.seeds.length}">${row.seeds.length}</td>` +
    `<td class="${verdict.className}">${verdict.html}</td>` +
    numberCell(row.detectable, "detectable") +
    `<td class="preset">${escapeHtml(row.preset)}</td></tr>`;
}

function renderClaimsTable(block: ClaimsTableBlock): string {
  const title = `<h2>${escapeHtml(block.title ?? "Paper claims")}</h2>`;
  const head = [
    "claim",
    "section",
    "metric",
    "paper",
    "reproduced (mean)",
    "95% CI",
    "seeds for 80% power",
    "seeds",
    "verdict",
    "smallest detectable",
    "preset",
  ].map((column) => `<th>${column}</th>`).join("");
  return `${title}\n<table class="claims"><thead><tr>${head}</tr></thead><tbody>\n` +
    block.rows.map(renderClaimRow).join("\n") + `\n</tbody></table>`;
}

function renderChart(block: LineChartBlock, index: number): string {
  const id = `chart-${index}`;
  const spec = {
    title: block.title,
    xLabel: block.xLabel,
    yLabel: block.yLabel,
    logY: block.logY ?? false,
    series: block.series,
    lines: block.lines ?? [],
  };
  const caption = block.caption ? `<figcaption>${escapeHtml(block.caption)}</figcaption>` : "";
  return `<figure class="chart"><div class="chart-box"><canvas id="${id}" role="img" ` +
    `aria-label="${escapeHtml(block.title)}"></canvas></div>${caption}` +
    `<script type="application/json" data-chart="${id}">${jsonForScript(spec)}</script></figure>`;
}

/** The extent of every value, interval end and mark of the series on one axis (0 included for bars). */
function valueRange(series: IntervalChartBlock["series"], log: boolean): [number, number] | null {
  const values = series.flatMap((s) => [
    ...s.values,
    ...(s.intervals ?? []).flatMap((interval) => interval ?? []),
    ...(s.style === "bar" && !log ? [0] : []),
  ]).filter((v): v is number => v !== null && Number.isFinite(v) && (!log || v > 0));
  return values.length ? [Math.min(...values), Math.max(...values)] : null;
}

function renderIntervalChart(block: IntervalChartBlock, index: number): string {
  const id = `chart-${index}`;
  const primary = block.series.filter((s) => s.axis !== "secondary");
  const secondary = block.series.filter((s) => s.axis === "secondary");
  const pad = ([lo, hi]: [number, number], log: boolean): [number, number] =>
    log ? [lo / 1.25, hi * 1.25] : [lo - 0.08 * (hi - lo || 1), hi + 0.08 * (hi - lo || 1)];
  const range = valueRange(primary, false);
  const secondaryRange = valueRange(secondary, true);
  const spec = {
    title: block.title,
    orientation: block.orientation,
    categories: block.categories,
    valueLabel: block.valueLabel,
    secondaryLabel: secondary.length ? block.secondaryLabel ?? "" : undefined,
    series: block.series,
    range: range ? pad(range, false) : [0, 1],
    secondaryRange: secondaryRange ? pad(secondaryRange, true) : [0.5, 2],
  };
  const height = block.orientation === "horizontal" ? Math.max(220, 60 + 34 * block.categories.length) : 300;
  const caption = block.caption ? `<figcaption>${escapeHtml(block.caption)}</figcaption>` : "";
  return `<figure class="chart interval-chart"><div class="chart-box" style="height:${height}px">` +
    `<canvas id="${id}" role="img" aria-label="${escapeHtml(block.title)}"></canvas></div>${caption}` +
    `<script type="application/json" data-interval-chart="${id}">${jsonForScript(spec)}</script></figure>`;
}

function renderFigure(block: FigureBlock): string {
  return `<figure class="image"><img src="${escapeHtml(block.src)}" alt="${
    escapeHtml(block.alt ?? block.caption)
  }">` +
    `<figcaption>${escapeHtml(block.caption)}</figcaption></figure>`;
}

function renderProvenance(p: Provenance): string {
  const row = (label: string, value: string) => `<tr><td>${label}</td><td>${value}</td></tr>`;
  const code = (text: string) => `<code>${escapeHtml(text)}</code>`;
  const overrides = Object.entries(p.overrides).map(([key, value]) =>
    code(`--set ${key}=${JSON.stringify(value)}`)
  );
  const datasets = Object.entries(p.datasets).map(([name, sum]) => `${escapeHtml(name)}: ${code(sum)}`);
  const stages = p.stages.map((stage) =>
    `<tr><td>${code(stage.id)}</td><td>${escapeHtml(stage.kind)}</td>` +
    `<td class="num" data-ms="${stage.durationMs}">${formatDuration(stage.durationMs)}</td>` +
    `<td>${stage.cached ? "reused" : "ran now"}</td><td>${escapeHtml(stage.preset)}</td>` +
    `<td>${escapeHtml(stage.finishedAt)}</td></tr>`
  ).join("\n");
  return `<section class="provenance"><h2>Provenance</h2><table>` +
    row("pipeline", code(p.pipeline)) +
    row("preset", code(p.preset)) +
    row("--set overrides", overrides.join("<br>") || "none") +
    row(p.seeds.length > 1 ? "seeds" : "seed", p.seeds.join(", ")) +
    row("GPU adapter", escapeHtml(p.adapter)) +
    row("Deno", escapeHtml(p.denoVersion)) +
    row("git commit", code(p.gitCommit)) +
    row("dataset checksums", datasets.join("<br>") || "none reported") +
    row("generated", escapeHtml(p.generatedAt)) +
    `</table><table class="stages"><thead><tr><th>stage</th><th>kind</th><th>duration</th><th>this run</th>` +
    `<th>preset</th><th>finished</th></tr></thead><tbody>\n${stages}\n</tbody></table></section>`;
}

function renderBlock(block: Block, chartIndex: () => number): string {
  switch (block.type) {
    case "text":
      return paragraphs(block.text);
    case "heading":
      return `<h2>${escapeHtml(block.text)}</h2>`;
    case "line-chart":
      return renderChart(block, chartIndex());
    case "interval-chart":
      return renderIntervalChart(block, chartIndex());
    case "claims-table":
      return renderClaimsTable(block);
    case "table":
      return renderTable(block);
    case "figure":
      return renderFigure(block);
    case "provenance":
      return renderProvenance(block.provenance);
  }
}

/** One self-contained HTML document; chart.js is inlined only when the page has charts. */
export async function renderPage(page: ReportPage): Promise<string> {
  let charts = 0;
  const body = page.blocks.map((block) => renderBlock(block, () => charts++)).join("\n");
  const scripts = charts > 0
    ? `<script>${await chartJsSource()}</script>\n<script>${CHART_INIT}</script>`
    : "";
  const links = page.links?.length
    ? `<nav>${
      page.links.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a>`).join("")
    }</nav>`
    : "";
  const subtitle = page.subtitle ? `<p class="subtitle">${escapeHtml(page.subtitle)}</p>` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(page.title)}</h1>
${subtitle}${links}
${body}
</main>
${scripts}
</body>
</html>
`;
}
