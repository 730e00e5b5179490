/**
 * The registry of fetchable pretrained models (models/registry.yaml): where each one's weights are, the digest
 * they must have, how they become a checkpoint and what its card says. Read and checked here, so the fetch,
 * the name lookup and the GUI can trust the shapes.
 */
import { readYamlMapping } from "../util/yaml_mapping.ts";
import { formatBytes } from "../data/download.ts";
import { basename, dirname, joinPath, PROJECT_ROOT } from "../data/util.ts";

/** The registry the commands read ($ALEXNET_MODELS points elsewhere, e.g. a test's own). */
export const MODEL_REGISTRY_FILE: string = joinPath(PROJECT_ROOT, "models", "registry.yaml");

/** What the GUI's model card says about a fetched model. */
export interface RegistryCard {
  about?: string;
  /** The images the accuracies were measured on, e.g. "the ImageNet-1K validation images". */
  evaluatedOn?: string;
  /** Percent. */
  top1Accuracy?: number;
  top5Accuracy?: number;
  /** Whose numbers they are, when they were not measured here (e.g. "torchvision"). */
  reportedBy?: string;
}

export interface FetchableModel {
  name: string;
  title: string;
  url: string;
  /** The file name at the url, and under $ALEXNET_DATA_MIRROR. */
  file: string;
  /** The sha-256 in lower-case hex: 64 digits, or a prefix the digest must start with. */
  sha256: string;
  /** The exact size, where known. */
  bytes?: number;
  /** A documented size in MiB (rounded), for messages. */
  sizeMib?: number;
  format: "torchvision";
  /** Absolute path of the model file (the architecture). */
  architecture: string;
  /** Absolute path of the class names file. */
  classes: string;
  licence: string;
  homepage: string;
  card: RegistryCard;
}

export interface ModelRegistry {
  file: string;
  models: FetchableModel[];
}

export class ModelRegistryError extends Error {}

/** A name a model can have: also what tells a name from a file path on the command line. */
export const MODEL_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** $ALEXNET_MODELS or the project's models/registry.yaml. */
export function modelRegistryFile(): string {
  const env = Deno.env.get("ALEXNET_MODELS");
  return env && env.length > 0 ? env : MODEL_REGISTRY_FILE;
}

/** Reads and checks the registry; every problem names the file and the field. */
export async function loadModelRegistry(file = modelRegistryFile()): Promise<ModelRegistry> {
  const doc = await readYamlMapping(file, { file: "the model registry", entries: "model names" }, ["sha256"]);
  return { file, models: Object.entries(doc).map(([name, raw]) => parseModel(file, name, raw)) };
}

/** The entry for `name`, or null when the registry has none. */
export function findFetchable(registry: ModelRegistry, name: string): FetchableModel | null {
  return registry.models.find((m) => m.name === name) ?? null;
}

/** The entry for `name`, or an error listing the names the registry has. */
export function requireFetchable(registry: ModelRegistry, name: string): FetchableModel {
  const entry = findFetchable(registry, name);
  if (!entry) {
    throw new ModelRegistryError(
      `unknown model "${name}": ${registry.file} names ${registry.models.map((m) => m.name).join(", ")}`,
    );
  }
  return entry;
}

/** The size a user is told to expect: exact bytes, else the documented MiB; undefined when neither is known. */
export function expectedBytes(entry: FetchableModel): number | undefined {
  return entry.bytes ?? (entry.sizeMib === undefined ? undefined : Math.round(entry.sizeMib * 2 ** 20));
}

/** "244.4 MB", or null where the registry states no size. */
export function sizeText(entry: FetchableModel): string | null {
  const bytes = expectedBytes(entry);
  return bytes ? formatBytes(bytes) : null;
}

/** " (244.4 MB)", or "" where the registry states no size. */
export function sizeNote(entry: FetchableModel): string {
  const size = sizeText(entry);
  return size ? ` (${size})` : "";
}

