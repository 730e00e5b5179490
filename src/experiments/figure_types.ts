// The layer shapes the figure stages read from a checkpoint's model spec.

import type { LayerSpec } from "../nn/spec.ts";

export type ConvLayer = Extract<LayerSpec, { type: "conv" }>;
