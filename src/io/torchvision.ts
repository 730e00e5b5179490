// PyTorch interchange. Our parameter layouts are PyTorch's (conv [out][in/groups][kh][kw], linear [out][in]), so
// moving weights is a matter of names: a model's layer list maps one to one onto a torchvision-style module
// with `features` (conv/pool/norm part) and `classifier` (fc part) nn.Sequential lists, and parameter
// "<layer>.weight" becomes "features.N.weight" or "classifier.N.weight" (see docs/torchvision.md).

import { type ModelSpec, type ResolvedLayer, resolveModel } from "../nn/spec.ts";
import { type Checkpoint, CHECKPOINT_FORMAT, checkWeightsFit, type Preprocess } from "./checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { loadModelFile } from "../models/index.ts";

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
 * Metadata records the model name and the name mapping.
 */
export function exportForTorch(
  ckpt: Pick<Checkpoint, "weights"> & { meta: { model: ModelSpec } },
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
  return encodeSafetensors(tensors, {
    format: "pt",
    source: "alexnet-webgpu exportForTorch",
    model: spec.name,
    names: JSON.stringify(Object.fromEntries(names)),
  });
}

/**
 * Reads torchvision-style weights (a safetensors file of an nn.Module's state_dict, e.g. torchvision's
 * alexnet converted with safetensors.torch.save_file) for `spec` (default models/torchvision-alexnet.json) and
 * returns them under our parameter names. Errors name the file and the tensor.
 */
export async function importTorchvisionWeights(
  path: string,
  spec?: ModelSpec,
): Promise<{ spec: ModelSpec; weights: Map<string, Float32Array> }> {
  spec ??= await loadModelFile(TORCHVISION_ALEXNET_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read weights (${(e as Error).message})`);
  }
  return { spec, weights: weightsFromTorch(decodeSafetensors(bytes, path).tensors, spec, path) };
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
  const expected = new Set(names.values());
  // BatchNorm buffers and the like would mean a different architecture: refuse rather than drop them.
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new Error(`${source}: "${name}" is not a parameter of model ${spec.name}`);
  }
  return weights;
}

export const TORCHVISION_ALEXNET_FILE = decodeURIComponent(
  new URL("../../models/torchvision-alexnet.json", import.meta.url).pathname,
);

/**
 * torchvision's ImageNet preprocessing in our terms: resize 256, centre crop 224, per-channel mean
 * (0.485, 0.456, 0.406) x 255. torchvision then divides each channel by its own std (0.229, 0.224, 0.225); a
 * checkpoint has one scale, so 1/(255 x 0.226) is used: within 1.4% of each channel's own scale.
 */
export const TORCHVISION_PREPROCESS: { preprocess: Preprocess; mean: Float32Array } = {
  preprocess: { resize: 256, crop: 224, scale: 1 / (255 * 0.226), mean: "channel", channels: 3 },
  mean: Float32Array.from([0.485, 0.456, 0.406], (m) => m * 255),
};

/** A classify-ready checkpoint from torchvision weights (`classes`: the 1000 ImageNet names, in index order). */
export async function torchvisionCheckpoint(path: string, classes: string[]): Promise<Checkpoint> {
  const { spec, weights } = await importTorchvisionWeights(path);
  if (classes.length !== spec.classes) {
    throw new Error(`torchvisionCheckpoint: ${classes.length} class names for ${spec.classes} outputs`);
  }
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      model: spec,
      classes,
      step: 0,
      epoch: 0,
      seed: 0,
      preprocess: TORCHVISION_PREPROCESS.preprocess,
      provenance: { source: path, converted: "importTorchvisionWeights" },
    },
    weights,
    mean: TORCHVISION_PREPROCESS.mean,
  };
}