const KEYS = [
  "title",
  "url",
  "file",
  "sha256",
  "bytes",
  "size_mib",
  "format",
  "architecture",
  "classes",
  "licence",
  "homepage",
  "card",
];
const CARD_KEYS = ["about", "evaluated_on", "top1_accuracy", "top5_accuracy", "reported_by"];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function parseModel(file: string, name: string, raw: unknown): FetchableModel {
  const at = (field: string) => `${file}: ${name}.${field}`;
  if (!MODEL_NAME.test(name)) {
    throw new ModelRegistryError(`${file}: "${name}": a model name is lower-case letters, digits and -`);
  }
  if (!isObject(raw)) throw new ModelRegistryError(`${file}: ${name}: expected a mapping`);
  const unknownKey = (keys: string[], obj: Record<string, unknown>, prefix: string) => {
    for (const key of Object.keys(obj)) {
      if (!keys.includes(key)) {
        throw new ModelRegistryError(`${at(prefix + key)}: unknown key (known: ${keys.join(", ")})`);
      }
    }
  };
  unknownKey(KEYS, raw, "");
  const text = (obj: Record<string, unknown>, field: string, prefix = ""): string | undefined => {
    const v = obj[field];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.trim() === "") {
      throw new ModelRegistryError(`${at(prefix + field)}: expected text`);
    }
    return v.trim();
  };
  const required = (field: string): string => {
    const v = text(raw, field);
    if (v === undefined) throw new ModelRegistryError(`${at(field)}: required`);
    return v;
  };
  const positive = (obj: Record<string, unknown>, field: string, int: boolean, prefix = "") => {
    const v = obj[field];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !(v > 0) || (int && !Number.isInteger(v))) {
      throw new ModelRegistryError(
        `${at(prefix + field)}: expected a positive ${int ? "whole " : ""}number`,
      );
    }
    return v;
  };
  const url = required("url");
  if (!/^https?:\/\/[^/]+\/./.test(url)) {
    throw new ModelRegistryError(`${at("url")}: expected an http(s) address of a file`);
  }
  const fileName = text(raw, "file") ?? decodeURIComponent(basename(new URL(url).pathname));
  if (fileName.includes("/") || fileName === "." || fileName === "..") {
    throw new ModelRegistryError(`${at("file")}: expected a file name`);
  }
  const sha256 = required("sha256").toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(sha256)) {
    throw new ModelRegistryError(
      `${at("sha256")}: expected the sha-256 in hex, or its first 8 or more hex digits`,
    );
  }
  const format = required("format");
  if (format !== "torchvision") {
    throw new ModelRegistryError(`${at("format")}: expected torchvision (the only conversion there is)`);
  }
  // Files named by the registry sit beside it.
  const beside = (field: string) => {
    const v = required(field);
    return v.startsWith("/") ? v : joinPath(dirname(file), v);
  };
  const cardRaw = raw.card ?? {};
  if (!isObject(cardRaw)) throw new ModelRegistryError(`${at("card")}: expected a mapping`);
  unknownKey(CARD_KEYS, cardRaw, "card.");
  const percent = (field: string) => {
    const v = positive(cardRaw, field, false, "card.");
    if (v !== undefined && v > 100) throw new ModelRegistryError(`${at(`card.${field}`)}: a percentage`);
    return v;
  };
  const card: RegistryCard = {};
  const about = text(cardRaw, "about", "card."), evaluatedOn = text(cardRaw, "evaluated_on", "card.");
  const reportedBy = text(cardRaw, "reported_by", "card.");
  const top1 = percent("top1_accuracy"), top5 = percent("top5_accuracy");
  if (about !== undefined) card.about = about;
  if (evaluatedOn !== undefined) card.evaluatedOn = evaluatedOn;
  if (top1 !== undefined) card.top1Accuracy = top1;
  if (top5 !== undefined) card.top5Accuracy = top5;
  if (reportedBy !== undefined) card.reportedBy = reportedBy;
  const bytes = positive(raw, "bytes", true), sizeMib = positive(raw, "size_mib", false);
  return {
    name,
    title: required("title"),
    url,
    file: fileName,
    sha256,
    ...(bytes !== undefined ? { bytes } : {}),
    ...(sizeMib !== undefined ? { sizeMib } : {}),
    format,
    architecture: beside("architecture"),
    classes: beside("classes"),
    licence: required("licence"),
    homepage: required("homepage"),
    card,
  };
}
