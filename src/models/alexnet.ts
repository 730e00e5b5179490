// The paper's network (section 3.5, figure 2) and its ablation switches, as data.

import type { LayerSpec, ModelSpec } from "../nn/spec.ts";

export interface AlexNetOptions {
  classes?: number;
  /**
   * 227 makes the paper's arithmetic exact with no padding (Caffe's choice); 224 (the paper's text) needs
   * conv1 padding 2 to reach 55x55 (cuda-convnet's choice). Both give 6x6x256 into fc6.
   */
  inputSize?: 224 | 227;
  lrn?: boolean;
  /** Overlapping 3/2 (paper) or non-overlapping 2/2 max pooling. */
  pooling?: "overlap" | "non-overlap";
  activation?: "relu" | "tanh";
  dropout?: boolean;
  /**
   * 2 = the paper's two-tower net (groups 2 in conv2, conv4, conv5); 1 = one tower with half the kernels in
   * conv1-conv4 and all 256 in conv5 (the paper's footnote 2).
   */
  towers?: 1 | 2;
  /** Removes conv4 (a middle conv layer) for the depth claim of section 4. */
  dropConv4?: boolean;
}

export const PAPER_LRN = { size: 5, alpha: 1e-4, beta: 0.75, k: 2 };

export function alexnet(o: AlexNetOptions = {}): ModelSpec {
  const classes = o.classes ?? 1000;
  const inputSize = o.inputSize ?? 227;
  const act: LayerSpec = { type: o.activation ?? "relu" };
  const pool: LayerSpec = o.pooling === "non-overlap"
    ? { type: "maxpool", size: 2, stride: 2 }
    : { type: "maxpool", size: 3, stride: 2 };
  const lrn: LayerSpec[] = o.lrn === false ? [] : [{ type: "lrn", ...PAPER_LRN }];
  const towers = o.towers ?? 2;
  const width = towers === 2 ? 1 : 0.5;
  const k = (n: number) => Math.round(n * width);
  const g = towers === 2 ? 2 : 1;
  const drop: LayerSpec[] = o.dropout === false ? [] : [{ type: "dropout", p: 0.5 }];
  const w01 = { std: 0.01, bias: 0 }, w11 = { std: 0.01, bias: 1 };
  const layers: LayerSpec[] = [
    {
      type: "conv",
      name: "conv1",
      out: k(96),
      kernel: 11,
      stride: 4,
      pad: inputSize === 224 ? 2 : 0,
      init: w01,
    },
    act,
    ...lrn,
    pool,
    { type: "conv", name: "conv2", out: k(256), kernel: 5, pad: 2, groups: g, init: w11 },
    act,
    ...lrn,
    pool,
    { type: "conv", name: "conv3", out: k(384), kernel: 3, pad: 1, init: w01 },
    act,
    ...(o.dropConv4 ? [] : [
      { type: "conv", name: "conv4", out: k(384), kernel: 3, pad: 1, groups: g, init: w11 } as LayerSpec,
      act,
    ]),
    // Footnote 2: the one-tower net keeps the last conv layer at full size (256 kernels).
    { type: "conv", name: "conv5", out: 256, kernel: 3, pad: 1, groups: g, init: w11 },
    act,
    pool,
    { type: "fc", name: "fc6", out: 4096, init: w11 },
    act,
    ...drop,
    { type: "fc", name: "fc7", out: 4096, init: w11 },
    act,
    ...drop,
    { type: "fc", name: "fc8", out: classes, init: w01 },
  ];
  const variant = [
    towers === 1 ? "one tower" : "two towers",
    o.lrn === false ? "no LRN" : "LRN",
    o.pooling === "non-overlap" ? "pool 2/2" : "pool 3/2",
    o.activation ?? "relu",
    o.dropout === false ? "no dropout" : "dropout 0.5",
    ...(o.dropConv4 ? ["without conv4"] : []),
  ].join(", ");
  return {
    name: towers === 1 ? "alexnet-one-tower" : "alexnet",
    description: `AlexNet (Krizhevsky et al. 2012), ${inputSize}x${inputSize} input, ${variant}`,
    input: [3, inputSize, inputSize],
    classes,
    layers,
  };
}
