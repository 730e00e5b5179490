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

/** A lock entry with the fields every record has, around what a test sets. */
function lockEntry(e: { kind: string; status: string; outDir: string; durationMs: number; seed?: number }) {
  return {
    inputHash: "0".repeat(64),
    params: {},
    seed: 1,
    upstream: {},
    datasets: {},
    preset: "cpu",
    outputHash: "1".repeat(64),
    ...e,
  };
}

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
  assertEquals(table.columns.indexOf("verdict"), 9);
  assertEquals(table.columns.indexOf("seeds for 80% power"), table.columns.indexOf("95% CI") + 1);
  const verdicts = new Map(
    table.rows.map((cells) => [
      `${(cells[0] as { html: string }).html}|${
        typeof cells[3] === "object" && cells[3] ? cells[3].html : ""
      }`,
      cells[9] as { html: string; className: string },
    ]),
  );
  assertEquals(verdicts.get("<code>lrn</code>|top-1")!.className, "verdict verdict-held");
  assertEquals(verdicts.get("<code>lrn</code>|top-5")!.className, "verdict verdict-contradicted");
  assertEquals(
    verdicts.get("<code>dropout</code>|iterations to converge (x)")!.className,
    "verdict verdict-inconclusive",
  );
  const overlap = table.rows.find((cells) => (cells[0] as { html: string }).html === "<code>overlap</code>")!;
  assertEquals(overlap[10], "not run yet (overlap-pooling)");
  assertEquals((overlap[9] as { className: string }).className, "verdict verdict-none");
  const lrnTop1 = table.rows.find((cells) => cells[5] && (cells[5] as { html: string }).html === "-0.8")!;
  assertEquals((lrnTop1[6] as { html: string }).html, "[-1.2, -0.4]");
  assertEquals((lrnTop1[7] as { html: string }).html, "1 seed: no spread to plan from");
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
          train: lockEntry({ kind: "train", status: "done", outDir: "train", durationMs: 5_400_000 }),
          report: lockEntry({ kind: "report", status: "done", outDir: "report", durationMs: 1_800_000 }),
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
    assertMatch(html, /2\.0 h in all, each run counted once \(preset cpu\), on hosts not recorded/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the index shows each claim's seeds for 80% power: the page's plan, or one from the lockfile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "index-power-" });
  try {
    await Deno.mkdir(join(dir, "lrn/report"), { recursive: true });
    // Paired differences with s = 1 against the paper's -1: d = 1, 10 seeds. The first row comes from a page
    // made before seed plans (the index plans it from the lockfile), the second carries the page's own.
    const planned = row("lrn", "top-5", "difference", "inconclusive", {
      perSeed: [-1, 0, 1],
      seedPlan: {
        seeds: 12,
        cap: 1000,
        standardizedEffect: 0.9,
        seedsRun: 3,
        perSeedMs: 3_600_000,
        totalMs: 12 * 3_600_000,
        addedMs: 9 * 3_600_000,
        outOfReach: false,
      },
    });
    await Deno.writeTextFile(
      join(dir, "lrn/report/outputs.json"),
      JSON.stringify({
        page: "index.html",
        title: "LRN",
        claims: [
          row("lrn", "top-1", "difference", "inconclusive", { paper: -1, perSeed: [-1, 0, 1] }),
          planned,
          row("fig3", "orientation", "ratio", "held", { paper: null, perSeed: [2.5, 2.7, 2.6] }),
        ],
      }),
    );
    // Two arms per seed, 0.25 h and 0.5 h: 0.75 h a seed; the data stage runs once and does not count.
    const train = (arm: string, seed: number, hours: number) => [
      `train[lrn=${arm},seed=${seed}]`,
      lockEntry({ kind: "train", status: "done", seed, outDir: "train", durationMs: hours * 3_600_000 }),
    ];
    await Deno.writeTextFile(
      join(dir, "lrn/pipeline.lock.json"),
      JSON.stringify({
        version: 2,
        pipeline: "lrn",
        title: "LRN",
        description: "",
        claims: ["lrn", "fig3"],
        file: "pipelines/lrn.yaml",
        preset: "cpu",
        overrides: {},
        seed: 1,
        seeds: [1, 2, 3],
        updatedAt: "2025-01-01T00:00:00Z",
        stages: Object.fromEntries([
          [
            "data",
            lockEntry({ kind: "dataset", status: "done", seed: 1, outDir: "data", durationMs: 600_000 }),
          ],
          ...[1, 2, 3].flatMap((seed) => [train("on", seed, 0.25), train("off", seed, 0.5)]),
          ["report", lockEntry({ kind: "report", status: "done", seed: 1, outDir: "report", durationMs: 5 })],
        ]),
      }),
    );
    const html = await Deno.readTextFile(await writeIndex(dir));
    const plan = (metric: string) => {
      const tr = html.split("<tr>").find((text) => text.includes(`<td>${metric}</td>`));
      return tr?.match(/<td class="seed-plan[^"]*">(.*?)<\/td>/)?.[1];
    };
    // 10 seeds at 0.75 h: 7.5 h in all, 5.3 h beyond the 3 run.
    assertMatch(plan("top-1")!, /^<span data-seeds="10">10<\/span> \(5\.3 CPU-h more\).*7\.5 CPU-h in all/);
    assertMatch(plan("top-5")!, /^<span data-seeds="12">12<\/span> \(9 CPU-h more\)/);
    assertEquals(plan("orientation (x)"), "qualitative: no seed count");
    assertMatch(html, /Seeds for 80% power: the smallest n ≥ 2 .* noncentral t .*AS 243/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the index counts a run reused by another pipeline once and names the hosts runs were made on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "index-reuse-" });
  try {
    const host = { cpu: "AMD EPYC 9B14", cores: 2, adapter: "llvmpipe" };
    const lock = (pipeline: string, train: Record<string, unknown>) =>
      JSON.stringify({
        version: 2,
        pipeline,
        title: pipeline,
        description: "",
        claims: [],
        file: `pipelines/${pipeline}.yaml`,
        preset: "cpu",
        overrides: {},
        seed: 1,
        updatedAt: "2025-01-01T00:00:00Z",
        stages: {
          train: lockEntry({
            kind: "train",
            status: "done",
            outDir: "train",
            durationMs: 3_600_000,
            ...train,
          }),
        },
      });
    for (const name of ["a", "b"]) await Deno.mkdir(join(dir, name));
    await Deno.writeTextFile(join(dir, "a/pipeline.lock.json"), lock("a", { host }));
    await Deno.writeTextFile(
      join(dir, "b/pipeline.lock.json"),
      lock("b", { reusedFrom: { pipeline: "a", id: "train", outDir: "a/train" } }),
    );
    const html = await Deno.readTextFile(await writeIndex(dir));
    assertMatch(html, /60\.0 min in all, each run counted once \(preset cpu\), on AMD EPYC 9B14, 2 cores\./);
    assertMatch(html, /60\.0 min \(60\.0 min of it reused from another pipeline&#39;s runs\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
