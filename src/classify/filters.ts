// The first conv layer's learned kernels as one picture, as in the paper's figure 3: each kernel stretched to
// the full 0-255 range on its own (so faint and strong kernels are equally visible), drawn in a grid.

import { resolveModel } from "../nn/spec.ts";
import type { ModelSpec } from "../nn/spec.ts";

export interface FilterGrid {
  /** Layer the kernels come from. */
  layer: string;
  count: number;
  kernel: number;
  /** Input channels each kernel reads: 3 are drawn in colour, anything else as grey (the channel mean). */
  channels: number;
  columns: number;
  width: number;
  height: number;
  /** width*height*4 bytes, RGBA (for ImageData). */
  rgba: Uint8ClampedArray;
}

/** Columns for `count` tiles: a divisor of count near a 3:2 layout, so rows are full (96 gives 12 x 8). */
function gridColumns(count: number): number {
  const target = Math.sqrt(count * 1.5);
  for (let c = Math.ceil(target); c <= count; c++) if (count % c === 0) return c;
  return count;
}

export function conv1Filters(
  spec: ModelSpec,
  weights: Map<string, Float32Array>,
  gap = 1,
): FilterGrid | null {
  const layer = resolveModel(spec).find((l) => l.spec.type === "conv");
  if (!layer || layer.spec.type !== "conv") return null;
  const info = layer.params.find((p) => p.kind === "weight")!;
  const w = weights.get(info.name);
  if (!w) return null;
  const [count, channels, k] = info.shape;
  const columns = gridColumns(count), rows = Math.ceil(count / columns);
  const width = columns * (k + gap) + gap, height = rows * (k + gap) + gap;
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  const per = channels * k * k;
  for (let f = 0; f < count; f++) {
    const values = w.subarray(f * per, (f + 1) * per);
    let lo = Infinity, hi = -Infinity;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const s = hi > lo ? 255 / (hi - lo) : 0;
    const x0 = gap + (f % columns) * (k + gap), y0 = gap + Math.floor(f / columns) * (k + gap);
    for (let y = 0; y < k; y++) {
      for (let x = 0; x < k; x++) {
        const o = ((y0 + y) * width + x0 + x) * 4;
        const at = (c: number) => (s ? (values[(c * k + y) * k + x] - lo) * s : 128);
        if (channels === 3) {
          rgba[o] = at(0);
          rgba[o + 1] = at(1);
          rgba[o + 2] = at(2);
        } else {
          let sum = 0;
          for (let c = 0; c < channels; c++) sum += at(c);
          rgba[o] = rgba[o + 1] = rgba[o + 2] = sum / channels;
        }
      }
    }
  }
  return { layer: info.layer, count, kernel: k, channels, columns, width, height, rgba };
}
