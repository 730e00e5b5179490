// deno task data: the datasets the registry (datasets/registry.yaml) names, their state here, fetching and
// verifying them (src/data/datasets.ts).

import {
  dataPlaces,
  datasetState,
  fetchCommand,
  fetchDataset,
  findRoot,
  installedRoot,
  localSource,
  registry,
  verifyDataset,
} from "../data/datasets.ts";
import { formatBytes } from "../data/download.ts";
import { type DatasetEntry, downloadBytes, findDataset } from "../data/registry.ts";
import { PROJECT_ROOT } from "../data/util.ts";
import { parseCommandLine, runCommand, UsageError } from "../util/args.ts";

export const DATA_USAGE = `Usage: deno task data <command> [options]

The datasets this project knows (datasets/registry.yaml), where they live and how to get them.

Commands
  list                 every dataset: absent, verified (and which build), not verified or of an unknown build;
                       download size; where it lives
  fetch NAME...        put the datasets here from their sources, in order: the lab's copy (../shared/data, or
                       $ALEXNET_SHARED_DATA), a Debian package, then the official address ($ALEXNET_DATA_MIRROR
                       instead when set: the archives under their official names). Progress with MB/s and ETA;
                       an interrupted download resumes; nothing is put in place before its checksum or its
                       unpacked content matches a known build
  verify NAME          hash the data and compare it with the known builds (imagenet: checks the layout)

Options
  --data-path DIR      verify: the folder to check instead of the default place (needed for imagenet)
  --force              fetch: fetch again although the data is here (the old copy stays until the new one is
                       verified)
  -h, --help

Data lives under <project>/.cache/data ($ALEXNET_CACHE_DIR/data when set). Commands that need data (train,
evaluate, reproduce) say which fetch command gets it, or fetch it themselves with --fetch.`;

const OPTIONS = {
  "data-path": { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function where(path: string): string {
  return path.startsWith(PROJECT_ROOT + "/") ? path.slice(PROJECT_ROOT.length + 1) : path;
}

function size(entry: DatasetEntry): string {
  const bytes = downloadBytes(entry);
  return bytes ? formatBytes(bytes) : "-";
}

async function list(): Promise<number> {
  const places = dataPlaces();
  const rows: string[][] = [["dataset", "status", "size", "where", "licence"]];
  for (const entry of (await registry()).datasets) {
    const state = await datasetState(entry, places);
    const status = state.status === "verified"
      ? `verified: ${state.build}`
      : state.status === "unknown build"
      ? "present, unknown build"
      : state.status === "not verified"
      ? `present, not verified (deno task data verify ${entry.name})`
      : state.status === "not downloadable"
      ? "absent (not downloadable: --data-path DIR)"
      : (await localSource(entry, places))
      ? `absent here, the lab's copy is used on first need (${await localSource(entry, places)})`
      : `absent (${fetchCommand(entry)})`;
    const place = "root" in state ? where(state.root) : "-";
    rows.push([entry.name, status, size(entry), place, entry.licence.split(/[;(]/)[0].trim()]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
  return 0;
}

async function fetchAll(names: string[], force: boolean): Promise<number> {
  if (names.length === 0) throw new UsageError("fetch: name the datasets (deno task data list shows them)");
  const reg = await registry();
  const entries = names.map((n) => findDataset(reg, n));
  const places = dataPlaces();
  let failed = 0;
  for (const entry of entries) {
    try {
      const got = await fetchDataset(entry, places, { force });
      console.log(
        got.present
          ? `${entry.name}: already here (${got.build}) at ${where(got.root)}`
          : `${entry.name}: ${got.build} build at ${where(got.root)} (from ${got.from})`,
      );
    } catch (e) {
      console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

/** ImageNet's layout: every class folder named by one of the 1000 WordNet ids, and all 1000 there. */
async function verifyLayout(entry: DatasetEntry, root: string): Promise<number> {
  const ids = (await Deno.readTextFile(`${PROJECT_ROOT}/datasets/${entry.classes}`)).split("\n").filter(
    Boolean,
  );
  let bad = 0;
  for (const split of ["train", "val"]) {
    const dir = `${root}/${split}`;
    const folders: string[] = [];
    let images = 0;
    try {
      for await (const e of Deno.readDir(dir)) {
        if (!e.isDirectory || e.name.startsWith(".")) continue;
        folders.push(e.name);
        for await (const f of Deno.readDir(`${dir}/${e.name}`)) {
          if (f.isFile && !f.name.startsWith(".")) images++;
        }
      }
    } catch {
      console.error(`${entry.name}: ${dir} is missing (expected ${entry.layout})`);
      bad++;
      continue;
    }
    const unknown = folders.filter((f) => !ids.includes(f));
    const missing = ids.filter((id) => !folders.includes(id));
    console.log(`${entry.name}: ${split}/: ${folders.length} class folders, ${images} images`);
    if (unknown.length || missing.length) {
      console.error(
        `${entry.name}: ${split}/ does not have the ${ids.length} WordNet-id folders of datasets/${entry.classes}` +
          (missing.length ? `: ${missing.length} missing (e.g. ${missing.slice(0, 3).join(", ")})` : "") +
          (unknown.length ? `; ${unknown.length} unknown (e.g. ${unknown.slice(0, 3).join(", ")})` : ""),
      );
      bad++;
    }
  }
  if (!bad) console.log(`${entry.name}: layout verified (${ids.length} classes in torchvision's order)`);
  return bad ? 1 : 0;
}

async function verify(name: string | undefined, dataPath: string | undefined): Promise<number> {
  if (!name) throw new UsageError("verify: name the dataset");
  const entry = findDataset(await registry(), name);
  const places = dataPlaces();
  const root = dataPath
    ? await findRoot(entry, dataPath)
    : (await installedRoot(entry, places))?.root ?? null;
  if (!root) {
    console.error(
      dataPath
        ? `${name}: ${dataPath} does not hold ${entry.layout}`
        : `${name}: not on this machine (${
          entry.sources.length ? fetchCommand(entry) : "pass --data-path DIR"
        })`,
    );
    return 1;
  }
  if (entry.classes) return verifyLayout(entry, root);
  console.error(`${name}: hashing ${where(root)} ...`);
  const { content, build } = await verifyDataset(entry, root, places);
  if (build) {
    console.log(
      `${name}: verified: the ${build.name} build (${build.about.split(";")[0]}) at ${where(root)}`,
    );
    return 0;
  }
  console.error(
    `${name}: ${where(root)} is no known build: its content checksum ${content} matches none of ` +
      `${entry.builds.filter((b) => b.content).map((b) => b.name).join(", ")}`,
  );
  return 1;
}

function main(): Promise<number> {
  const { values: v, positionals } = parseCommandLine(Deno.args, OPTIONS, true);
  const [command, ...rest] = positionals;
  if (v.help || !command) {
    console.log(DATA_USAGE);
    return Promise.resolve(v.help ? 0 : 2);
  }
  switch (command) {
    case "list":
      return list();
    case "fetch":
      return fetchAll(rest, v.force ?? false);
    case "verify":
      return verify(rest[0], v["data-path"]);
    default:
      throw new UsageError(`unknown command "${command}" (list, fetch, verify)`);
  }
}

if (import.meta.main) await runCommand(main, DATA_USAGE);
