// PyTorch interchange. Our parameter layouts are PyTorch's (conv [out][in/groups][kh][kw], linear [out][in]), so
// moving weights is a matter of names: a model's layer list maps one to one onto a torchvision-style module
// with `features` (conv/pool/norm part) and `classifier` (fc part) nn.Sequential lists, and parameter
// "<layer>.weight" becomes "features.N.weight" or "classifier.N.weight" (see docs/torchvision.md).

import { architectureKey, type ModelSpec, type ResolvedLayer, resolveModel } from "../nn/spec.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  checkWeightsFit,
  type Preprocess,
  saveCheckpoint,
} from "./checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { loadModelFile } from "../models/index.ts";
import { readTorchStateDict } from "./pth.ts";
import { readWholeFile } from "./read_file.ts";

/** Where each layer of a spec sits in the torchvision-style module. */
export interface TorchLayer {
  layer: ResolvedLayer;
  /** "features.3", "classifier.6". */
  path: string;
  /** The PyTorch constructor call, e.g. "nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)". */
  module: string;
}

/**
 * The classifier starts at the first fc layer, together with any dropout layers right before it (as in
 * torchvision's AlexNet, whose classifier opens with Dropout); everything earlier is `features`.
 */
export function torchLayout(spec: ModelSpec): TorchLayer[] {
  const layers = resolveModel(spec);
  let split = layers.findIndex((l) => l.spec.type === "fc");
  if (split < 0) split = layers.length;
  while (split > 0 && layers[split - 1].spec.type === "dropout") split--;
  return layers.map((l, i) => ({
    layer: l,
    path: i < split ? `features.${i}` : `classifier.${i - split}`,
    module: torchModule(spec, l),
  }));
}

function torchModule(spec: ModelSpec, l: ResolvedLayer): string {
  const s = l.spec;
  const where = `model ${spec.name}, layer ${l.index + 1} (${s.type})`;
  switch (s.type) {
    case "conv": {
      const args = [`${l.inShape[0]}, ${s.out}, kernel_size=${s.kernel}`];
      if ((s.stride ?? 1) !== 1) args.push(`stride=${s.stride}`);
      if (s.pad) args.push(`padding=${s.pad}`);
      if ((s.groups ?? 1) !== 1) args.push(`groups=${s.groups}`);
      return `nn.Conv2d(${args.join(", ")})`;
    }
    case "fc":
      return `nn.Linear(${l.inShape.reduce((a, b) => a * b, 1)}, ${s.out})`;
    case "relu":
      return "nn.ReLU(inplace=True)";
    case "tanh":
      return "nn.Tanh()";
    case "maxpool":
    case "avgpool": {
      const args = [`kernel_size=${s.size}`, `stride=${s.stride}`];
      if (s.pad) args.push(`padding=${s.pad}`);
      if (s.ceil) args.push("ceil_mode=True");
      // Padded positions never count in our averages (conventions.md).
      if (s.type === "avgpool") args.push("count_include_pad=False");
      return `nn.${s.type === "maxpool" ? "MaxPool2d" : "AvgPool2d"}(${args.join(", ")})`;
    }
    case "lrn":
      // PyTorch divides alpha by the window size; ours is used as given (conventions.md).
      return `nn.LocalResponseNorm(${s.size}, alpha=${
        Number((s.alpha * s.size).toPrecision(12))
      }, beta=${s.beta}, k=${s.k})`;
    case "dropout":
      return `nn.Dropout(p=${s.p})`;
    case "local":
    case "rnorm":
      throw new Error(
        `${where}: PyTorch has no built-in ${
          s.type === "local" ? "locally connected" : "within-map normalisation"
        } module`,
      );
  }
}

/** Python source of an nn.Module equivalent to `spec` whose state_dict names are torchParameterNames(spec). */
export function torchModuleSource(spec: ModelSpec, className = "Net"): string {
  const layout = torchLayout(spec);
  const features = layout.filter((t) => t.path.startsWith("features."));
  const classifier = layout.filter((t) => t.path.startsWith("classifier."));
  const list = (ts: TorchLayer[]) =>
    ts.map((t) =>
      `            ${t.module},  # ${t.path}${
        "name" in t.layer.spec && t.layer.spec.name !== t.path ? ` (${t.layer.spec.name})` : ""
      }`
    )
      .join("\n");
  return [
    "import torch",
    "from torch import nn",
    "",
    "",
    `class ${className}(nn.Module):`,
    `    """${spec.name}: ${spec.description.replaceAll('"""', "'''")}. Input ${
      spec.input.join("x")
    } (NCHW)."""`,
    "",
    "    def __init__(self):",
    "        super().__init__()",
    "        self.features = nn.Sequential(",
    list(features),
    "        )",
    "        self.classifier = nn.Sequential(",
    list(classifier),
    "        )",
    "",
    "    def forward(self, x):",
    "        x = self.features(x)",
    "        x = torch.flatten(x, 1)",
    "        return self.classifier(x)",
    "",
  ].join("\n");
}

