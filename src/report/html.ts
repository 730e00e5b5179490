import { chartJsSource } from "./chartjs.ts";
import {
  escapeHtml,
  formatDuration,
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
  LineChartBlock,
  Provenance,
  ReportPage,
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
td.match-yes { color: #1d7a35; } td.match-no { color: #b3261e; font-weight: 600; } td.muted { color: var(--muted); }
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
        })),
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
  window.reportCharts = charts;
})();
`;

function renderCell(cell: Cell): string {
  if (cell === null) return `<td class="muted">-</td>`;
  if (typeof cell === "number") return `<td class="num" data-value="${cell}">${formatNumber(cell)}</td>`;
  if (typeof cell === "string") return `<td>${escapeHtml(cell)}</td>`;
  return `<td>${cell.html}</td>`;
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
  const match = row.directionMatches === null
    ? `<td class="match muted">n/a</td>`
    : `<td class="match match-${row.directionMatches ? "yes" : "no"}">${
      row.directionMatches ? "yes" : "no"
    }</td>`;
  const unit = row.unit === "%" ? "" : ` ${escapeHtml(row.unit)}`;
  return `<tr data-claim="${escapeHtml(row.claimId)}" data-metric="${escapeHtml(row.metric)}">` +
    `<td class="claim-id"><code>${escapeHtml(row.claimId)}</code></td>` +
    `<td>${escapeHtml(row.section)}</td>` +
    `<td title="${escapeHtml(row.measures)}">${escapeHtml(row.metric)}${unit}` +
    `<div class="muted" style="font-size:.85em">${escapeHtml(row.measures)}</div></td>` +
    numberCell(row.paper, "paper", row.paper < 0) +
    numberCell(row.reproduced, "reproduced", row.reproduced !== null && row.reproduced < 0) +
    numberCell(row.difference, "difference", true) +
    match +
    `<td class="preset">${escapeHtml(row.preset)}</td>` +
    `<td class="scale">${escapeHtml(row.scale)}${
      row.note ? `<div class="muted">${escapeHtml(row.note)}</div>` : ""
    }` +
    `</td></tr>`;
}

function renderClaimsTable(block: ClaimsTableBlock): string {
  const title = `<h2>${escapeHtml(block.title ?? "Paper claims")}</h2>`;
  const head = [
    "claim",
    "section",
    "metric",
    "paper",
    "reproduced",
    "difference",
    "direction matches",
    "preset",
    "scale",
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
  };
  const caption = block.caption ? `<figcaption>${escapeHtml(block.caption)}</figcaption>` : "";
  return `<figure class="chart"><div class="chart-box"><canvas id="${id}" role="img" ` +
    `aria-label="${escapeHtml(block.title)}"></canvas></div>${caption}` +
    `<script type="application/json" data-chart="${id}">${jsonForScript(spec)}</script></figure>`;
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
    row("seed", String(p.seed)) +
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
