import { join } from "@std/path";
import { findClaim, PAPER_CLAIMS } from "../paper/claims.ts";
import type { Lockfile } from "../pipeline/lockfile.ts";
import { LOCKFILE_NAME, readLockfile, recordedComputeMs } from "../pipeline/lockfile.ts";
import { formatHost } from "../pipeline/host.ts";
import type { PipelineInfo } from "../pipeline/types.ts";
import { escapeHtml, formatDuration } from "../report/format.ts";
import { effectText, intervalText, renderPage, seedPlanCell, verdictCell } from "../report/html.ts";
import type { Cell, ClaimRow, IntervalChartBlock, IntervalSeries, TableBlock } from "../report/model.ts";
import { CI_METHOD, VERDICT_RULE } from "./claim_effect.ts";
import { perSeedComputeMs, planSeeds, SEED_POWER_METHOD, stageOfInstance } from "./seed_plan.ts";

export interface IndexOptions {
  /** Pipelines known from pipelines/*.yaml, so ones that never ran are listed too. */
  pipelines?: Omit<PipelineInfo, "file">[];
}

export interface ReportPageInfo {
  pipeline: string;
  stage: string;
  href: string;
  title: string;
  claims: ClaimRow[];
  /** Recorded compute of one seed of the pipeline (its lockfile), for rows whose page has no seed plan. */
  perSeedMs?: number | null;
}

const link = (text: string, href: string) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}

