// deno task classify <images or folders...>: top-K classes of each image under a trained checkpoint, on the
// project's WGSL kernels (Deno's WebGPU). Bad inputs are reported and skipped; see USAGE for exit statuses.

import { UsageError } from "../util/args.ts";
import { Gpu } from "../gpu/runtime.ts";
import { formatAdapter } from "../gpu/device.ts";
import { decodeImage } from "../data/image_decode.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import { Classifier, type Prediction, topK } from "../classify/classifier.ts";
import { storedPixels } from "../classify/preprocess.ts";
import { DEFAULT_MODEL, defaultModelPath, expandInputs, readCheckpointFile } from "../classify/files.ts";
import { describeCheckpoint } from "../classify/checkpoint.ts";
import { resolveModelArgument } from "../classify/model_name.ts";

export const USAGE = `Usage: deno task classify <image or folder>... [options]

Classifies JPEG and PNG images (any size; grey, alpha and 16-bit included) with a trained checkpoint and
prints each image's most probable classes. Preprocessing follows the checkpoint: short side resized, centre
crop (placed as torchvision's CenterCrop places it), its mean and scale; RGB is turned into grey for grey
models. Folders are searched recursively for .jpg, .jpeg and .png files (symlinks followed, each real file
once). Runs on WebGPU (the project's WGSL kernels), batching images on the GPU.

Options:
  --model FILE   checkpoint (.safetensors written by training), or the name of a fetched model
                 (deno task model list); default ${DEFAULT_MODEL}
  --top K        classes to print per image (default 5)
  --json         one JSON object per line per input image, in input order:
                   {"file", "width", "height", "views", "top": [{"rank", "class", "index", "probability"}]}
                 or {"file", "error"} for an image that could not be classified
  --logits       print the network's raw outputs (before the softmax) for every class, in class order; with
                 --json they are added as "logits": [...] (not with --ten-crop: ten views, ten sets)
  --ten-crop     the paper's test-time averaging: softmax over the four corner and centre crops and their
                 mirrors, averaged
  --batch N      images per GPU batch (default 16, or 4 with --ten-crop)
  -h, --help     this text

Problems with single inputs (missing file, not an image, truncated or corrupt file, folder without images)
are reported on stderr, naming the file, and the other images are still classified.

Exit status: 0 when at least one image was classified; 1 when none could be (every input bad, or the
checkpoint missing, unreadable, not a checkpoint or not matching its model, or no WebGPU); 2 for a usage
error.`;

export interface ClassifyOptions {
  inputs: string[];
  model: string | null;
  top: number;
  json: boolean;
  tenCrop: boolean;
  logits: boolean;
  batch: number | null;
  help: boolean;
}

function positiveInt(flag: string, value: string | undefined): number {
  if (value === undefined) throw new UsageError(`${flag} needs a value`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  }
  return n;
}

export function parseClassifyArgs(args: string[]): ClassifyOptions {
  const o: ClassifyOptions = {
    inputs: [],
    model: null,
    top: 5,
    json: false,
    tenCrop: false,
    logits: false,
    batch: null,
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const [flag, inline] = arg.startsWith("--") && eq > 0
      ? [arg.slice(0, eq), arg.slice(eq + 1)]
      : [arg, null];
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--json":
        o.json = true;
        break;
      case "--ten-crop":
        o.tenCrop = true;
        break;
      case "--logits":
        o.logits = true;
        break;
      case "--top":
        o.top = positiveInt("--top", value());
        break;
      case "--batch":
        o.batch = positiveInt("--batch", value());
        break;
      case "--model": {
        const v = value();
        if (!v) throw new UsageError("--model needs a checkpoint file or a model name");
        o.model = v;
        break;
      }
      case "--":
        o.inputs.push(...args.slice(i + 1));
        i = args.length;
        break;
      default:
        if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
        o.inputs.push(arg);
    }
  }
  if (o.logits && o.tenCrop) {
    throw new UsageError("--logits prints one view's raw outputs; it cannot be combined with --ten-crop");
  }
  return o;
}

export interface ClassifyIo {
  out(line: string): void;
  err(line: string): void;
  /** Supplies the GPU (tests share one); default Gpu.create(). */
  gpu?: () => Promise<Gpu>;
}

const consoleIo: ClassifyIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

export interface ImageResult {
  file: string;
  width: number;
  height: number;
  views: number;
  top: Prediction[];
  /** --logits: the network's outputs for each class, in class order. */
  logits?: Float32Array;
}

export function jsonLine(r: ImageResult): string {
  return JSON.stringify({
    file: r.file,
    width: r.width,
    height: r.height,
    views: r.views,
    top: r.top.map((p) => ({ rank: p.rank, class: p.label, index: p.index, probability: p.probability })),
    ...(r.logits ? { logits: Array.from(r.logits) } : {}),
  });
}

/** --logits as text: the file, then one line per class in class order with its raw output. */
export function logitsBlock(r: ImageResult, classes: readonly string[]): string {
  const logits = r.logits!;
  const names = Array.from(logits, (_, k) => classes[k] ?? `class ${k}`);
  const width = Math.max(...names.map((n) => n.length));
  const digits = String(logits.length - 1).length;
  const lines = names.map((n, k) =>
    `  ${String(k).padStart(digits)}. ${n.padEnd(width)}  ${logits[k].toFixed(6)}`
  );
  return [`${r.file} (${r.width}x${r.height}, logits)`, ...lines].join("\n");
}

