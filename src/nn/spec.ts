// Models as data: a layer list that both executors (GPU and CPU reference) interpret, with shape inference,
// parameter shapes and counts. Layouts follow docs/conventions.md.

import { convOutSize } from "../math/window.ts";
import { CONV_ALGORITHMS, type ConvAlgorithm } from "./ops/conv_geometry.ts";

/** How a layer's parameters start. */
export interface InitSpec {
  /** Weights ~ N(0, std^2). */
  std: number;
  /** Constant bias (the paper uses 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere). */
  bias?: number;
}

/** Per-layer learning-rate and weight-decay multipliers (cuda-convnet's epsW/epsB/wc). */
export interface LearnSpec {
  /** Learning-rate multiplier of the weights (default 1). */
  lrW?: number;
  /** Learning-rate multiplier of the biases (default 1). */
  lrB?: number;
  /** Weight-decay multiplier of the weights (default 1). */
  wdW?: number;
  /** Weight-decay multiplier of the biases (default 0). */
  wdB?: number;
}

/**
 * One layer of a model: conv, local (unshared conv), fc, relu or tanh, maxpool or avgpool, lrn (cross-map) or
 * rnorm (within-map) normalisation, or dropout.
 */
export type LayerSpec =
  | {
    type: "conv";
    name: string;
    out: number;
    kernel: number;
    stride?: number;
    pad?: number;
    groups?: number;
    /** How the GPU computes it: "auto" (default) is Winograd for stride-1 3x3/5x5 layers with enough channels. */
    algorithm?: ConvAlgorithm;
    init?: InitSpec;
    learn?: LearnSpec;
  }
  | {
    type: "local";
    name: string;
    out: number;
    kernel: number;
    stride?: number;
    pad?: number;
    init?: InitSpec;
    learn?: LearnSpec;
  }
  | { type: "fc"; name: string; out: number; init?: InitSpec; learn?: LearnSpec }
  | { type: "relu" | "tanh" }
  | { type: "maxpool" | "avgpool"; size: number; stride: number; pad?: number; ceil?: boolean }
  | { type: "lrn" | "rnorm"; size: number; alpha: number; beta: number; k: number }
  | { type: "dropout"; p: number };

/** A whole model as data (the models/*.json format): Network runs it on the GPU, cpuForward on the CPU. */
export interface ModelSpec {
  /** Identifier, used in errors and checkpoints. */
  name: string;
  /** One line on what the model is. */
  description: string;
  /** [channels, height, width] of one input image. */
  input: [number, number, number];
  /** Number of classes: the last layer must output this many. */
  classes: number;
  /** The layers in order, from the input image to the logits. */
  layers: LayerSpec[];
}

/** A per-image shape, without the batch dimension: [C, H, W], or [F] from the first fc layer on. */
export type Shape = number[];

/** One parameter of a resolved layer. */
export interface ParamInfo {
  /** "<layer>.weight" or "<layer>.bias" */
  name: string;
  /** Name of the layer it belongs to. */
  layer: string;
  /** Whether it is the layer's weight or its bias. */
  kind: "weight" | "bias";
  /** Logical shape (PyTorch layouts for conv and fc). */
  shape: number[];
  /** Initial value: a constant, or the std of a zero-mean Gaussian. */
  init: number | { std: number };
  /** Learning-rate multiplier (LearnSpec's lrW or lrB). */
  lrMult: number;
  /** Weight-decay multiplier (LearnSpec's wdW or wdB). */
  wdMult: number;
}

/** One layer after resolveModel: the spec with its index, shapes and parameters. */
export interface ResolvedLayer {
  /** Position in ModelSpec.layers, from 0. */
  index: number;
  /** The layer as written. */
  spec: LayerSpec;
  /** Shape of its input, without the batch. */
  inShape: Shape;
  /** Shape of its output, without the batch. */
  outShape: Shape;
  /** Weight then bias for conv, local and fc layers; empty for the others. */
  params: ParamInfo[];
  /** Multiply-accumulates per image (conv/local/fc), for GFLOP/s reports. */
  macs: number;
}

const KNOWN_KEYS: Record<LayerSpec["type"], string[]> = {
  conv: ["type", "name", "out", "kernel", "stride", "pad", "groups", "algorithm", "init", "learn"],
  local: ["type", "name", "out", "kernel", "stride", "pad", "init", "learn"],
  fc: ["type", "name", "out", "init", "learn"],
  relu: ["type"],
  tanh: ["type"],
  maxpool: ["type", "size", "stride", "pad", "ceil"],
  avgpool: ["type", "size", "stride", "pad", "ceil"],
  lrn: ["type", "size", "alpha", "beta", "k"],
  rnorm: ["type", "size", "alpha", "beta", "k"],
  dropout: ["type", "p"],
};

function weightParams(
  layer: string,
  shape: number[],
  bshape: number[],
  init: InitSpec | undefined,
  learn?: LearnSpec,
) {
  const w: ParamInfo = {
    name: `${layer}.weight`,
    layer,
    kind: "weight",
    shape,
    init: { std: init?.std ?? 0.01 },
    lrMult: learn?.lrW ?? 1,
    wdMult: learn?.wdW ?? 1,
  };
  const b: ParamInfo = {
    name: `${layer}.bias`,
    layer,
    kind: "bias",
    shape: bshape,
    init: init?.bias ?? 0,
    lrMult: learn?.lrB ?? 1,
    // The paper decays weights only in effect (biases are few); cuda-convnet's wc applies to weights.
    wdMult: learn?.wdB ?? 0,
  };
  return [w, b];
}