/** Our parameter name -> the torchvision-style name ("conv2.weight" -> "features.4.weight"). */
export function torchParameterNames(spec: ModelSpec): Map<string, string> {
  const names = new Map<string, string>();
  for (const t of torchLayout(spec)) {
    for (const p of t.layer.params) names.set(p.name, `${t.path}.${p.kind}`);
  }
  return names;
}

/**
 * A safetensors file PyTorch loads into torchModuleSource(spec)'s module with load_state_dict(strict=True).
 * Metadata records the model name and the name mapping and, when the checkpoint has them, its class names and
 * preprocessing (JSON strings; safetensors' safe_open(...).metadata() reads them, load_state_dict ignores them).
 */
export function exportForTorch(
  ckpt: Pick<Checkpoint, "weights"> & {
    meta: { model: ModelSpec; classes?: string[]; preprocess?: Preprocess };
    mean?: Float32Array;
  },
): Uint8Array {
  const spec = ckpt.meta.model;
  checkWeightsFit(spec, ckpt.weights, `model ${spec.name}`);
  const names = torchParameterNames(spec);
  const tensors = new Map<string, NamedTensor>();
  for (const layer of resolveModel(spec)) {
    for (const p of layer.params) {
      tensors.set(names.get(p.name)!, { shape: p.shape, data: ckpt.weights.get(p.name)! });
    }
  }
  const metadata: Record<string, string> = {
    format: "pt",
    source: "alexnet-webgpu exportForTorch",
    model: spec.name,
    names: JSON.stringify(Object.fromEntries(names)),
  };
  if (ckpt.meta.classes) metadata.classes = JSON.stringify(ckpt.meta.classes);
  const pre = ckpt.meta.preprocess;
  if (pre) {
    // A channel mean is three numbers; a mean image stays in the checkpoint (preprocess.mean).
    const mean = pre.mean === "channel" && ckpt.mean ? { mean_values: Array.from(ckpt.mean) } : {};
    metadata.preprocess = JSON.stringify({ ...pre, ...mean });
  }
  return encodeSafetensors(tensors, metadata);
}

/** How a state_dict file is stored, judged from its first bytes. */
export type StateDictFormat = "safetensors" | "torch.save zip" | "torch.save legacy";

/** null when `head` (a file's first 16 or more bytes) starts like none of the formats a state_dict comes in. */
export function stateDictFormat(head: Uint8Array, size = head.length): StateDictFormat | null {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) {
    return "torch.save zip"; // PK\x03\x04: torch.save's default zip container
  }
  // torch.save's legacy format is a pickle (protocol 2 and later start with 0x80 and the protocol number).
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return "torch.save legacy";
  if (head.length >= 9 && head[8] === 0x7b) {
    const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
    if (n >= 2 && 8 + n <= size) return "safetensors";
  }
  return null;
}

/** A few words on what a file that is not a state_dict looks like, for error messages. */
export function describeContent(head: Uint8Array, size: number): string {
  const starts = (...b: number[]) => b.every((v, i) => head[i] === v);
  if (size === 0) return "an empty file";
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "a PNG image";
  if (starts(0xff, 0xd8, 0xff)) return "a JPEG image";
  if (starts(0x1f, 0x8b)) return "gzip data";
  if (head.length >= 8 && head[8] === 0x7b) {
    return "a truncated safetensors file (its header runs past the end)";
  }
  const text = head.subarray(0, Math.min(head.length, 64));
  if (text.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) {
    return text[0] === 0x7b || text[0] === 0x5b ? "JSON text" : "text";
  }
  return `${size} bytes of unknown binary data`;
}

export const STATE_DICT_EXPECTED =
  "expected a PyTorch state_dict: a .safetensors file (safetensors.torch.save_file(model.state_dict(), path)) " +
  "or a torch.save(model.state_dict(), path) .pt/.pth file";

export interface StateDict {
  tensors: Map<string, NamedTensor>;
  format: StateDictFormat;
  metadata: Record<string, string>;
  /** What the conversion did beyond reading: unwrapped a checkpoint dict, removed "module.". */
  notes: string[];
}

/**
 * Reads a state_dict from a safetensors file or a torch.save() file (.pt/.pth, zip or legacy format:
 * src/io/pth.ts, no Python). The format is recognised from the content, not the name. Errors name the file and
 * say what was expected; an alexnet-webgpu checkpoint is refused as such.
 */
