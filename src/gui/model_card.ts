// What a model knows, in plain words for the page: its classes, what it sees, how often it was right on its
// test set. From the checkpoint's own metadata and, when there is one, its model card (the JSON file beside
// it, as models/default-cifar10.json is beside models/default-cifar10.safetensors). No Deno APIs: the
// browser bundle uses it.

import type { CheckpointMeta } from "../io/checkpoint.ts";
import type { RegistryCard } from "../io/model_registry.ts";

/** The fields of a model card the page uses (models/default-cifar10.json has the first five). */
export interface ModelCard {
  classes?: string[];
  test_top1_error?: number;
  test_top5_error?: number;
  /** The data and how much of it, in words. */
  scale?: string;
  /** Size of the checkpoint the card describes, to notice a card left beside another file. */
  bytes?: number;
  /** A sentence on what the model is (a fetched model's, from models/registry.yaml). */
  about?: string;
  /** The images the errors were measured on, in words, when not the checkpoint's own test set. */
  evaluated_on?: string;
  /** Whose numbers the errors are when they were not measured here, e.g. "torchvision". */
  reported_by?: string;
}

/** The card's fields the page uses, or null when `value` is not a model card. */
export function asModelCard(value: unknown): ModelCard | null {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const card: ModelCard = {};
  if (Array.isArray(v.classes) && v.classes.every((c) => typeof c === "string")) card.classes = v.classes;
  for (const k of ["test_top1_error", "test_top5_error", "bytes"] as const) {
    if (typeof v[k] === "number" && Number.isFinite(v[k])) card[k] = v[k] as number;
  }
  for (const k of ["scale", "about", "evaluated_on", "reported_by"] as const) {
    if (typeof v[k] === "string") card[k] = v[k] as string;
  }
  return card.classes || card.test_top1_error !== undefined || card.about ? card : null;
}

/** A fetched model's card from its registry entry (accuracies in percent there, errors as fractions here). */
export function cardFromRegistry(r: RegistryCard): ModelCard | null {
  const card: ModelCard = {};
  if (r.top1Accuracy !== undefined) card.test_top1_error = (100 - r.top1Accuracy) / 100;
  if (r.top5Accuracy !== undefined) card.test_top5_error = (100 - r.top5Accuracy) / 100;
  if (r.about !== undefined) card.about = r.about;
  if (r.evaluatedOn !== undefined) card.evaluated_on = r.evaluatedOn;
  if (r.reportedBy !== undefined) card.reported_by = r.reportedBy;
  return Object.keys(card).length ? card : null;
}

const DATASETS: Record<string, string> = {
  cifar10: "CIFAR-10",
  imagenette: "Imagenette",
  "fashion-mnist": "Fashion-MNIST",
  fashion_mnist: "Fashion-MNIST",
  imagenet: "ImageNet",
};

function list(names: string[]): string {
  if (names.length <= 12) {
    return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  }
  return `${names.slice(0, 8).join(", ")} and ${names.length - 8} more`;
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
/** Someone else's figures as they published them (56.522%), not rounded to our one decimal. */
const asReported = (x: number) => `${Number((100 * x).toFixed(3))}%`;

/** A few plain sentences: the classes, that every image gets one of them, the input it sees, its accuracy. */
export function whatTheModelKnows(meta: CheckpointMeta, card: ModelCard | null = null): string {
  const classes = meta.classes;
  const [channels, h, w] = meta.model.input;
  const p = meta.preprocess;
  const prov = meta.provenance ?? {};
  const metrics = (prov.metrics ?? {}) as Record<string, unknown>;
  const top1 = card?.test_top1_error ??
    (typeof metrics.testTop1Error === "number" ? metrics.testTop1Error : null);
  const top5 = card?.test_top5_error ??
    (typeof metrics.testTop5Error === "number" ? metrics.testTop5Error : null);
  const dataset = typeof prov.dataset === "string" ? DATASETS[prov.dataset] ?? prov.dataset : null;
  const n = classes.length;
  const sentences = [
    ...(card?.about ? [card.about] : []),
    `This model knows ${n} classes: ${list(classes)}.`,
    `It always answers with one of them, so a photo of anything else still comes out as one of these ${n}.`,
    `It sees ${w}x${h} ${channels === 1 ? "grey" : "colour"} pixels: each image is scaled to ${p.resize} ` +
    `pixels on its short side and the central ${p.crop}x${p.crop} kept${
      p.crop < 64 ? ", so fine detail is lost" : ""
    }.`,
  ];
  const where = card?.evaluated_on ?? (dataset ? `the ${dataset} test images` : "its test images");
  if (top1 !== null && card?.reported_by) {
    const by = card.reported_by;
    sentences.push(
      `${by[0].toUpperCase()}${by.slice(1)} reports that it names the right class for ${
        asReported(1 - top1)
      } of ${where}` +
        `${top5 !== null && n > 5 ? ` and has it among its top 5 for ${asReported(1 - top5)}` : ""}: ` +
        `${by}'s number, not measured here.`,
    );
  } else if (top1 !== null) {
    sentences.push(
      `It named the right class for ${percent(1 - top1)} of ${where} (top-1 error ${percent(top1)}` +
        `${top5 !== null && n > 5 ? `; the right class was among its top 5 for ${percent(1 - top5)}` : ""}).`,
    );
  } else {
    sentences.push("This checkpoint records no test accuracy.");
  }
  return sentences.join(" ");
}
