// End to end: `deno task reproduce --preset smoke` over every pipelines/*.yaml into a temporary results folder
// (its _presets/smoke/), then a rerun that must reuse everything, then the pages in headless Chromium.

import { assert, assertEquals, assertMatch, assertNotMatch, assertStrictEquals } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { PAPER_CLAIM_IDS } from "../src/paper/claims.ts";
import { openOffline, paintedPixels, tableRows, withChromium } from "./helpers/browser.ts";
import { leftOut, requireChromium } from "./helpers/needs.ts";
import { runDeno } from "./helpers/run.ts";

const REPO_ROOT = fromFileUrl(new URL("..", import.meta.url));

async function reproduce(results: string): Promise<{ code: number; output: string; seconds: number }> {
  const t0 = performance.now();
  const out = await runDeno(
    ["run", "-A", "src/cli/reproduce.ts", "--preset", "smoke", "--results", results],
    {
      cwd: REPO_ROOT,
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    },
  );
  return { code: out.code, output: out.text, seconds: (performance.now() - t0) / 1000 };
}

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

async function pipelineNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "pipelines"))) {
    if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name.replace(/\.yaml$/, ""));
  }
  return names.sort();
}

const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;

Deno.test({
  ignore: leftOut("data"),
  name:
    "reproduce --preset smoke: every pipeline runs, the rerun is all cached, the pages render the numbers",
  // The GPU device and Chromium outlive single awaits; they are closed explicitly.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const results = await Deno.makeTempDir({ prefix: "reproduce-smoke-" });
    try {
      const first = await reproduce(results);
      assertStrictEquals(first.code, 0, first.output);
      // Not the home preset: its records and pages have a folder of their own (variants.ts).
      const smoke = join(results, "_presets", "smoke");
      assertMatch(first.output, /preset smoke: results in \S+_presets\/smoke\//);
      console.log(`smoke preset, first run: ${first.seconds.toFixed(1)} s`);
      const names = await pipelineNames();
      assert(names.length >= 9, `expected the paper's pipelines, found ${names.join(", ")}`);

      // (How long the rerun takes is reported, not asserted: a time limit fails correct code under load.)
      await t.step("the rerun retrains nothing", async () => {
        const second = await reproduce(results);
        assertStrictEquals(second.code, 0, second.output);
        assertNotMatch(second.output, /: running \(/, second.output);
        for (const name of names) {
          assertMatch(
            second.output,
            new RegExp(`\\[${name}\\] 0 ran, \\d+ cached, 0 failed`),
            second.output,
          );
        }
        console.log(`smoke preset, cached rerun: ${second.seconds.toFixed(1)} s`);
      });

      await t.step("outputs agree with what the pages will show", async () => {
        // The overlap claim is the difference of the two arms' top-1 errors, in points.
        const arm = (pooling: string) =>
          readJson(join(smoke, `overlap-pooling/train/pooling=${pooling}/outputs.json`));
        const [on, off] = [await arm("overlap"), await arm("non-overlap")];
        const report = await readJson(join(smoke, "overlap-pooling/report/outputs.json"));
        assert(close(report.claims[0].reproduced, 100 * (on.top1_error - off.top1_error)));
        assertMatch(report.claims[0].scale, /Imagenette.*alexnet-mini/);
        assertStrictEquals(report.claims[0].preset, "smoke");
        const fig1 = await readJson(join(smoke, "fig1-relu-tanh/fig1/outputs.json"));
        const fig1Report = await readJson(join(smoke, "fig1-relu-tanh/report/outputs.json"));
        assertStrictEquals(fig1Report.claims[0].reproduced, fig1.ratio);
        // Figure 3 draws the trained kernels and, the same way, the initial ones they are measured against.
        const kernels = await readJson(join(smoke, "fig3-fig4/kernels/outputs.json"));
        for (const file of [kernels.files.figure, kernels.files.figure_at_init]) {
          const png = await Deno.readFile(join(smoke, "fig3-fig4/kernels", file));
          assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${file} is not a PNG`);
        }
        const table = await readJson(join(smoke, "tables/table/outputs.json"));
        assertStrictEquals(table.available, false);
        assertMatch(table.note, /data\.path/);
      });

      if (leftOut("chromium")) return;
      requireChromium();
      await withChromium(async (browser) => {
        await t.step("results/index.html links every paper claim to a page", async () => {
          const index = await openOffline(browser, join(smoke, "index.html"));
          try {
            for (const id of PAPER_CLAIM_IDS) {
              const hrefs = await index.page.$$eval(
                `h2:text-is("Paper claims and verdicts") + table tr:has(td:first-child code:text-is("${id}")) a`,
                (links) => links.map((a) => a.getAttribute("href")),
              );
              assert(hrefs.length > 0, `claim ${id} is not linked from the index`);
              for (const href of hrefs) await Deno.stat(join(smoke, decodeURI(href!)));
            }
            assertEquals(index.errors, []);
          } finally {
            await index.close();
          }
        });

        for (const name of names) {
          await t.step(`page ${name} renders its charts and claim numbers`, async () => {
            const outputs = await readJson(join(smoke, name, "report/outputs.json"));
            const page = await openOffline(browser, join(smoke, name, "report/index.html"));
            try {
              const charts = await page.page.$$eval("canvas", (canvases) => canvases.map((c) => c.id));
              for (const id of charts) {
                assert(
                  await paintedPixels(page.page, `#${id}`) > 500,
                  `${name}: chart ${id} drew nothing`,
                );
              }
              const cells = await page.page.$$eval(
                "table.claims tbody tr td.reproduced",
                (tds) => tds.map((td) => td.getAttribute("data-value")),
              );
              assertStrictEquals(cells.length, outputs.claims.length);
              outputs.claims.forEach((row: { reproduced: number | null }, i: number) => {
                if (row.reproduced === null) assertStrictEquals(cells[i], null);
                else assert(close(Number(cells[i]), row.reproduced), `${name} row ${i}: ${cells[i]}`);
              });
              const text = await page.page.textContent("body") ?? "";
              assertMatch(text, /preset smoke/);
              assertMatch(text, /Reduced-scale run/);
              const whatRan = await tableRows(page.page, "table.what-ran tbody tr");
              assert(whatRan.length > 0, `${name}: no "What ran" table`);
              const images = await page.page.$$eval(
                "figure.image img",
                (imgs) => imgs.map((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
              );
              for (const width of images) assert(width > 0, `${name}: a figure did not load`);
              assertEquals(page.errors, [], `${name}: console errors`);
              assertEquals(page.blockedRequests, []);
              assertEquals(page.failedRequests, []);
            } finally {
              await page.close();
            }
          });
        }
      });
    } finally {
      await Deno.remove(results, { recursive: true });
    }
  },
});
