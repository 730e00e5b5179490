// The model zoo by name: each entry builds a ModelSpec (pure data) from ablation switches.
// `deno task model <name>` prints a model's layers and parameter count.

import type { ModelSpec } from "../nn/spec.ts";
import { alexnet } from "./alexnet.ts";
import { alexnetMini } from "./alexnet_mini.ts";
import { cifar18pct, cifarAlexnet, convLocal11, convLocal13, fig1FourLayer } from "./cifar.ts";

/** Sizes and ablation switches of zoo models; each model ignores those it lacks and has its own defaults. */
export interface ModelOptions {
  /** Number of output classes (default: that of the model's dataset). */
  classes?: number;
  /** Side of the square input in pixels (alexnet and alexnet-one-tower: 224, or else 227). */
  inputSize?: number;
  /** Input channels (cifar-alexnet only; default 3). */
  channels?: number;
  /** Include local response normalisation (section 3.3's ablation). */
  lrn?: boolean;
  /** "overlap": 3x3 max pools at stride 2 (the paper's); "non-overlap": 2x2 at stride 2 (section 3.4). */
  pooling?: "overlap" | "non-overlap";
  /** ReLU (default) or tanh units (section 3.1's comparison). */
  activation?: "relu" | "tanh";
  /** Dropout in the fully connected layers (section 4.2). */
  dropout?: boolean;
  /** Removes a middle conv layer (section 4's depth claim). */
  shallower?: boolean;
}

/** One model of the zoo. */
export interface ModelEntry {
  /** One line on the model, for listings. */
  description: string;
  /** Builds the model's spec with these options. */
  build(o?: ModelOptions): ModelSpec;
}

/** The model zoo by name; buildModel and `deno task model` look names up here. */
export const MODELS: Record<string, ModelEntry> = {
  "alexnet": {
    description: "the paper's two-tower AlexNet (groups 2, LRN, overlapping pooling, dropout 0.5)",
    build: (o = {}) =>
      alexnet({
        classes: o.classes,
        inputSize: o.inputSize === 224 ? 224 : 227,
        lrn: o.lrn,
        pooling: o.pooling,
        activation: o.activation,
        dropout: o.dropout,
        dropConv4: o.shallower,
      }),
  },
  "alexnet-one-tower": {
    description: "section 3.2's comparison net: one tower, half the kernels in every conv layer",
    build: (o = {}) =>
      alexnet({
        classes: o.classes,
        inputSize: o.inputSize === 224 ? 224 : 227,
        lrn: o.lrn,
        pooling: o.pooling,
        activation: o.activation,
        dropout: o.dropout,
        towers: 1,
      }),
  },
  "alexnet-mini": {
    description: "AlexNet at quarter width for Imagenette 64px (two towers as groups 2)",
    build: (o = {}) => alexnetMini({ ...miniOptions(o), towers: 2 }),
  },
  "alexnet-mini-one-tower": {
    description:
      "alexnet-mini with one tower: half the kernels in conv1-conv4, conv5 and fc kept (section 3.2, footnote 2)",
    build: (o = {}) => alexnetMini({ ...miniOptions(o), towers: 1 }),
  },
  "cifar-alexnet": {
    description: "compact AlexNet-style CIFAR net: conv 64-64 (5x5), fc 384-192-10",
    build: (o = {}) => cifarAlexnet({ ...o, dropConv2: o.shallower }),
  },
  "conv-local-13pct": {
    description:
      "cuda-convnet's 13% CIFAR-10 net (conv, conv, two locally connected layers, no normalisation)",
    build: (o = {}) => convLocal13({ classes: o.classes, inputSize: o.inputSize, lrn: o.lrn }),
  },
  "conv-local-11pct": {
    description: "cuda-convnet's 11% CIFAR-10 net (the 13% net with cross-map normalisation, wider local3)",
    build: (o = {}) => convLocal11({ classes: o.classes, inputSize: o.inputSize }),
  },
  "cifar-18pct": {
    description: "cuda-convnet's 18% CIFAR-10 net (within-map normalisation, average pooling)",
    build: (o = {}) => cifar18pct({ classes: o.classes }),
  },
  "fig1-four-layer": {
    description: "Figure 1's four-layer CIFAR-10 CNN (ReLU or tanh)",
    build: (o = {}) => fig1FourLayer({ activation: o.activation, classes: o.classes }),
  },
};

function miniOptions(o: ModelOptions) {
  const { classes, inputSize, lrn, pooling, activation, dropout, shallower } = o;
  return { classes, inputSize, lrn, pooling, activation, dropout, shallower };
}

/**
 * The zoo model `name` built with `options`; throws, listing the known names, when there is no such model.
 */
export function buildModel(name: string, options: ModelOptions = {}): ModelSpec {
  const entry = MODELS[name];
  if (entry) return entry.build(options);
  throw new Error(
    `unknown model "${name}"; known: ${Object.keys(MODELS).join(", ")} (or a path to a model .json file)`,
  );
}

/** A model described in a JSON file (models/*.json): the ModelSpec itself. */
export async function loadModelFile(path: string): Promise<ModelSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read model file (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as ModelSpec;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** A zoo name, or a path ending in .json. */
export async function resolveModelName(nameOrPath: string, options: ModelOptions = {}): Promise<ModelSpec> {
  return nameOrPath.endsWith(".json") ? await loadModelFile(nameOrPath) : buildModel(nameOrPath, options);
}
