// A reduced-scale AlexNet that keeps the paper's topology (five convs, 11x11 conv1, two towers through groups,
// LRN, overlapping pooling, dropout) at a size a CPU adapter can train in minutes. It stands in for AlexNet on
// Imagenette in the pipelines' `cpu` preset.

import { type LayerSpec, type ModelSpec, resolveModel } from "../nn/spec.ts";
import { PAPER_LRN } from "./alexnet.ts";

export interface MiniAlexNetOptions {
  classes?: number;
  /**
   * Side of the square input (default 55: random crops of 64px images, about 224 of 256 in the paper). 55 keeps
   * every pooled size odd, so 3/2 and 2/2 pooling give the same output sizes, as in the paper's net.
   */
  inputSize?: number;
  towers?: 1 | 2;
  lrn?: boolean;
  pooling?: "overlap" | "non-overlap";
  activation?: "relu" | "tanh";
  dropout?: boolean;
  /** Removes conv4, as section 4's depth claim removes a middle conv layer. */
  shallower?: boolean;
}

/**
 * AlexNet at about a quarter of the width: conv1 32 11x11/2 (no padding), conv2 96 5x5 (groups 2), conv3 128 3x3 (full),
 * conv4 128 (groups 2), conv5 96 (groups 2), fc 256-256. Two towers = groups 2 exactly as the paper's net; one
 * tower halves the kernels of conv1-conv4 and keeps conv5 and the fc layers (section 3.2 and its footnote). He initialisation (std sqrt(2/fan-in))
 * instead of the paper's N(0, 0.01): with 0.01 a net this small needs thousands of steps before the loss moves,
 * which a CPU preset cannot afford.
 */
export function alexnetMini(o: MiniAlexNetOptions = {}): ModelSpec {
  const towers = o.towers ?? 2;
  const size = o.inputSize ?? 55;
  const g = towers === 2 ? 2 : 1;
  const k = (n: number) => (towers === 2 ? n : n / 2);
  const act: LayerSpec = { type: o.activation ?? "relu" };
  const pool: LayerSpec = o.pooling === "non-overlap"
    ? { type: "maxpool", size: 2, stride: 2 }
    : { type: "maxpool", size: 3, stride: 2 };
  const lrn: LayerSpec[] = o.lrn === false ? [] : [{ type: "lrn", ...PAPER_LRN }];
  const drop: LayerSpec[] = o.dropout === false ? [] : [{ type: "dropout", p: 0.5 }];
  const he = (fanIn: number, bias = 0.1) => ({ std: Math.sqrt(2 / fanIn), bias });
  // Footnote 2 of the paper: the one-GPU net keeps the final conv layer (and the fc layers) at full size, so
  // both nets have about the same number of parameters.
  const c1 = k(32), c2 = k(96), c3 = k(128), c4 = k(128), c5 = 96;
  const layers: LayerSpec[] = [
    { type: "conv", name: "conv1", out: c1, kernel: 11, stride: 2, init: he(3 * 121, 0) },
    act,
    ...lrn,
    pool,
    { type: "conv", name: "conv2", out: c2, kernel: 5, pad: 2, groups: g, init: he((c1 / g) * 25) },
    act,
    ...lrn,
    pool,
    { type: "conv", name: "conv3", out: c3, kernel: 3, pad: 1, init: he(c2 * 9, 0) },
    act,
    ...(o.shallower ? [] : [
      {
        type: "conv",
        name: "conv4",
        out: c4,
        kernel: 3,
        pad: 1,
        groups: g,
        init: he((c3 / g) * 9),
      } as LayerSpec,
      act,
    ]),
    {
      type: "conv",
      name: "conv5",
      out: c5,
      kernel: 3,
      pad: 1,
      groups: g,
      init: he(((o.shallower ? c3 : c4) / g) * 9),
    },
    act,
    pool,
  ];
  // fc6's fan-in depends on the spatial size left after three poolings.
  const probe: ModelSpec = {
    name: "probe",
    description: "",
    input: [3, size, size],
    classes: 1,
    layers: [...layers, { type: "fc", name: "probe", out: 1 }],
  };
  const flat = resolveModel(probe).at(-1)!.inShape.reduce((x, y) => x * y, 1);
  layers.push(
    { type: "fc", name: "fc6", out: 256, init: he(flat) },
    act,
    ...drop,
    { type: "fc", name: "fc7", out: 256, init: he(256) },
    act,
    ...drop,
    { type: "fc", name: "fc8", out: o.classes ?? 10, init: { std: 0.01, bias: 0 } },
  );
  const variant = [
    towers === 1 ? "one tower" : "two towers",
    o.lrn === false ? "no LRN" : "LRN",
    o.pooling === "non-overlap" ? "pool 2/2" : "pool 3/2",
    o.activation ?? "relu",
    o.dropout === false ? "no dropout" : "dropout 0.5",
    ...(o.shallower ? ["without conv4"] : []),
  ].join(", ");
  return {
    name: towers === 1 ? "alexnet-mini-one-tower" : "alexnet-mini",
    description: `Reduced AlexNet (quarter width, 11x11/2 conv1), ${size}x${size} input, ${variant}`,
    input: [3, size, size],
    classes: o.classes ?? 10,
    layers,
  };
}
