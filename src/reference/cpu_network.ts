// The same ModelSpec run through the float64 CPU reference: the yardstick for the GPU executor (src/nn/network.ts).

import * as ref from "./index.ts";
import { type ModelSpec, resolveModel } from "../nn/spec.ts";
import { layerConvShape } from "../nn/ops/conv_geometry.ts";

/** Inference forward (dropout is the identity). Returns logits [n][classes] in float64. */
export function cpuForward(
  spec: ModelSpec,
  weights: Map<string, Float32Array>,
  x: ArrayLike<number>,
  n: number,
): Float64Array {
  let cur: Float64Array = Float64Array.from(x);
  for (const layer of resolveModel(spec)) {
    const s = layer.spec;
    const w = (suffix: string) => weights.get(`${"name" in s ? s.name : ""}.${suffix}`)!;
    const [c, h, wd] = layer.inShape;
    switch (s.type) {
      case "conv":
        cur = ref.conv2dForward(cur, w("weight"), w("bias"), { n, ...layerConvShape(layer) });
        break;
      case "local":
        cur = ref.localForward(cur, w("weight"), w("bias"), { n, ...layerConvShape(layer) });
        break;
      case "fc":
        cur = ref.linearForward(cur, w("weight"), w("bias"), {
          n,
          inF: layer.inShape.reduce((a, b) => a * b, 1),
          outF: s.out,
        });
        break;
      case "relu":
        cur = ref.reluForward(cur);
        break;
      case "tanh":
        cur = ref.tanhForward(cur);
        break;
      case "maxpool":
      case "avgpool": {
        const shape = { n, c, h, w: wd, k: s.size, stride: s.stride, pad: s.pad ?? 0, ceil: s.ceil ?? false };
        cur = s.type === "maxpool" ? ref.maxPoolForward(cur, shape).y : ref.avgPoolForward(cur, shape);
        break;
      }
      case "lrn":
      case "rnorm": {
        const p = { k: s.k, n: s.size, alpha: s.alpha, beta: s.beta };
        const shape = { n, c, h, w: wd };
        cur = s.type === "lrn"
          ? ref.lrnCrossMapForward(cur, shape, p)
          : ref.lrnWithinMapForward(cur, shape, p);
        break;
      }
      case "dropout":
        break;
    }
  }
  return cur;
}
