/**
 * The dataset registry (datasets/registry.yaml): each dataset's description, known builds and sources, read and
 * checked once. Every field is validated here, so the rest of the data layer can trust the shapes.
 */
import { readYamlMapping } from "../util/yaml_mapping.ts";
import { joinPath, PROJECT_ROOT } from "./util.ts";

/** The registry the commands read ($ALEXNET_DATASETS points elsewhere, e.g. a test's own). */
export const REGISTRY_FILE: string = joinPath(PROJECT_ROOT, "datasets", "registry.yaml");

/** One known build of a dataset: what it is and, where known, the loader's content checksum of it. */
export interface DatasetBuild {
  name: string;
  about: string;
  /** The loader's checksum (the value stage records keep); absent when no one has measured it yet. */
  content?: string;
}

/** One file of a download source, with its digests (at least one of them). */
export interface SourceFile {
  file: string;
  bytes?: number;
  sha256?: string;
  md5?: string;
}

/** Where a build can come from. */
export type DatasetSource =
  | { kind: "shared"; path: string; build: string; script: boolean; folder?: string }
  | { kind: "local"; path: string; build: string; apt?: string }
  | {
    kind: "download";
    /** The official address: a file's URL, or with several files the base URL they sit under. */
    url?: string;
    /** One archive (unpacked into `folder`) or several plain files (put into `folder` as they are). */
    files: SourceFile[];
    archive: boolean;
    build: string;
    folder?: string;
    bytes?: number;
  };

export interface DatasetEntry {
  name: string;
  title: string;
  what: string;
  licence: string;
  homepage: string;
  /** Which loader opens it, and so how its content checksum is computed. */
  loader: "cifar10" | "image-folder" | "fashion-mnist";
  layout: string;
  /** Folder under <cache>/data the data is unpacked to (a source may name its own). */
  folder?: string;
  /** A file or folder that marks the dataset's root inside an unpacked archive. */
  rootMarker?: string;
  builds: DatasetBuild[];
  sources: DatasetSource[];
  /** Data that cannot be downloaded: how to obtain it. */
  obtain?: string;
  /** A file beside the registry listing the class folder names the layout must have. */
  classes?: string;
}

export interface Registry {
  file: string;
  datasets: DatasetEntry[];
}

class RegistryError extends Error {}

/** Reads and checks the registry; every problem names the file and the field. */
export async function loadRegistry(file = registryFile()): Promise<Registry> {
  const doc = await readYamlMapping(
    file,
    { file: "the dataset registry", entries: "dataset names" },
    ["sha256", "md5"],
  );
  return { file, datasets: Object.entries(doc).map(([name, raw]) => parseEntry(file, name, raw)) };
}

/** $ALEXNET_DATASETS or the project's datasets/registry.yaml. */
export function registryFile(): string {
  const env = Deno.env.get("ALEXNET_DATASETS");
  return env && env.length > 0 ? env : REGISTRY_FILE;
}

/** The entry for `name`, or an error listing the names the registry has. */
export function findDataset(registry: Registry, name: string): DatasetEntry {
  const entry = registry.datasets.find((d) => d.name === name);
  if (!entry) {
    throw new RegistryError(
      `unknown dataset "${name}": ${registry.file} names ${registry.datasets.map((d) => d.name).join(", ")}`,
    );
  }
  return entry;
}

/** The build whose content checksum this is, if the registry knows it. */
export function buildOfContent(entry: DatasetEntry, checksum: string): DatasetBuild | undefined {
  return entry.builds.find((b) => b.content === checksum);
}

/** Download size of a source (its files' bytes added up), when the registry states it. */
export function sourceBytes(source: DatasetSource): number | undefined {
  if (source.kind !== "download") return undefined;
  if (source.bytes !== undefined) return source.bytes;
  const sizes = source.files.map((f) => f.bytes);
  return sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
}

