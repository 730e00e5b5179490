// What a model knows, in plain words for the page: its classes, what it sees, how often it was right on its
// test set. From the checkpoint's own metadata and, when there is one, its model card (the JSON file beside
// it, as models/default-cifar10.json is beside models/default-cifar10.safetensors). No Deno APIs: the
// browser bundle uses it.

import type { CheckpointMeta } from "../io/checkpoint.ts";

/** The fields of a model card the page uses (models/default-cifar10.json has them all). */
export interface ModelCard {
  classes?: string[];
  test_top1_error?: number;
  test_top5_error?: number;
  /** The data and how much of it, in words. */
  scale?: string;
  /** Size of the checkpoint the card describes, to notice a card left beside another file. */
  bytes?: number;
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
  if (typeof v.scale === "string") card.scale = v.scale;
  return card.classes || card.test_top1_error !== undefined ? card : null;
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
    `This model knows ${n} classes: ${list(classes)}.`,
    `It always answers with one of them, so a photo of anything else still comes out as one of these ${n}.`,
    `It sees ${w}x${h} ${channels === 1 ? "grey" : "colour"} pixels: each image is scaled to ${p.resize} ` +
    `pixels on its short side and the central ${p.crop}x${p.crop} kept${
      p.crop < 64 ? ", so fine detail is lost" : ""
    }.`,
  ];
  if (top1 !== null) {
    const where = dataset ? `the ${dataset} test images` : "its test images";
    sentences.push(
      `It named the right class for ${percent(1 - top1)} of ${where} (top-1 error ${percent(top1)}` +
        `${top5 !== null && n > 5 ? `; the right class was among its top 5 for ${percent(1 - top5)}` : ""}).`,
    );
  } else {
    sentences.push("This checkpoint records no test accuracy.");
  }
  return sentences.join(" ");
}
