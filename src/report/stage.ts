import { join, relative } from "node:path";
import type { StageKind } from "../pipeline/types.ts";
import { defineStageKind } from "../pipeline/types.ts";
import { buildProvenance, buildSection } from "./build.ts";
import type { BuildContext } from "./build.ts";
import { renderPage } from "./html.ts";
import type { Block } from "./model.ts";
import type { Section } from "./sections.ts";
import { validateSections } from "./sections.ts";

export interface ReportParams {
  title?: string;
  intro?: string;
  sections: Section[];
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
  params: {
    title: { type: "string", doc: "page title (default: the pipeline's title)" },
    intro: { type: "string", doc: "text under the title (default: the pipeline's description)" },
    sections: {
      type: "object[]",
      required: true,
      doc: "page content in order; each item is one of text, heading, chart, claims, table, figure",
    },
  },
  codeFiles: ["src/report/", "src/paper/claims.ts"],
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
    for (const section of ctx.params.sections) blocks.push(...await buildSection(section, build));
    blocks.push({ type: "provenance", provenance: buildProvenance(ctx.run, ctx.preset) });
    const title = ctx.params.title ?? ctx.run.pipeline.title;
    const claims = ctx.run.pipeline.claims;
    const html = await renderPage({
      title,
      subtitle: `pipeline ${ctx.pipeline} · preset ${ctx.preset}` +
        (claims.length ? ` · claims: ${claims.join(", ")}` : ""),
      links: [{ text: "All results", href: join(relative(ctx.outDir, ctx.run.resultsDir), "index.html") }],
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
