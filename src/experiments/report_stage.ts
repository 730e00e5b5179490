import { fingerprintByRunning } from "../pipeline/fingerprint.ts";
import { join, relative } from "@std/path";
import type { StageKind } from "../pipeline/types.ts";
import { defineStageKind } from "../pipeline/types.ts";
import { buildProvenance, buildSection } from "./build.ts";
import type { BuildContext } from "./build.ts";
import { renderPage } from "../report/html.ts";
import type { Block, Cell } from "../report/model.ts";
import type { RunInfo, StageResult } from "../pipeline/types.ts";
import { escapeHtml, formatDuration, inlineMarkup } from "../report/format.ts";
import { CI_METHOD, DETECTABLE_METHOD, VERDICT_RULE } from "./claim_effect.ts";
import { perSeedComputeMs, SEED_POWER_METHOD } from "./seed_plan.ts";
import { formatHost } from "../pipeline/host.ts";
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
  readsPipelineText: true,
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
      seeds: ctx.run.seeds,
      perSeedMs: perSeedComputeMs(ctx.run.completed.values()),
    };
    const intro = ctx.params.intro ?? ctx.run.pipeline.description;
    const blocks: Block[] = intro ? [{ type: "text", text: intro }] : [];
    if (ctx.params.what_ran && ctx.preset !== "full") blocks.push(reducedScaleNote(ctx.preset));
    blocks.push(howMeasured(ctx.run, [...ctx.run.completed.values()]));
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
      `paper's. Read each claim's **verdict** (does the interval over seeds exclude no-effect on the paper's ` +
      `side?), not the size of its effect. The \`full\` preset runs the paper's schedule (on a GPU).`,
  };
}

/**
 * Said once near the top of every page: the seeds, how intervals, verdicts, the detectable effect and the
 * seeds for 80% power are computed, the compute budget (the file's words and the recorded stage times) and
 * how settings were fixed.
 */
function howMeasured(run: RunInfo, results: StageResult[]): Block {
  const seeds = run.seeds.length > 1
    ? `${run.seeds.length} (${
      run.seeds.join(", ")
    }); for one seed every arm shares the initialisation of the ` +
      "layers both nets have and the data order, so arm differences are paired by seed"
    : `1 (seed ${run.seeds[0]}): no interval can be computed, so every verdict reads "inconclusive (1 seed)"`;
  const recorded = results.filter((result) => result.kind !== "report");
  const totalMs = recorded.reduce((sum, result) => sum + result.durationMs, 0);
  const adapters = [
    ...new Set(recorded.map((result) => result.outputs.adapter).filter((a) => typeof a === "string")),
  ];
  // The machines as the records name them (records made before hosts were recorded name none).
  const hosts = [...new Set(recorded.flatMap((result) => (result.host ? [formatHost(result.host)] : [])))];
  const machine = [
    adapters.length ? `on ${adapters.join(", ")}` : "",
    hosts.length ? `host ${hosts.join("; ")}` : "",
  ].filter(Boolean);
  const reused = recorded.filter((result) => result.reusedFrom).length;
  const timing = recorded.length && totalMs > 0
    ? `${formatDuration(totalMs)} of wall time over ${recorded.length} stage runs, as their records give it` +
      (machine.length ? ` (${machine.join("; ")})` : "") +
      (reused
        ? `; ${reused} of them are the runs of identical stages elsewhere, reused here (see "What ran")`
        : "")
    : "not recorded";
  const text = (
    value: string | undefined,
  ) => (value ? inlineMarkup(value.trim()) : "not stated in the pipeline file");
  return {
    type: "table",
    title: "How this page was measured",
    className: "method",
    columns: ["", ""],
    rows: [
      ["seeds", seeds],
      ["confidence intervals", CI_METHOD],
      ["verdict", VERDICT_RULE],
      ["smallest detectable effect", DETECTABLE_METHOD],
      ["seeds for 80% power", { html: inlineMarkup(SEED_POWER_METHOD) }],
      ["compute budget", { html: text(run.pipeline.budget) }],
      ["compute recorded", timing],
      ["how settings were fixed", { html: text(run.pipeline.design) }],
    ],
  };
}

/** A stage's id, and the run it reuses when it is another pipeline's. */
function stageCell(result: StageResult): string {
  const id = `<code>${escapeHtml(result.id)}</code>`;
  return result.reusedFrom ? `${id} (the run of <code>${escapeHtml(result.reusedFrom)}</code>)` : id;
}

/**
 * What data, model and schedule the stages ran, each scale said once: one row per distinct scale, with the
 * stage instances that ran at it and their summed time.
 */
function whatRan(results: StageResult[]): Block[] {
  const byScale = new Map<string, StageResult[]>();
  for (const result of results) {
    if (result.kind === "report" || typeof result.outputs.scale !== "string") continue;
    const key = `${result.preset}\u0000${result.outputs.scale}`;
    byScale.set(key, [...(byScale.get(key) ?? []), result]);
  }
  const rows = [...byScale.values()].map((group): Cell[] => [
    { html: group.map(stageCell).join("<br>") },
    [...new Set(group.map((result) => result.kind))].join(", "),
    group[0].preset,
    String(group[0].outputs.scale),
    formatDuration(group.reduce((sum, result) => sum + result.durationMs, 0)),
  ]);
  if (rows.length === 0) return [];
  return [{
    type: "table",
    title: "What ran",
    className: "what-ran",
    columns: ["stages", "kind", "preset", "scale", "took"],
    rows,
  }];
}