async function readLocks(resultsDir: string): Promise<Lockfile[]> {
  const locks: Lockfile[] = [];
  try {
    for await (const entry of Deno.readDir(resultsDir)) {
      if (!entry.isDirectory) continue;
      const lock = await readLockfile(join(resultsDir, entry.name, LOCKFILE_NAME));
      if (lock) locks.push(lock);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return locks.sort((a, b) => (a.pipeline < b.pipeline ? -1 : 1));
}

/** Finished report stages of a pipeline, with their page and claim rows (read from outputs.json). */
async function reportPages(resultsDir: string, lock: Lockfile): Promise<ReportPageInfo[]> {
  const pages: ReportPageInfo[] = [];
  const perSeedMs = perSeedComputeMs(
    Object.entries(lock.stages).map(([id, entry]) => ({ ...entry, stage: stageOfInstance(id) })),
  );
  for (const [id, entry] of Object.entries(lock.stages)) {
    if (entry.kind !== "report" || entry.status !== "done") continue;
    const outputs = await readJson(join(resultsDir, lock.pipeline, entry.outDir, "outputs.json"));
    if (!outputs || typeof outputs.page !== "string") continue;
    pages.push({
      pipeline: lock.pipeline,
      stage: id,
      href: `${lock.pipeline}/${entry.outDir}/${outputs.page}`,
      title: typeof outputs.title === "string" ? outputs.title : lock.title,
      claims: Array.isArray(outputs.claims)
        ? (outputs.claims as Partial<ClaimRow>[]).map(fromEarlierPage)
        : [],
      perSeedMs,
    });
  }
  return pages;
}

/**
 * A claim row as a page stored it. Pages made before claims were measured over seeds have no interval or
 * verdict: they read "not recorded" until the page is made again.
 */
function fromEarlierPage(row: Partial<ClaimRow>): ClaimRow {
  if (typeof row.verdict === "string" && Array.isArray(row.seeds)) return row as ClaimRow;
  const figure = findClaim(row.claimId ?? "")?.figures.find((f) => f.metric === row.metric);
  return {
    ...row,
    kind: row.kind ?? figure?.kind ?? "absolute",
    paper: row.paper ?? null,
    reproduced: row.reproduced ?? null,
    low: null,
    high: null,
    perSeed: [],
    seeds: [],
    detectable: null,
    verdict: "not recorded",
  } as ClaimRow;
}

const DIFFERENCE_AXIS = "effect (percentage points)";
const RATIO_AXIS = "ratio (x, log scale)";

/** A claim row of a page, with where it comes from. */
interface IndexClaim {
  row: ClaimRow;
  page: ReportPageInfo;
}

/** The claims table: one row per measured claim row (or per claim not measured yet), verdicts coloured. */
export function claimsTable(
  claims: IndexClaim[],
  plannedBy: (id: string) => string[],
  pagesOf: (id: string) => ReportPageInfo[] = () => [],
): TableBlock {
  // Claims with a reproduced number come first, in the paper's order; those without one (not run here, or
  // needing data this project lacks, like Tables 1 and 2) follow, so the verdicts open the page.
  const rows: Cell[][] = [], waiting: Cell[][] = [];
  for (const claim of PAPER_CLAIMS) {
    const measured = claims.filter(({ row }) => row.claimId === claim.id);
    const sink = measured.some(({ row }) => row.reproduced !== null) ? rows : waiting;
    const id: Cell = { html: `<code>${escapeHtml(claim.id)}</code>` };
    if (measured.length === 0) {
      const planned = plannedBy(claim.id), pages = pagesOf(claim.id);
      sink.push([
        id,
        claim.section,
        claim.claim,
        null,
        claim.paperFigure,
        null,
        null,
        null,
        null,
        verdictCell(pages.length ? "not measured" : "not run yet"),
        pages.length
          ? { html: pages.map((page) => link(page.pipeline, page.href)).join("<br>") }
          : planned.length
          ? `not run yet (${planned.join(", ")})`
          : "not run yet",
      ]);
      continue;
    }
    for (const { row, page } of measured) {
      const unit = row.unit === "%" ? "" : ` (${row.unit})`;
      sink.push([
        id,
        row.section,
        row.claim,
        {
          html: `${escapeHtml(row.metric + unit)}${
            [row.note, row.boundNote].filter(Boolean).map((text) =>
              `<div class="note">${escapeHtml(text!)}</div>`
            )
              .join("")
          }`,
        },
        row.paper === null ? "qualitative" : effectText(row.paper, row.kind),
        row.reproduced === null ? null : { html: effectText(row.reproduced, row.kind), className: "num" },
        { html: intervalText(row), className: "num" },
        // A page made before seed plans existed gets one from its records and the lockfile.
        seedPlanCell(row.seedPlan ?? planSeeds(row, page.perSeedMs ?? null), row.preset),
        row.seeds.length,
        verdictCell(row.verdict, row.verdictNote),
        { html: link(page.pipeline, page.href) },
      ]);
    }
  }
  return {
    type: "table",
    title: "Paper claims and verdicts",
    className: "claims-index",
    columns: [
      "id",
      "section",
      "claim",
      "metric",
      "paper",
      "reproduced (mean)",
      "95% CI",
      "seeds for 80% power",
      "seeds",
      "verdict",
      "page",
    ],
    rows: [...rows, ...waiting],
  };
}

/** Effects (differences and ratios) of every page in one chart: reproduced dots with CI bars, paper marks. */
export function effectsChart(claims: IndexClaim[]): IntervalChartBlock | undefined {
  const effects = claims.filter(({ row }) =>
    (row.kind === "difference" || row.kind === "ratio") && row.reproduced !== null
  );
  if (effects.length === 0) return undefined;
  const labels = effects.map(({ row }) => `${row.claimId} · ${row.metric}`);
  const categories = labels.map((label, i) =>
    labels.indexOf(label) === i && labels.lastIndexOf(label) === i
      ? label
      : `${label} (${effects[i].row.note ?? effects[i].page.pipeline})`
  );
  const series = (kind: string, axis: "primary" | "secondary"): IntervalSeries[] => {
    const own = (i: number) => effects[i].row.kind === kind;
    if (!effects.some((_, i) => own(i))) return [];
    const what = kind === "ratio" ? "ratio" : "difference";
    return [
      {
        label: `reproduced ${what}: mean over seeds, 95% CI`,
        style: "dot",
        axis,
        values: effects.map(({ row }, i) => (own(i) ? row.reproduced : null)),
        intervals: effects.map(({ row }, i) =>
          own(i) && row.low !== null && row.high !== null ? [row.low, row.high] : null
        ),
      },
      {
        label: `paper's ${what}`,
        style: "mark",
        axis,
        values: effects.map(({ row }, i) => (own(i) ? row.paper : null)),
      },
    ];
  };
  return {
    type: "interval-chart",
    title: "Every claim's effect next to the paper's",
    orientation: "horizontal",
    categories,
    valueLabel: DIFFERENCE_AXIS,
    secondaryLabel: RATIO_AXIS,
    series: [...series("difference", "primary"), ...series("ratio", "secondary")],
    caption: "Dots: the reproduced effect (mean over seeds), bars: its 95% Student-t interval over seeds, " +
      "paired by seed (none with one seed). Black ticks: the paper's number. Differences (points of error, " +
      "with the paper's choice minus without) use the bottom axis; ratios (geometric means) the top, " +
      "logarithmic one.",
  };
}

/**
 * Writes results/index.html: first every paper claim with its verdict (or "not run yet") and one chart of
 * every effect next to the paper's, then every pipeline (with its page, or "not run yet"). Returns the path.
 */
export async function writeIndex(resultsDir: string, options: IndexOptions = {}): Promise<string> {
  const locks = await readLocks(resultsDir);
  const pages = (await Promise.all(locks.map((lock) => reportPages(resultsDir, lock)))).flat();
  const known = new Map<string, Omit<PipelineInfo, "file">>();
  for (const info of options.pipelines ?? []) known.set(info.name, info);
  for (const lock of locks) {
    if (!known.has(lock.pipeline)) {
      known.set(lock.pipeline, {
        name: lock.pipeline,
        title: lock.title,
        description: lock.description,
        claims: lock.claims,
      });
    }
  }
  const lockByName = new Map(locks.map((lock) => [lock.pipeline, lock]));
  // What the committed results cost: each pipeline's stage runs as its lockfile records them (a run reused from
  // another pipeline named as such), and in all with every run counted once.
  const computeMs = (lock: Lockfile | undefined) =>
    Object.values(lock?.stages ?? {}).reduce((sum, entry) => sum + (entry.durationMs ?? 0), 0);
  const reusedMs = (lock: Lockfile) =>
    Object.values(lock.stages).reduce(
      (sum, entry) => sum + (entry.reusedFrom ? entry.durationMs ?? 0 : 0),
      0,
    );
  const computeCell = (lock: Lockfile) =>
    formatDuration(computeMs(lock)) +
    (reusedMs(lock) > 0
      ? ` (${formatDuration(reusedMs(lock))} of it reused from another pipeline's runs)`
      : "");
  const totalMs = recordedComputeMs(locks);
  const entries = locks.flatMap((lock) => Object.values(lock.stages));
  const hosts = [...new Set(entries.flatMap((entry) => (entry.host ? [formatHost(entry.host)] : [])))].sort();
  // A reused run's host is its source's, named there.
  const unrecordedHost = entries.some((entry) =>
    !entry.host && !entry.reusedFrom && (entry.durationMs ?? 0) > 0
  );
  const hostText = hosts.length === 0
    ? "on hosts not recorded"
    : `on ${hosts.join("; ")}${
      unrecordedHost ? " and, for runs recorded before hosts were, hosts not named" : ""
    }`;
  const presets = [...new Set(locks.map((lock) => lock.preset))].sort();

  const pipelineRows: Cell[][] = [...known.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(
    (info) => {
      const lock = lockByName.get(info.name);
      const own = pages.filter((page) => page.pipeline === info.name);
      const entries = Object.values(lock?.stages ?? {});
      const done = entries.filter((entry) => entry.status === "done").length;
      const status = !lock ? "not run yet" : `${done}/${entries.length} stages done` +
        (entries.some((entry) => entry.status === "failed") ? ", some failed" : "");
      return [
        { html: `<code>${escapeHtml(info.name)}</code>` },
        own.length ? { html: own.map((page) => link(info.title, page.href)).join("<br>") } : info.title,
        info.claims.join(", "),
        lock?.preset ?? null,
        status,
        lock ? computeCell(lock) : null,
        lock?.updatedAt ?? null,
      ];
    },
  );

  const claims = pages.flatMap((page) => page.claims.map((row) => ({ row, page })));
  const plannedBy = (id: string) =>
    [...known.values()].filter((info) => info.claims.includes(id)).map((info) => info.name);
  const chart = effectsChart(claims);

  const html = await renderPage({
    title: "AlexNet reproduction: results",
    subtitle:
      "Krizhevsky, Sutskever, Hinton (2012). Each pipeline page compares reproduced numbers with the paper's.",
    blocks: [
      claimsTable(
        claims,
        plannedBy,
        (id) => pages.filter((page) => known.get(page.pipeline)?.claims.includes(id)),
      ),
      {
        type: "text",
        text:
          `Verdicts: ${VERDICT_RULE}. Intervals: ${CI_METHOD}. Seeds for 80% power: ${SEED_POWER_METHOD}. ` +
          "Each page says its seeds, budget and how its settings were fixed.",
      },
      ...(chart ? [chart] : []),
      {
        type: "table",
        title: "Pipelines",
        columns: ["pipeline", "page", "claims", "preset", "status", "compute recorded", "updated"],
        rows: pipelineRows,
      },
      {
        type: "text",
        text: `Compute recorded: the wall time of the stage runs each pipeline's results come from, as its ` +
          `lockfile records them; ${formatDuration(totalMs)} in all, each run counted once (preset` +
          `${presets.length === 1 ? "" : "s"} ${presets.join(", ") || "none"}), ${hostText}.`,
      },
      {
        type: "text",
        text:
          "Regenerate with `deno task reproduce` (add `--preset smoke|cpu|full`, `--dry-run` to see what would run).",
      },
    ],
  });
  const path = join(resultsDir, "index.html");
  await Deno.mkdir(resultsDir, { recursive: true });
  await Deno.writeTextFile(path, html);
  return path;
}
