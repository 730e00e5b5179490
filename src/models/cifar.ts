// The CIFAR-10 nets the paper used (cuda-convnet's example layer files, cited in sections 3.1 and 3.3) and a
// compact AlexNet-style net for fast runs. Pooling uses ceil mode, as cuda-convnet sizes its pooling outputs.

import type { LayerSpec, ModelSpec } from "../nn/spec.ts";

export interface CifarNetOptions {
  classes?: number;
  /** Image side: 32 (whole CIFAR image) or 24 (cuda-convnet's random crops). */
  inputSize?: number;
  channels?: number;
  lrn?: boolean;
  pooling?: "overlap" | "non-overlap";
  activation?: "relu" | "tanh";
  dropout?: boolean;
  /** Drops the second conv layer (depth ablation). */
  dropConv2?: boolean;
}

const pool = (o: CifarNetOptions): LayerSpec =>
  o.pooling === "non-overlap"
    ? { type: "maxpool", size: 2, stride: 2, ceil: true }
    : { type: "maxpool", size: 3, stride: 2, ceil: true };

/**
 * The compact AlexNet-style CIFAR-10 net: conv 5x5x64 pad 2, ReLU, max pool 3/2, conv 5x5x64 pad 2, ReLU,
 * max pool 3/2, fc 384, fc 192, fc 10 (TensorFlow's and cuda-convnet's CIFAR AlexNet variant), with the
 * paper's switches: LRN (after pool1 and conv2's ReLU, paper constants scaled as TensorFlow's tutorial does),
 * pooling overlap, activation and dropout in fc 384 / fc 192.
 */
export function cifarAlexnet(o: CifarNetOptions = {}): ModelSpec {
  const act: LayerSpec = { type: o.activation ?? "relu" };
  const lrn: LayerSpec[] = o.lrn ? [{ type: "lrn", size: 9, alpha: 0.001 / 9, beta: 0.75, k: 1 }] : [];
  const drop: LayerSpec[] = o.dropout ? [{ type: "dropout", p: 0.5 }] : [];
  const size = o.inputSize ?? 32;
  const layers: LayerSpec[] = [
    { type: "conv", name: "conv1", out: 64, kernel: 5, pad: 2, init: { std: 0.05 } },
    act,
    pool(o),
    ...lrn,
    ...(o.dropConv2 ? [] : [
      {
        type: "conv",
        name: "conv2",
        out: 64,
        kernel: 5,
        pad: 2,
        init: { std: 0.05, bias: 0.1 },
      } as LayerSpec,
      act,
      ...lrn,
    ]),
    pool(o),
    { type: "fc", name: "fc3", out: 384, init: { std: 0.04, bias: 0.1 } },
    act,
    ...drop,
    { type: "fc", name: "fc4", out: 192, init: { std: 0.04, bias: 0.1 } },
    act,
    ...drop,
    { type: "fc", name: "fc5", out: o.classes ?? 10, init: { std: 1 / 192 } },
  ];
  const what = [
    o.lrn ? "LRN" : "no LRN",
    o.pooling === "non-overlap" ? "pool 2/2" : "pool 3/2",
    o.activation ?? "relu",
    o.dropout ? "dropout" : "no dropout",
    ...(o.dropConv2 ? ["without conv2"] : []),
  ];
  return {
    name: "cifar-alexnet",
    description: `Compact AlexNet-style CIFAR net (64-64 conv, 384-192 fc), ${size}x${size}, ${
      what.join(", ")
    }`,
    input: [o.channels ?? 3, size, size],
    classes: o.classes ?? 10,
    layers,
  };
}

// cuda-convnet's learning rates: epsW 0.001, epsB 0.002 relative to a base lr of 0.001 -> multipliers 1 and 2.
const convLearn = { lrW: 1, lrB: 2, wdW: 0, wdB: 0 };
const localLearn = { lrW: 1, lrB: 2, wdW: 1, wdB: 0 };

/**
 * layers-conv-local-13pct ("without normalisation"): conv 64, pool, conv 64, pool, two unshared 3x3 layers of
 * 32, fc 10. Weight decay 0.004 on local and fc layers, 0 on convs: with a base weight decay of 0.004 the
 * multipliers below reproduce it.
 */
export function convLocal13(o: { classes?: number; inputSize?: number; lrn?: boolean } = {}): ModelSpec {
  const cross: LayerSpec[] = o.lrn ? [{ type: "lrn", size: 9, alpha: 0.001 / 9, beta: 0.75, k: 1 }] : [];
  return {
    name: o.lrn ? "conv-local-13pct+lrn" : "conv-local-13pct",
    description: "cuda-convnet layers-conv-local-13pct" +
      (o.lrn ? " with cross-map normalisation added (LRN ablation)" : ""),
    input: [3, o.inputSize ?? 24, o.inputSize ?? 24],
    classes: o.classes ?? 10,
    layers: [
      { type: "conv", name: "conv1", out: 64, kernel: 5, pad: 2, init: { std: 1e-4 }, learn: convLearn },
      { type: "relu" },
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      ...cross,
      { type: "conv", name: "conv2", out: 64, kernel: 5, pad: 2, init: { std: 0.01 }, learn: convLearn },
      { type: "relu" },
      ...cross,
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "local", name: "local3", out: 32, kernel: 3, pad: 1, init: { std: 0.04 }, learn: localLearn },
      { type: "relu" },
      { type: "local", name: "local4", out: 32, kernel: 3, pad: 1, init: { std: 0.04 }, learn: localLearn },
      { type: "relu" },
      { type: "fc", name: "fc10", out: o.classes ?? 10, init: { std: 0.01 }, learn: localLearn },
    ],
  };
}