export async function readStateDict(path: string): Promise<StateDict> {
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new Error(`${path}: cannot read weights (${why})`);
  }
  const head = bytes.subarray(0, 64), size = bytes.length;
  const format = stateDictFormat(head, size);
  if (!format) {
    throw new Error(
      `${path}: not a PyTorch state_dict (${describeContent(head, size)}); ${STATE_DICT_EXPECTED}`,
    );
  }
  if (format === "safetensors") {
    const file = decodeSafetensors(bytes, path);
    if (file.metadata.format === CHECKPOINT_FORMAT) {
      let model = "";
      try {
        model = ` (model ${(JSON.parse(file.metadata.meta) as { model: ModelSpec }).model.name})`;
      } catch { /* the name is only for the message */ }
      throw new Error(
        `${path}: already an alexnet-webgpu checkpoint${model}, not a PyTorch state_dict: ` +
          "`deno task classify --model` and `deno task evaluate --checkpoint` take it as it is; " +
          "`deno task model export` turns it into a state_dict for PyTorch",
      );
    }
    return { tensors: file.tensors, format, metadata: file.metadata, notes: [] };
  }
  const sd = await readTorchStateDict(bytes, path);
  return { tensors: sd.tensors, format, metadata: {}, notes: sd.notes };
}

/**
 * Reads torchvision-style weights (a state_dict as safetensors or torch.save() file, e.g. torchvision's alexnet)
 * for `spec` (default models/torchvision-alexnet.json) and returns them under our parameter names. Errors name
 * the file and the tensor.
 */
export async function importTorchvisionWeights(
  path: string,
  spec?: ModelSpec,
): Promise<
  { spec: ModelSpec; weights: Map<string, Float32Array>; notes: string[]; format: StateDictFormat }
> {
  spec ??= await loadModelFile(TORCHVISION_ALEXNET_FILE);
  const sd = await readStateDict(path);
  return { spec, weights: weightsFromTorch(sd.tensors, spec, path), notes: sd.notes, format: sd.format };
}

/** The tensors of a torchvision-style state_dict under our names, shape-checked against `spec`. */
export function weightsFromTorch(
  tensors: Map<string, NamedTensor>,
  spec: ModelSpec,
  source: string,
): Map<string, Float32Array> {
  const names = torchParameterNames(spec);
  const shapes = new Map<string, number[]>();
  for (const l of resolveModel(spec)) for (const p of l.params) shapes.set(p.name, p.shape);
  const expected = new Set(names.values());
  if (![...tensors.keys()].some((k) => expected.has(k))) {
    const list = (xs: string[]) =>
      xs.slice(0, 4).map((x) => `"${x}"`).join(", ") + (xs.length > 4 ? ", ..." : "");
    throw new Error(
      `${source}: not a state_dict of model ${spec.name}: it has none of its ${expected.size} tensors (${
        list([...expected])
      }); the file holds ${tensors.size ? list([...tensors.keys()]) : "no tensors"} (another architecture?)`,
    );
  }
  const weights = new Map<string, Float32Array>();
  for (const [ours, theirs] of names) {
    const t = tensors.get(theirs);
    const shape = shapes.get(ours)!;
    if (!t) {
      throw new Error(`${source}: "${theirs}" (${ours} of model ${spec.name}, shape [${shape}]) is missing`);
    }
    if (t.shape.join("x") !== shape.join("x")) {
      throw new Error(
        `${source}: "${theirs}" has shape [${t.shape}], model ${spec.name} expects [${shape}] for ${ours}`,
      );
    }
    weights.set(ours, t.data);
  }
  // BatchNorm buffers and the like would mean a different architecture: refuse rather than drop them.
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new Error(`${source}: "${name}" is not a parameter of model ${spec.name}`);
  }
  return weights;
}

export const TORCHVISION_ALEXNET_FILE = decodeURIComponent(
  new URL("../../models/torchvision-alexnet.json", import.meta.url).pathname,
);

/** The 1000 ImageNet class names in torchvision's index order (with their source). */
export const IMAGENET_CLASSES_FILE = decodeURIComponent(
  new URL("../../models/imagenet-classes.json", import.meta.url).pathname,
);

/**
 * torchvision's ImageNet preprocessing in our terms: resize 256, centre crop 224, per-channel mean
 * (0.485, 0.456, 0.406) x 255 subtracted from 0-255 pixels, x 1/255, / per-channel std (0.229, 0.224, 0.225):
 * ToTensor then Normalize(mean, std).
 */
export const TORCHVISION_PREPROCESS: { preprocess: Preprocess; mean: Float32Array } = {
  preprocess: {
    resize: 256,
    crop: 224,
    scale: 1 / 255,
    mean: "channel",
    channels: 3,
    std: [0.229, 0.224, 0.225],
  },
  mean: Float32Array.from([0.485, 0.456, 0.406], (m) => m * 255),
};

