import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { join, relative } from "@std/path";
import type { StageKind } from "../pipeline/types.ts";
import { defineStageKind } from "../pipeline/types.ts";
import { buildProvenance, buildSection } from "./build.ts";
import type { BuildContext } from "./build.ts";
import { renderPage } from "../report/html.ts";
import type { Block, Cell } from "../report/model.ts";
import type { StageResult } from "../pipeline/types.ts";
import { escapeHtml, formatDuration } from "../report/format.ts";
import type { Section } from "./sections.ts";
import { SECTION_KINDS, validateSections } from "./sections.ts";

export interface ReportParams {
  title?: string;
  intro?: string;
  sections: Section[];
  what_ran: boolean;
}

export const REPORT_PAGE = "index.html";

/**
 * `kind: report`: turns upstream outputs into results/<pipeline>/<stage>/index.html, as the pipeline file's
 * `sections` describe. Its outputs (page, claim rows) are what results/index.html reads.
 */
export const reportStageKind: StageKind = defineStageKind<ReportParams>({
  name: "report",
  description:
    "Writes a self-contained HTML page (charts, claim tables, figures, provenance) from upstream outputs",
  // One page over every seed: claims are measured across them.
  seeds: "all",
  params: {
    title: { type: "string", doc: "page title (default: the pipeline's title)" },
    intro: { type: "string", doc: "text under the title (default: the pipeline's description)" },
    sections: {
      type: "object[]",
      required: true,
      doc: "page content in order; each item is one of " + SECTION_KINDS.join(", "),
    },
    what_ran: {
      type: "boolean",
      default: true,
      doc: "end with a table of every stage's scale (data, epochs) and, below the full preset, a warning",
    },
  },
  // The page with the run's provenance frozen (the runner probes with fixed commit, adapter and time).
  fingerprint(ctx) {
    return fingerprintByRunning((c) => this.run(c), ctx);
  },
  validateParams(params, info) {
    return validateSections(params.sections, info).map((issue) => ({
      ...issue,
      path: ["sections", ...issue.path],
    }));
  },
  async run(ctx) {
    const build: BuildContext = {
      inputs: ctx.inputs,
      outDir: ctx.outDir,
      preset: ctx.preset,
      files: {},
      claimRows: [],
    };
    const intro = ctx.params.intro ?? ctx.run.pipeline.description;
    const blocks: Block[] = intro ? [{ type: "text", text: intro }] : [];
    if (ctx.params.what_ran && ctx.preset !== "full") blocks.push(reducedScaleNote(ctx.preset));
    for (const section of ctx.params.sections) blocks.push(...await buildSection(section, build));
    if (ctx.params.what_ran) blocks.push(...whatRan([...ctx.run.completed.values()]));
    blocks.push({ type: "provenance", provenance: buildProvenance(ctx.run, ctx.preset) });
    const title = ctx.params.title ?? ctx.run.pipeline.title;
    const pageDir = join(ctx.run.resultsDir, ctx.pipeline, ctx.stage);
    const claims = ctx.run.pipeline.claims;
    const html = await renderPage({
      title,
      subtitle: `pipeline ${ctx.pipeline} · preset ${ctx.preset}` +
        (claims.length ? ` · claims: ${claims.join(", ")}` : ""),
      // From where the page lives in the results folder (not ctx.outDir, a scratch folder when probed).
      links: [{ text: "All results", href: join(relative(pageDir, ctx.run.resultsDir), "index.html") }],
      blocks,
    });
    await Deno.writeTextFile(join(ctx.outDir, REPORT_PAGE), html);
    ctx.log(`wrote ${join(ctx.outDir, REPORT_PAGE)}`);
    return {
      page: REPORT_PAGE,
      title,
      claims: build.claimRows,
      files: { page: REPORT_PAGE, ...build.files },
    };
  },
});

/** Said at the top of every page not made with the `full` preset, so no one mistakes it for the paper's scale. */
function reducedScaleNote(preset: string): Block {
  return {
    type: "text",
    text:
      `**Reduced-scale run (preset \`${preset}\`).** The networks below were trained on a fraction of the ` +
      `paper's data and schedule (see "What ran" at the end of the page), so their errors are far above the ` +
      `paper's and small effects are within run-to-run noise. Compare the **direction** of each effect with the ` +
      `paper, not its size. The \`full\` preset runs the paper's schedule (on a GPU).`,
  };
}

/** One row per upstream stage instance that reported its scale: what data, model and schedule it ran. */
function whatRan(results: StageResult[]): Block[] {
  const rows = results
    .filter((result) => result.kind !== "report" && typeof result.outputs.scale === "string")
    .map((result): Cell[] => [
      { html: `<code>${escapeHtml(result.id)}</code>` },
      result.kind,
      result.preset,
      String(result.outputs.scale),
      formatDuration(result.durationMs),
    ]);
  if (rows.length === 0) return [];
  return [{
    type: "table",
    title: "What ran",
    className: "what-ran",
    columns: ["stage", "kind", "preset", "scale", "took"],
    rows,
  }];
}