export function textBlock(r: ImageResult): string {
  const width = Math.max(...r.top.map((p) => p.label.length));
  const lines = r.top.map((p) =>
    `  ${String(p.rank).padStart(2)}. ${p.label.padEnd(width)}  ${
      (100 * p.probability).toFixed(2).padStart(6)
    }%`
  );
  return [`${r.file} (${r.width}x${r.height}${r.views > 1 ? `, ${r.views} views` : ""})`, ...lines].join(
    "\n",
  );
}

/** Runs the command; returns the exit status. */
export async function main(args: string[], io: ClassifyIo = consoleIo): Promise<number> {
  let o: ClassifyOptions;
  try {
    o = parseClassifyArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`classify: ${e.message} (see --help)`);
    return 2;
  }
  if (o.help) {
    io.out(USAGE);
    return 0;
  }
  if (o.inputs.length === 0) {
    io.err("classify: no images or folders given (see --help)");
    return 2;
  }

  let modelPath = o.model ?? defaultModelPath();
  let ckpt: Checkpoint;
  try {
    if (o.model !== null) modelPath = await resolveModelArgument(o.model);
    ckpt = await readCheckpointFile(modelPath);
  } catch (e) {
    io.err(`classify: cannot use the model: ${(e as Error).message}`);
    if (o.model === null) {
      io.err(`classify: train a model into ${DEFAULT_MODEL} or pass --model <checkpoint>`);
    }
    return 1;
  }

  const items = await expandInputs(o.inputs);
  // Output in input order: slot i holds image i's stdout text once known (null: nothing to print).
  const slots: (string | null | undefined)[] = new Array(items.length).fill(undefined);
  let printed = 0, classified = 0, failed = 0;
  const emit = (i: number, text: string | null) => {
    slots[i] = text;
    while (printed < slots.length && slots[printed] !== undefined) {
      const t = slots[printed++];
      if (t !== null) io.out(t!);
    }
  };
  const fail = (i: number, message: string) => {
    failed++;
    io.err(`classify: ${message}`);
    emit(i, o.json ? JSON.stringify({ file: items[i].path, error: message }) : null);
  };
  items.forEach((item, i) => {
    if ("error" in item) fail(i, item.error);
  });
  if (items.every((item) => "error" in item)) {
    io.err("classify: nothing to classify");
    return 1;
  }

  let classifier: Classifier;
  try {
    const gpu = await (io.gpu ?? Gpu.create)();
    classifier = new Classifier(gpu, ckpt);
  } catch (e) {
    io.err(`classify: cannot start WebGPU inference: ${(e as Error).message}`);
    return 1;
  }
  if (!o.json) io.err(`classify: ${modelPath}: ${describeCheckpoint(ckpt.meta)}`);
  if (!o.json) io.err(`classify: on ${formatAdapter(classifier.gpu.adapter)}`);

  const pre = ckpt.meta.preprocess;
  const batchSize = o.batch ?? (o.tenCrop ? 4 : 16);
  const views = o.tenCrop ? 10 : 1;
  type Decoded = { slot: number; file: string; width: number; height: number; px: Uint8Array };
  type Outputs = { probs: Float32Array; logits: Float32Array[] }[];
  const start = (batch: Decoded[]): { batch: Decoded[]; probs: Promise<Outputs> } => {
    let probs: Promise<Outputs>;
    try {
      const px = batch.map((b) => b.px);
      probs = o.logits
        ? classifier.runWithLogits(px, o.tenCrop)
        : classifier.run(px, o.tenCrop).then((p) => p.map((probs) => ({ probs, logits: [] })));
    } catch (e) {
      probs = Promise.reject(e);
    }
    // Handled in finish(), which runs only after the next batch is decoded: not an unhandled rejection.
    probs.catch(() => {});
    return { batch, probs };
  };
  const finish = async (p: { batch: Decoded[]; probs: Promise<Outputs> }) => {
    let probs: Outputs;
    try {
      probs = await p.probs;
    } catch (e) {
      for (const b of p.batch) fail(b.slot, `${b.file}: GPU inference failed: ${(e as Error).message}`);
      return;
    }
    p.batch.forEach(({ slot, file, width, height }, k) => {
      const r: ImageResult = {
        file,
        width,
        height,
        views,
        top: topK(probs[k].probs, ckpt.meta.classes, o.top),
        ...(o.logits ? { logits: probs[k].logits[0] } : {}),
      };
      classified++;
      emit(slot, o.json ? jsonLine(r) : o.logits ? logitsBlock(r, ckpt.meta.classes) : textBlock(r));
    });
  };
  // The batch in flight on the GPU is awaited only after the next one is decoded (CPU work), so both overlap.
  let inFlight: ReturnType<typeof start> | null = null;
  let batch: Decoded[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const last = i === items.length - 1;
    if (!("error" in item)) {
      try {
        const img = await decodeImage(item.path);
        const px = storedPixels(img, pre);
        batch.push({ slot: i, file: item.path, width: img.width, height: img.height, px });
      } catch (e) {
        fail(i, (e as Error).message);
      }
    }
    if (batch.length >= batchSize || (last && batch.length > 0)) {
      if (inFlight) await finish(inFlight);
      inFlight = start(batch);
      batch = [];
    }
  }
  if (inFlight) await finish(inFlight);
  classifier.dispose();

  if (failed > 0) io.err(`classify: classified ${classified} of ${classified + failed} inputs`);
  return classified > 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