/**
 * TORCHVISION_PREPROCESS for a model's input side: crop = the side, resize = side x 256/224 rounded (256 for
 * 224). torchvision's normalisation is for RGB: other channel counts are refused.
 */
export function torchvisionPreprocess(spec: ModelSpec): Preprocess {
  const [c, h, w] = spec.input;
  if (c !== 3 || h !== w) {
    throw new Error(
      `model ${spec.name} takes ${
        spec.input.join("x")
      } input; torchvision's preprocessing (ImageNet mean and ` +
        `std) is for square RGB (3-channel) input`,
    );
  }
  const resize = h === 224 ? 256 : Math.round((h * 256) / 224);
  const { std } = TORCHVISION_PREPROCESS.preprocess;
  return { ...TORCHVISION_PREPROCESS.preprocess, crop: h, resize, std: [...std!] };
}

/**
 * Class names from a file: JSON (an array of names, or an object with a "classes" array, as
 * models/imagenet-classes.json) or text with one name per line (blank lines skipped). Errors name the file.
 */
export async function loadClassNames(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new Error(`${path}: cannot read class names (${why})`);
  }
  const expected = 'expected a JSON array of names, a JSON object with a "classes" array, or one name a line';
  if (/\.json$/i.test(path) || /^\s*[[{]/.test(text)) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: class names are not valid JSON (${(e as Error).message}); ${expected}`);
    }
    const list = Array.isArray(doc) ? doc : (doc as { classes?: unknown })?.classes;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
      throw new Error(`${path}: no list of class names; ${expected}`);
    }
    return list;
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
}

export interface TorchvisionImport {
  /** The architecture the state_dict is for; default models/torchvision-alexnet.json. */
  spec?: ModelSpec;
  /** Class names in output order; default the ImageNet names for a 1000-class model. */
  classes?: string[];
  /** Where the class names came from, for messages. */
  classesSource?: string;
  /** Provenance fields added to (or replacing) the importer's own, e.g. the URL a fetch downloaded. */
  provenance?: Record<string, unknown>;
}

/**
 * A classify- and evaluate-ready checkpoint from a torchvision-style state_dict (safetensors or torch.save()):
 * the weights under our names, the class names, torchvision's preprocessing, provenance naming the file.
 */
export async function torchvisionCheckpoint(path: string, o: TorchvisionImport = {}): Promise<Checkpoint> {
  const { spec, weights, notes, format } = await importTorchvisionWeights(path, o.spec);
  let classes = o.classes, classesSource = o.classesSource ?? "the class names given";
  if (!classes) {
    if (spec.classes !== 1000) {
      throw new Error(
        `model ${spec.name} has ${spec.classes} outputs: name its classes (a file with one name a line, ` +
          `--classes FILE); only 1000-output models get the ImageNet names by default`,
      );
    }
    classes = await loadClassNames(IMAGENET_CLASSES_FILE);
    classesSource = IMAGENET_CLASSES_FILE;
  }
  if (classes.length !== spec.classes) {
    throw new Error(
      `${classesSource}: ${classes.length} class names for the ${spec.classes} outputs of model ${spec.name}`,
    );
  }
  const torchvision = await loadModelFile(TORCHVISION_ALEXNET_FILE);
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      model: spec,
      classes,
      step: 0,
      epoch: 0,
      seed: 0,
      preprocess: torchvisionPreprocess(spec),
      provenance: {
        source: path,
        sourceFormat: format,
        converted: "deno task model import --from torchvision",
        ...(architectureKey(spec) === architectureKey(torchvision)
          ? { architecture: "torchvision alexnet" }
          : {}),
        ...(notes.length ? { notes } : {}),
        ...o.provenance,
      },
    },
    weights,
    mean: TORCHVISION_PREPROCESS.mean,
  };
}

/**
 * Converts a torchvision-style state_dict file (e.g. torchvision's downloaded alexnet-owt-7be5be79.pth, or a
 * .safetensors one) into a checkpoint written at `target` (atomically), and returns it. No Python is run.
 * Refuses to replace an existing `target` unless `overwrite`. Errors name the file and what is wrong.
 */
export async function importTorchvisionFile(
  source: string,
  target: string,
  o: TorchvisionImport & { overwrite?: boolean } = {},
): Promise<Checkpoint> {
  if (!o.overwrite) {
    const exists = await Deno.lstat(target).then(() => true, (e) => {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    });
    if (exists) throw new Error(`${target} exists already`);
  }
  const ckpt = await torchvisionCheckpoint(source, o);
  await saveCheckpoint(target, ckpt);
  return ckpt;
}
