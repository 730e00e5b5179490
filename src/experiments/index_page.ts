import { join } from "@std/path";
import { PAPER_CLAIMS } from "../paper/claims.ts";
import type { Lockfile } from "../pipeline/lockfile.ts";
import { LOCKFILE_NAME, readLockfile } from "../pipeline/lockfile.ts";
import type { PipelineInfo } from "../pipeline/types.ts";
import { escapeHtml, formatNumber, formatSigned } from "../report/format.ts";
import { renderPage } from "../report/html.ts";
import type { Cell, ClaimRow } from "../report/model.ts";

export interface IndexOptions {
  /** Pipelines known from pipelines/*.yaml, so ones that never ran are listed too. */
  pipelines?: Omit<PipelineInfo, "file">[];
}

interface ReportPageInfo {
  pipeline: string;
  stage: string;
  href: string;
  title: string;
  claims: ClaimRow[];
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
  for (const [id, entry] of Object.entries(lock.stages)) {
    if (entry.kind !== "report" || entry.status !== "done") continue;
    const outputs = await readJson(join(resultsDir, lock.pipeline, entry.outDir, "outputs.json"));
    if (!outputs || typeof outputs.page !== "string") continue;
    pages.push({
      pipeline: lock.pipeline,
      stage: id,
      href: `${lock.pipeline}/${entry.outDir}/${outputs.page}`,
      title: typeof outputs.title === "string" ? outputs.title : lock.title,
      claims: Array.isArray(outputs.claims) ? outputs.claims as ClaimRow[] : [],
    });
  }
  return pages;
}

function reproducedSummary(row: ClaimRow): string {
  const value = row.reproduced === null
    ? "-"
    : (row.paper < 0 || row.reproduced < 0)
    ? formatSigned(row.reproduced)
    : formatNumber(row.reproduced);
  const direction = row.directionMatches === null
    ? ""
    : row.directionMatches
    ? ", direction matches"
    : ", direction differs";
  return `${escapeHtml(row.metric)}: <strong>${value}</strong> (paper ${formatNumber(row.paper)}${
    escapeHtml(direction)
  }; ${escapeHtml(row.preset)})`;
}

/**
 * Writes results/index.html: every pipeline (with its page, or "not run yet") and every paper claim with the
 * pages that address it. Returns the path written.
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
        lock?.updatedAt ?? null,
      ];
    },
  );

  const claimRows: Cell[][] = PAPER_CLAIMS.map((claim) => {
    const addressing = pages.filter((page) =>
      known.get(page.pipeline)?.claims.includes(claim.id) ||
      page.claims.some((row) => row.claimId === claim.id)
    );
    const rows = addressing.flatMap((page) => page.claims.filter((row) => row.claimId === claim.id));
    const plannedBy = [...known.values()].filter((info) => info.claims.includes(claim.id)).map((info) =>
      info.name
    );
    const where = addressing.length
      ? { html: addressing.map((page) => link(page.pipeline, page.href)).join("<br>") }
      : plannedBy.length
      ? `not run yet (${plannedBy.join(", ")})`
      : "not run yet";
    return [
      { html: `<code>${escapeHtml(claim.id)}</code>` },
      claim.section,
      claim.claim,
      claim.paperFigure,
      rows.length ? { html: rows.map(reproducedSummary).join("<br>") } : null,
      where,
    ];
  });

  const html = await renderPage({
    title: "AlexNet reproduction: results",
    subtitle:
      "Krizhevsky, Sutskever, Hinton (2012). Each pipeline page compares reproduced numbers with the paper's.",
    blocks: [
      {
        type: "table",
        title: "Pipelines",
        columns: ["pipeline", "page", "claims", "preset", "status", "updated"],
        rows: pipelineRows,
      },
      {
        type: "table",
        title: "Paper claims",
        columns: ["id", "section", "claim", "paper", "reproduced", "page"],
        rows: claimRows,
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