/** Validates a spec and infers every layer's shapes; errors name the layer and field. */
export function resolveModel(spec: ModelSpec): ResolvedLayer[] {
  if (!Array.isArray(spec.input) || spec.input.length !== 3) {
    throw new Error(`model ${spec.name}: input must be [channels, height, width]`);
  }
  let shape: Shape = [...spec.input];
  const names = new Set<string>();
  const out: ResolvedLayer[] = [];
  spec.layers.forEach((layer, index) => {
    const where = `model ${spec.name}, layer ${index + 1} (${layer.type})`;
    const keys = KNOWN_KEYS[layer.type];
    if (!keys) throw new Error(`${where}: unknown layer type; known: ${Object.keys(KNOWN_KEYS).join(", ")}`);
    for (const key of Object.keys(layer)) {
      if (!keys.includes(key)) {
        throw new Error(`${where}: unknown field "${key}"; allowed: ${keys.join(", ")}`);
      }
    }
    const inShape = shape;
    let params: ParamInfo[] = [];
    let macs = 0;
    if ("name" in layer) {
      if (names.has(layer.name)) throw new Error(`${where}: duplicate layer name "${layer.name}"`);
      names.add(layer.name);
    }
    switch (layer.type) {
      case "conv":
      case "local": {
        if (shape.length !== 3) throw new Error(`${where}: needs a [C, H, W] input, got [${shape}]`);
        const [c, h, w] = shape;
        const groups = layer.type === "conv" ? layer.groups ?? 1 : 1;
        if (c % groups || layer.out % groups) {
          throw new Error(`${where}: channels ${c} -> ${layer.out} not divisible by groups ${groups}`);
        }
        const stride = layer.stride ?? 1, pad = layer.pad ?? 0;
        const algorithm = layer.type === "conv" ? layer.algorithm ?? "auto" : "auto";
        if (!(CONV_ALGORITHMS as readonly string[]).includes(algorithm)) {
          throw new Error(`${where}: algorithm "${algorithm}" is not one of ${CONV_ALGORITHMS.join(", ")}`);
        }
        const oh = convOutSize(h, layer.kernel, stride, pad), ow = convOutSize(w, layer.kernel, stride, pad);
        const k = (c / groups) * layer.kernel * layer.kernel;
        shape = [layer.out, oh, ow];
        if (layer.type === "conv") {
          params = weightParams(
            layer.name,
            [layer.out, c / groups, layer.kernel, layer.kernel],
            [layer.out],
            layer.init,
            layer.learn,
          );
        } else {
          params = weightParams(
            layer.name,
            [oh * ow, layer.out, k],
            [layer.out, oh, ow],
            layer.init,
            layer.learn,
          );
        }
        macs = layer.out * oh * ow * k;
        break;
      }
      case "fc": {
        const inF = shape.reduce((a, b) => a * b, 1);
        shape = [layer.out];
        params = weightParams(layer.name, [layer.out, inF], [layer.out], layer.init, layer.learn);
        macs = inF * layer.out;
        break;
      }
      case "maxpool":
      case "avgpool": {
        if (shape.length !== 3) throw new Error(`${where}: needs a [C, H, W] input`);
        if ((layer.pad ?? 0) >= layer.size) throw new Error(`${where}: pad must be smaller than size`);
        const [c, h, w] = shape;
        shape = [
          c,
          convOutSize(h, layer.size, layer.stride, layer.pad ?? 0, layer.ceil),
          convOutSize(w, layer.size, layer.stride, layer.pad ?? 0, layer.ceil),
        ];
        break;
      }
      case "lrn":
      case "rnorm":
        if (shape.length !== 3) throw new Error(`${where}: needs a [C, H, W] input`);
        break;
      case "dropout":
        if (!(layer.p >= 0 && layer.p < 1)) throw new Error(`${where}: p must be in [0, 1)`);
        break;
    }
    out.push({ index, spec: layer, inShape, outShape: shape, params, macs });
  });
  const last = out[out.length - 1];
  if (!last || last.outShape.length !== 1 || last.outShape[0] !== spec.classes) {
    throw new Error(
      `model ${spec.name}: the last layer must output ${spec.classes} classes, got [${last?.outShape}]`,
    );
  }
  return out;
}

/** Total number of parameters, weights and biases; throws as resolveModel does on an invalid spec. */
export function parameterCount(spec: ModelSpec): number {
  let total = 0;
  for (const layer of resolveModel(spec)) {
    for (const p of layer.params) total += p.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** Multiply-accumulates of one image's forward pass (conv, local and fc layers). */
export function macsPerImage(spec: ModelSpec): number {
  return resolveModel(spec).reduce((a, l) => a + l.macs, 0);
}

/** A stable fingerprint of the architecture (layer types, shapes, parameter names): checkpoints carry it. */
export function architectureKey(spec: ModelSpec): string {
  return resolveModel(spec)
    .map((l) =>
      `${l.spec.type}:${l.outShape.join("x")}:${
        l.params.map((p) => `${p.name}=${p.shape.join("x")}`).join(",")
      }`
    )
    .join("|");
}
