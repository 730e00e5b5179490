import { assert, assertEquals, assertMatch, assertNotMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { Image } from "imagescript";
import { openOffline, paintedPixels, tableRows, withChromium } from "./helpers/browser.ts";
import { leftOut, requireChromium } from "./helpers/needs.ts";
import { renderPage } from "../src/report/html.ts";
import type { ReportPage } from "../src/report/model.ts";
import {
  formatHours,
  formatNumber,
  formatSigned,
  inlineMarkup,
  jsonForScript,
} from "../src/report/format.ts";
import type { ClaimRow, SeedPlan } from "../src/report/model.ts";

async function tinyPng(): Promise<Uint8Array> {
  const image = new Image(16, 16);
  for (let y = 1; y <= 16; y++) {
    for (let x = 1; x <= 16; x++) image.setPixelAt(x, y, Image.rgbaToColor(x * 15, y * 15, 90, 255));
  }
  return await image.encode();
}

const PAGE: ReportPage = {
  title: "LRN <ablation>",
  subtitle: "pipeline lrn · preset smoke",
  links: [{ text: "All results", href: "../index.html" }],
  blocks: [
    { type: "text", text: "Intro with `code` and **bold**.\n\nSecond paragraph." },
    {
      type: "line-chart",
      title: "Validation error",
      xLabel: "epoch",
      yLabel: "top-1 error (%)",
      series: [
        { label: "lrn=on", points: [{ x: 1, y: 60 }, { x: 2, y: 45 }, { x: 3, y: 38.25 }] },
        { label: "lrn=off", points: [{ x: 1, y: 62 }, { x: 2, y: 47 }, { x: 3, y: 39.5 }] },
      ],
    },
    {
      type: "claims-table",
      rows: [{
        claimId: "lrn",
        section: "3.3",
        claim: "local response normalisation on ImageNet",
        metric: "top-1",
        measures: "with LRN minus without, top-1 error",
        unit: "%",
        kind: "difference",
        paper: -1.4,
        reproduced: -1.25,
        low: -2.5,
        high: -0.25,
        perSeed: [-1, -1.5, -1.25],
        seeds: [1, 2, 3],
        detectable: 1.4,
        verdict: "held",
        preset: "smoke",
        scale: "toy, 3 epochs",
      }],
    },
    {
      type: "interval-chart",
      title: "Per arm",
      orientation: "vertical",
      categories: ["lrn=on", "lrn=off"],
      valueLabel: "top-1 error (%)",
      series: [
        { label: "mean", style: "bar", values: [38.25, 39.5], intervals: [[37, 39.5], null] },
        { label: "paper", style: "mark", values: [38.1, null] },
      ],
    },
    { type: "figure", src: "figures/filters.png", caption: "conv1 filters" },
    {
      type: "provenance",
      provenance: {
        pipeline: "lrn",
        preset: "smoke",
        overrides: { "train.epochs": 3 },
        seed: 7,
        seeds: [7],
        adapter: "test adapter",
        denoVersion: Deno.version.deno,
        gitCommit: "abc123",
        generatedAt: "2025-01-01T00:00:00Z",
        datasets: { cifar10: "deadbeef" },
        stages: [{
          id: "train[lrn=on]",
          kind: "toy",
          durationMs: 1234,
          cached: false,
          preset: "smoke",
          finishedAt: "",
        }],
      },
    },
  ],
};

Deno.test("formatting helpers", () => {
  assertStrictEquals(formatNumber(37.5), "37.5");
  assertStrictEquals(formatNumber(0.123456), "0.12");
  assertStrictEquals(formatNumber(-0.001), "0");
  assertStrictEquals(formatSigned(0.41), "+0.41");
  assertStrictEquals(formatSigned(-1.4), "-1.4");
  assertStrictEquals(inlineMarkup("<b> `x` [a](b.html)"), '&lt;b&gt; <code>x</code> <a href="b.html">a</a>');
  assertStrictEquals(jsonForScript({ s: "</script>" }), '{"s":"\\u003c/script>"}');
  assertStrictEquals(formatHours(7_560_000), "2.1");
  assertStrictEquals(formatHours(1_656_000), "0.46");
  assertStrictEquals(formatHours(4_000), "<0.01");
});

/** A claim row with a seed plan (the rest as in PAGE's row). */
function plannedRow(extra: Partial<ClaimRow>, seedPlan: Partial<SeedPlan>): ClaimRow {
  const row = (PAGE.blocks[2] as { rows: ClaimRow[] }).rows[0];
  const plan: SeedPlan = {
    seeds: null,
    cap: 1000,
    standardizedEffect: null,
    seedsRun: 3,
    perSeedMs: null,
    totalMs: null,
    addedMs: null,
    outOfReach: false,
    ...seedPlan,
  };
  return { ...row, ...extra, seedPlan: plan };
}

Deno.test("a claim row shows its seeds for 80% power and their hours; a qualitative one says it has none", async () => {
  const hour = 3_600_000;
  const html = await renderPage({
    title: "t",
    blocks: [{
      type: "claims-table",
      rows: [
        plannedRow({ metric: "top-1" }, {
          seeds: 7,
          standardizedEffect: 1.28,
          perSeedMs: 0.5 * hour,
          totalMs: 3.5 * hour,
          addedMs: 2 * hour,
        }),
        plannedRow({ metric: "orientation", kind: "ratio", paper: null }, { noCount: "qualitative" }),
        plannedRow({ metric: "top-5" }, {
          seeds: 91,
          perSeedMs: 0.44 * hour,
          totalMs: 40 * hour,
          addedMs: 38.7 * hour,
          outOfReach: true,
        }),
        plannedRow({ metric: "tiny" }, { noCount: "over cap", outOfReach: true }),
      ],
    }],
  });
  assertMatch(html, /<th>95% CI<\/th><th>seeds for 80% power<\/th><th>seeds<\/th>/);
  const cells = [...html.matchAll(/<td class="seed-plan[^"]*">(.*?)<\/td>/g)].map((m) => m[1]);
  assertEquals(cells.length, 4);
  assertMatch(
    cells[0],
    /^<span data-seeds="7">7<\/span> \(2 CPU-h more\)<div class="note">3\.5 CPU-h in all, at this scale<\/div>$/,
  );
  assertStrictEquals(cells[1], "qualitative: no seed count");
  assertMatch(
    cells[2],
    /91<\/span> \(38\.7 CPU-h more\).*40 CPU-h in all.*the <code>full<\/code> preset instead/,
  );
  assertMatch(cells[3], /over 1000<\/span>.*<code>full<\/code> preset instead/);
  // The cell sits beside the interval: right after it in each row.
  assertMatch(html, /<td class="num interval">\[-2\.5, -0\.25\]<\/td><td class="seed-plan">/);
});

Deno.test("a page without charts does not inline chart.js", async () => {
  const html = await renderPage({ title: "t", blocks: [{ type: "text", text: "x" }] });
  assert(html.length < 10_000);
  assertNotMatch(html, /<script/);
});

Deno.test({
  name: "a report page renders offline in Chromium: chart drawn, claims table numbers, figure loaded",
  ignore: leftOut("chromium"),
  async fn() {
    requireChromium();
    const dir = await Deno.makeTempDir({ prefix: "report-html-" });
    try {
      await Deno.mkdir(join(dir, "figures"));
      await Deno.writeFile(join(dir, "figures/filters.png"), await tinyPng());
      const html = await renderPage(PAGE);
      assertNotMatch(html, /(src|href)="https?:/, "nothing points at the network");
      await Deno.writeTextFile(join(dir, "index.html"), html);
      await withChromium(async (browser) => {
        const opened = await openOffline(browser, join(dir, "index.html"));
        try {
          const { page } = opened;
          assertStrictEquals(await page.title(), "LRN <ablation>");
          assertStrictEquals(await page.evaluate("window.reportCharts.length"), 2);
          assertStrictEquals(await page.evaluate("Object.keys(Chart.instances).length"), 2);
          assert(await paintedPixels(page, "#chart-0") > 1000, "the chart canvas has drawn pixels");
          assert(await paintedPixels(page, "#chart-1") > 1000, "the interval chart has drawn pixels");
          const [cells] = await tableRows(page, "table.claims tbody tr");
          assertStrictEquals(cells[0], "lrn");
          assertStrictEquals(cells[3], "-1.4");
          assertStrictEquals(cells[4], "-1.25");
          assertStrictEquals(cells[5], "[-2.5, -0.25]");
          assertStrictEquals(cells[6], "-", "a row made before seed plans has none");
          assertStrictEquals(cells[7], "3");
          assertStrictEquals(cells[8], "held");
          assertStrictEquals(cells[10], "smoke");
          assertStrictEquals(
            await page.$eval("table.claims td.verdict", (td) => td.className),
            "verdict verdict-held",
          );
          assertStrictEquals(
            await page.$eval("td.reproduced", (td) => td.getAttribute("data-value")),
            "-1.25",
          );
          assert(
            await page.$eval(
              "figure.image img",
              (img) => (img as unknown as { naturalWidth: number }).naturalWidth,
            ) === 16,
          );
          assertMatch(await page.textContent(".provenance") ?? "", /--set train\.epochs=3.*abc123/s);
          assertEquals(opened.errors, []);
          assertEquals(opened.blockedRequests, []);
          assertEquals(opened.failedRequests, []);
        } finally {
          await opened.close();
        }
        // The guard itself: a page that reaches for the network is caught.
        await Deno.writeTextFile(join(dir, "online.html"), '<img src="http://example.invalid/x.png">');
        const online = await openOffline(browser, join(dir, "online.html"));
        assertEquals(online.blockedRequests, ["http://example.invalid/x.png"]);
        await online.close();
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
