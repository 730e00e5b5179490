// A decoded image to the network's input, exactly as the checkpoint's evaluation saw its test images: short
// side to `resize`, the central resize x resize square (the stored image of an image-folder dataset), then the
// centre crop (or the paper's ten views) written by the data layer's own writeCrop: (pixel - mean) * scale.
//
// No Deno APIs here or in what it runs: the browser bundle uses this same module. (image_decode.ts is imported
// for its pure geometric helpers; the bundle maps its imagescript import to a browser shim.)

import type { Preprocess } from "../io/checkpoint.ts";
import { centerCropSpec, type CropSpec, tenCropSpecs, writeCrop } from "../data/augment.ts";
import type { ImageSet } from "../data/types.ts";
import { centerCrop, resizeShortSide, type RgbImage, toCHW } from "../data/image_decode.ts";

export interface InputPlan {
  pre: Preprocess;
  /** Mean at stored size (C*resize*resize, raw 0-255 units), or null. */
  mean: Float32Array | null;
  /** Crop windows in the resize x resize square: 1 (centre) or 10 (corners, centre, and their mirrors). */
  views: CropSpec[];
  /** Floats of one network input (C*crop*crop). */
  inputSize: number;
}

/** Expands a channel mean to a mean image so one code path (writeCrop) serves both. */
export function meanImage(pre: Preprocess, mean: Float32Array | undefined | null): Float32Array | null {
  if (pre.mean === "none" || !mean) return null;
  const plane = pre.resize * pre.resize;
  if (pre.mean === "image") return mean;
  const out = new Float32Array(pre.channels * plane);
  for (let c = 0; c < pre.channels; c++) out.fill(mean[c], c * plane, (c + 1) * plane);
  return out;
}

export function inputPlan(
  pre: Preprocess,
  mean: Float32Array | undefined | null,
  tenCrop: boolean,
): InputPlan {
  const views = tenCrop
    ? tenCropSpecs(pre.resize, pre.resize, pre.crop)
    : [centerCropSpec(pre.resize, pre.resize, pre.crop)];
  return { pre, mean: meanImage(pre, mean), views, inputSize: pre.channels * pre.crop * pre.crop };
}

/** ITU-R BT.601 luma with Pillow's integer rounding (its convert("L")), for models trained on grey images. */
export function lumaCHW(rgbCHW: Uint8Array, plane: number): Uint8Array {
  const out = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    out[i] = (rgbCHW[i] * 19595 + rgbCHW[plane + i] * 38470 + rgbCHW[2 * plane + i] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

/** The stored square: short side to `resize`, central resize x resize, CHW bytes with the model's channels. */
export function storedPixels(img: RgbImage, pre: Preprocess): Uint8Array {
  const chw = toCHW(centerCrop(resizeShortSide(img, pre.resize), pre.resize));
  return pre.channels === 1 ? lumaCHW(chw, pre.resize * pre.resize) : chw;
}

/** Writes every view of each stored square into `out` (NCHW floats): image i's view v is input i*views+v. */
export function writeInputs(plan: InputPlan, stored: Uint8Array[], out: Float32Array): void {
  const { pre } = plan;
  const size = pre.channels * pre.resize * pre.resize;
  stored.forEach((pixels, i) => {
    if (pixels.length !== size) throw new Error(`stored image has ${pixels.length} bytes, expected ${size}`);
    const one: ImageSet = {
      classes: [],
      channels: pre.channels,
      height: pre.resize,
      width: pre.resize,
      count: 1,
      pixels,
      labels: new Int32Array(1),
    };
    plan.views.forEach((spec, v) => {
      writeCrop(one, 0, spec, plan.mean, pre.scale, null, out, (i * plan.views.length + v) * plan.inputSize);
    });
  });
}