/**
 * layers-conv-local-11pct ("with normalisation"): as 13pct plus cross-map normalisation (size 9, scale 0.001,
 * pow 0.75: k=1, alpha=0.001/9) after pool1 and after conv2, 64 filters in local3, fc weight decay 0.01.
 */
export function convLocal11(o: { classes?: number; inputSize?: number } = {}): ModelSpec {
  const cross: LayerSpec = { type: "lrn", size: 9, alpha: 0.001 / 9, beta: 0.75, k: 1 };
  return {
    name: "conv-local-11pct",
    description: "cuda-convnet layers-conv-local-11pct (cross-map response normalisation)",
    input: [3, o.inputSize ?? 24, o.inputSize ?? 24],
    classes: o.classes ?? 10,
    layers: [
      { type: "conv", name: "conv1", out: 64, kernel: 5, pad: 2, init: { std: 1e-4 }, learn: convLearn },
      { type: "relu" },
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      cross,
      { type: "conv", name: "conv2", out: 64, kernel: 5, pad: 2, init: { std: 0.01 }, learn: convLearn },
      { type: "relu" },
      cross,
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "local", name: "local3", out: 64, kernel: 3, pad: 1, init: { std: 0.04 }, learn: localLearn },
      { type: "relu" },
      { type: "local", name: "local4", out: 32, kernel: 3, pad: 1, init: { std: 0.04 }, learn: localLearn },
      { type: "relu" },
      {
        type: "fc",
        name: "fc10",
        out: o.classes ?? 10,
        init: { std: 0.01 },
        learn: { ...localLearn, wdW: 2.5 },
      },
    ],
  };
}

/**
 * layers-18pct: conv 32 -> max pool 3/2 -> ReLU -> within-map norm (3x3, scale 5e-5, pow 0.75: k=1,
 * alpha=5e-5/9) -> conv 32 ReLU -> avg pool 3/2 -> within-map norm -> conv 64 ReLU -> avg pool 3/2 -> fc 10.
 */
export function cifar18pct(o: { classes?: number } = {}): ModelSpec {
  const rnorm: LayerSpec = { type: "rnorm", size: 3, alpha: 5e-5 / 9, beta: 0.75, k: 1 };
  const learn = { lrW: 1, lrB: 2, wdW: 1, wdB: 0 };
  return {
    name: "cifar-18pct",
    description: "cuda-convnet layers-18pct (within-map normalisation, average pooling)",
    input: [3, 32, 32],
    classes: o.classes ?? 10,
    layers: [
      { type: "conv", name: "conv1", out: 32, kernel: 5, pad: 2, init: { std: 1e-4 }, learn },
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "relu" },
      rnorm,
      { type: "conv", name: "conv2", out: 32, kernel: 5, pad: 2, init: { std: 0.01 }, learn },
      { type: "relu" },
      { type: "avgpool", size: 3, stride: 2, ceil: true },
      rnorm,
      { type: "conv", name: "conv3", out: 64, kernel: 5, pad: 2, init: { std: 0.01 }, learn },
      { type: "relu" },
      { type: "avgpool", size: 3, stride: 2, ceil: true },
      { type: "fc", name: "fc10", out: o.classes ?? 10, init: { std: 0.01 }, learn },
    ],
  };
}

/**
 * Figure 1's four-layer CNN (three conv layers and a classifier, no regularisation), with ReLU or tanh. The
 * paper does not list its exact layers; this is layers-18pct's trunk without normalisation.
 */
export function fig1FourLayer(o: { activation?: "relu" | "tanh"; classes?: number } = {}): ModelSpec {
  const act: LayerSpec = { type: o.activation ?? "relu" };
  return {
    name: `fig1-four-layer-${o.activation ?? "relu"}`,
    description: `Figure 1 four-layer CNN on CIFAR-10 with ${o.activation ?? "relu"} units`,
    input: [3, 32, 32],
    classes: o.classes ?? 10,
    layers: [
      { type: "conv", name: "conv1", out: 32, kernel: 5, pad: 2, init: { std: 0.05 } },
      act,
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "conv", name: "conv2", out: 32, kernel: 5, pad: 2, init: { std: 0.05 } },
      act,
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "conv", name: "conv3", out: 64, kernel: 5, pad: 2, init: { std: 0.05 } },
      act,
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "fc", name: "fc4", out: o.classes ?? 10, init: { std: 0.05 } },
    ],
  };
}
