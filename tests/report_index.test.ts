// The index page's claims table and effects chart, from a small fake set of runs (no browser needed).

import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { claimsTable, effectsChart, writeIndex } from "../src/experiments/index_page.ts";
import type { ReportPageInfo } from "../src/experiments/index_page.ts";
import type { ClaimRow } from "../src/report/model.ts";

const row = (
  claimId: string,
  metric: string,
  kind: string,
  verdict: string,
  extra: Partial<ClaimRow> = {},
) => ({
  claimId,
  section: "x",
  claim: `${claimId} claim`,
  metric,
  measures: "m",
  unit: kind === "ratio" ? "x" : "%",
  kind,
  paper: kind === "ratio" ? 2 : -1.4,
  reproduced: kind === "ratio" ? 1.5 : -0.8,
  low: -1.2,
  high: -0.4,
  perSeed: [-0.8],
  seeds: [1, 2, 3],
  detectable: 0.5,
  verdict,
  preset: "cpu",
  scale: "toy",
  ...extra,
});
const page = (pipeline: string, claims: ClaimRow[]): ReportPageInfo => ({
  pipeline,
  stage: "report",
  href: `${pipeline}/report/index.html`,
  title: pipeline,
  claims,
});

Deno.test("the claims table has a colour-coded verdict column and lists claims not run yet", () => {
  const p = page("lrn", [
    row("lrn", "top-1", "difference", "held"),
    row("lrn", "top-5", "difference", "contradicted"),
  ]);
  const q = page("dropout", [row("dropout", "iterations to converge", "ratio", "inconclusive (1 seed)")]);
  const claims = [
    ...p.claims.map((r) => ({ row: r, page: p })),
    ...q.claims.map((r) => ({ row: r, page: q })),
  ];
  const table = claimsTable(claims, (id) => (id === "overlap" ? ["overlap-pooling"] : []));
  assertEquals(table.columns.indexOf("verdict"), 8);
  const verdicts = new Map(
    table.rows.map((cells) => [
      `${(cells[0] as { html: string }).html}|${
        typeof cells[3] === "object" && cells[3] ? cells[3].html : ""
      }`,
      cells[8] as { html: string; className: string },
    ]),
  );
  assertEquals(verdicts.get("<code>lrn</code>|top-1")!.className, "verdict verdict-held");
  assertEquals(verdicts.get("<code>lrn</code>|top-5")!.className, "verdict verdict-contradicted");
  assertEquals(
    verdicts.get("<code>dropout</code>|iterations to converge (x)")!.className,
    "verdict verdict-inconclusive",
  );
  const overlap = table.rows.find((cells) => (cells[0] as { html: string }).html === "<code>overlap</code>")!;
  assertEquals(overlap[9], "not run yet (overlap-pooling)");
  assertEquals((overlap[8] as { className: string }).className, "verdict verdict-none");
  const lrnTop1 = table.rows.find((cells) => cells[5] && (cells[5] as { html: string }).html === "-0.8")!;
  assertEquals((lrnTop1[6] as { html: string }).html, "[-1.2, -0.4]");
  // Rows with a reproduced number open the table (lrn before dropout, the paper's order); the rest follow.
  const ids = table.rows.map((cells) => (cells[0] as { html: string }).html.replace(/<\/?code>/g, ""));
  assertEquals(ids.slice(0, 3), ["lrn", "lrn", "dropout"]);
  assert(ids.indexOf("table1") > 2 && ids.includes("overlap"));
});

Deno.test("the effects chart puts differences and ratios on their own axes, with the paper's values", () => {
  const p = page("lrn", [
    row("lrn", "top-1", "difference", "held"),
    row("lrn-cifar", "without LRN", "absolute", "no direction"),
    row("relu", "speed-up", "ratio", "held", { low: 1.2, high: 1.9 }),
  ]);
  const chart = effectsChart(p.claims.map((r) => ({ row: r, page: p })))!;
  assertEquals(chart.categories, ["lrn · top-1", "relu · speed-up"], "absolute numbers are not effects");
  const [dots, paper, ratioDots, ratioPaper] = chart.series;
  assertEquals([dots.values, dots.intervals], [[-0.8, null], [[-1.2, -0.4], null]]);
  assertEquals(paper.values, [-1.4, null]);
  assertEquals([ratioDots.axis, ratioDots.values, ratioDots.intervals], ["secondary", [null, 1.5], [null, [
    1.2,
    1.9,
  ]]]);
  assertEquals(ratioPaper.values, [null, 2]);
});

Deno.test("results/index.html opens with the claims and the chart; the pipelines table and their compute below", async () => {
  const dir = await Deno.makeTempDir({ prefix: "index-" });
  try {
    await Deno.mkdir(join(dir, "lrn/report"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, "lrn/report/outputs.json"),
      JSON.stringify({
        page: "index.html",
        title: "LRN",
        claims: [row("lrn", "top-1", "difference", "contradicted")],
      }),
    );
    await Deno.writeTextFile(
      join(dir, "lrn/pipeline.lock.json"),
      JSON.stringify({
        version: 2,
        pipeline: "lrn",
        title: "LRN",
        description: "",
        claims: ["lrn"],
        file: "pipelines/lrn.yaml",
        preset: "cpu",
        overrides: {},
        seed: 1,
        updatedAt: "2025-01-01T00:00:00Z",
        stages: {
          train: { kind: "train", status: "done", outDir: "train", durationMs: 5_400_000 },
          report: { kind: "report", status: "done", outDir: "report", durationMs: 1_800_000 },
        },
      }),
    );
    const html = await Deno.readTextFile(await writeIndex(dir));
    const claims = html.indexOf("Paper claims and verdicts"), chart = html.indexOf("data-interval-chart");
    const pipelines = html.indexOf("<h2>Pipelines</h2>");
    assert(claims > 0 && claims < chart && chart < pipelines, "claims, then the chart, then the pipelines");
    assertMatch(html, /<td class="verdict verdict-contradicted"><span>contradicted<\/span><\/td>/);
    assertMatch(html, /Student-t interval/);
    // What the results cost, per pipeline and in all, from the lockfile's stage records.
    assertMatch(html, /<th>compute recorded<\/th>/);
    assertMatch(html, /2\.0 h in all \(preset cpu\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