/** The size a user is told to expect: the first download source that states one. */
export function downloadBytes(entry: DatasetEntry): number | undefined {
  for (const s of entry.sources) {
    const bytes = sourceBytes(s);
    if (bytes !== undefined) return bytes;
  }
  return undefined;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

const ENTRY_KEYS = [
  "title",
  "what",
  "licence",
  "homepage",
  "loader",
  "layout",
  "folder",
  "root_marker",
  "builds",
  "sources",
  "obtain",
  "classes",
];
const SOURCE_KEYS = [
  "shared",
  "local",
  "file",
  "files",
  "url",
  "bytes",
  "md5",
  "sha256",
  "build",
  "folder",
  "script",
  "apt",
];

function parseEntry(file: string, name: string, raw: unknown): DatasetEntry {
  const at = (field: string) => `${file}: ${name}.${field}`;
  if (!isObject(raw)) throw new RegistryError(`${file}: ${name}: expected a mapping`);
  for (const key of Object.keys(raw)) {
    if (!ENTRY_KEYS.includes(key)) {
      throw new RegistryError(`${at(key)}: unknown key (known: ${ENTRY_KEYS.join(", ")})`);
    }
  }
  const str = (field: string, required = true): string | undefined => {
    const v = raw[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v.trim() === "") throw new RegistryError(`${at(field)}: expected text`);
    return v.trim();
  };
  const loader = str("loader")!;
  if (!["cifar10", "image-folder", "fashion-mnist"].includes(loader)) {
    throw new RegistryError(
      `${at("loader")}: expected cifar10, image-folder or fashion-mnist, got ${loader}`,
    );
  }
  const buildsRaw = raw.builds ?? {};
  if (!isObject(buildsRaw)) throw new RegistryError(`${at("builds")}: expected a mapping of build names`);
  const builds = Object.entries(buildsRaw).map(([b, v]): DatasetBuild => {
    if (!isObject(v) || typeof v.about !== "string") {
      throw new RegistryError(`${at(`builds.${b}`)}: expected about: (and content: where known)`);
    }
    if (v.content !== undefined && !isHex(v.content, 64)) {
      throw new RegistryError(`${at(`builds.${b}.content`)}: expected a sha-256 in hex`);
    }
    return { name: b, about: v.about.trim(), ...(v.content ? { content: v.content as string } : {}) };
  });
  const sourcesRaw = raw.sources ?? [];
  if (!Array.isArray(sourcesRaw)) throw new RegistryError(`${at("sources")}: expected a list`);
  const sources = sourcesRaw.map((s, i) => parseSource(at(`sources[${i}]`), s, builds));
  return {
    name,
    title: str("title")!,
    what: str("what")!,
    licence: str("licence")!,
    homepage: str("homepage")!,
    loader: loader as DatasetEntry["loader"],
    layout: str("layout")!,
    ...(raw.folder !== undefined ? { folder: str("folder") } : {}),
    ...(raw.root_marker !== undefined ? { rootMarker: str("root_marker") } : {}),
    ...(raw.obtain !== undefined ? { obtain: str("obtain") } : {}),
    ...(raw.classes !== undefined ? { classes: str("classes") } : {}),
    builds,
    sources,
  };
}

function isHex(v: unknown, length: number): boolean {
  return typeof v === "string" && new RegExp(`^[0-9a-f]{${length}}$`).test(v);
}

function parseSourceFile(at: string, raw: Record<string, unknown>): SourceFile {
  if (typeof raw.file !== "string" || raw.file.includes("/")) {
    throw new RegistryError(`${at}.file: expected a file name`);
  }
  if (raw.sha256 !== undefined && !isHex(raw.sha256, 64)) {
    throw new RegistryError(`${at}.sha256: expected 64 hex digits`);
  }
  if (raw.md5 !== undefined && !isHex(raw.md5, 32)) {
    throw new RegistryError(`${at}.md5: expected 32 hex digits`);
  }
  if (raw.bytes !== undefined && !(Number.isInteger(raw.bytes) && (raw.bytes as number) > 0)) {
    throw new RegistryError(`${at}.bytes: expected a positive whole number`);
  }
  return {
    file: raw.file,
    ...(raw.bytes !== undefined ? { bytes: raw.bytes as number } : {}),
    ...(raw.sha256 !== undefined ? { sha256: raw.sha256 as string } : {}),
    ...(raw.md5 !== undefined ? { md5: raw.md5 as string } : {}),
  };
}

function parseSource(at: string, raw: unknown, builds: DatasetBuild[]): DatasetSource {
  if (!isObject(raw)) throw new RegistryError(`${at}: expected a mapping`);
  for (const key of Object.keys(raw)) {
    if (!SOURCE_KEYS.includes(key)) {
      throw new RegistryError(`${at}.${key}: unknown key (known: ${SOURCE_KEYS.join(", ")})`);
    }
  }
  const build = raw.build;
  if (typeof build !== "string" || !builds.some((b) => b.name === build)) {
    throw new RegistryError(
      `${at}.build: expected one of the builds (${builds.map((b) => b.name).join(", ")})`,
    );
  }
  const folder = typeof raw.folder === "string" ? raw.folder : undefined;
  if (typeof raw.shared === "string") {
    return { kind: "shared", path: raw.shared, build, script: raw.script === true, folder };
  }
  if (typeof raw.local === "string") {
    return {
      kind: "local",
      path: raw.local,
      build,
      ...(typeof raw.apt === "string" ? { apt: raw.apt } : {}),
    };
  }
  const url = raw.url === undefined ? undefined : String(raw.url);
  if (url !== undefined && !/^https?:\/\//.test(url)) {
    throw new RegistryError(`${at}.url: expected an http(s) address`);
  }
  if (typeof raw.file === "string") {
    const file = parseSourceFile(at, raw);
    if (!file.sha256 && !file.md5) throw new RegistryError(`${at}: a download needs sha256 or md5`);
    return { kind: "download", url, files: [file], archive: true, build, folder, bytes: file.bytes };
  }
  if (Array.isArray(raw.files)) {
    const files = raw.files.map((f, i) => {
      if (!isObject(f)) throw new RegistryError(`${at}.files[${i}]: expected a mapping`);
      const parsed = parseSourceFile(`${at}.files[${i}]`, f);
      if (!parsed.sha256 && !parsed.md5) throw new RegistryError(`${at}.files[${i}]: needs sha256 or md5`);
      return parsed;
    });
    const bytes = typeof raw.bytes === "number" ? raw.bytes : undefined;
    return { kind: "download", url, files, archive: false, build, folder, bytes };
  }
  throw new RegistryError(`${at}: expected shared:, local:, file: or files:`);
}
