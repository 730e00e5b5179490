// A decoded image to the network's input: short side to `resize`, the central resize x resize square (the
// stored image of an image-folder dataset), then the centre crop (or the paper's ten views) written by the data
// layer's own writeCrop: (pixel - mean) * scale, then / std[c] for checkpoints with a per-channel std
// (torchvision's Normalize).
//
// Both centre crops follow torchvision's CenterCrop exactly (crop_top = int(round((height - crop) / 2.0)),
// Python's round taking halves to even) and the ten views torchvision's TenCrop, so a checkpoint classifies an
// image as the usual torchvision transforms would present it. Training and evaluation keep the data layer's rule
// (offsets rounded down: centerCropSpec in augment.ts, centerCrop in image_decode.ts), which committed results
// were computed with; the two differ by one pixel where the margin is 3 mod 4.
//
// No Deno APIs here or in what it runs: the browser bundle uses this same module. (image_decode.ts is imported
// for its pure geometric helpers; the bundle maps its imagescript import to a browser shim.)

import { type Preprocess, preprocessStd } from "../io/checkpoint.ts";
import { type CropSpec, writeCrop } from "../data/augment.ts";
import type { ImageSet } from "../data/types.ts";
import { crop, resizeShortSide, type RgbImage, toCHW } from "../data/image_decode.ts";

export interface InputPlan {
  pre: Preprocess;
  /** Per-channel divisors after the scale (torchvision's std), or null for none. */
  std: number[] | null;
  /** Mean at stored size (C*resize*resize, raw 0-255 units), or null. */
  mean: Float32Array | null;
  /**
   * Crop windows in the resize x resize square: 1 (torchvision's CenterCrop) or 10 (torchvision's TenCrop:
   * corners and centre, then those of the mirrored square).
   */
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

/**
 * torchvision's CenterCrop offset of a `cropSize` window in `size`: int(round((size - cropSize) / 2.0)), with
 * Python's round (a half goes to the even neighbour: margin 1 gives 0, 3 gives 2, 5 gives 2, 7 gives 4).
 */
export function torchvisionCenterOffset(size: number, cropSize: number): number {
  const margin = size - cropSize;
  if (!(margin >= 0)) throw new Error(`centre crop: ${cropSize} does not fit ${size}`);
  const half = Math.floor(margin / 2);
  return margin % 2 === 0 ? half : half % 2 === 0 ? half : half + 1;
}

/** torchvision's CenterCrop(s) of an image at least s x s. */
export function torchvisionCenterCrop(img: RgbImage, s: number): RgbImage {
  if (img.width < s || img.height < s) {
    throw new Error(`centre crop: ${s}x${s} does not fit a ${img.width}x${img.height} image (resize first)`);
  }
  return crop(img, torchvisionCenterOffset(img.width, s), torchvisionCenterOffset(img.height, s), s, s);
}

/**
 * torchvision's TenCrop(c) of a height x width image as crop windows: five_crop (top-left, top-right,
 * bottom-left, bottom-right, centre), then five_crop of the mirrored image, in that order. A window at x of the
 * mirrored image is the mirror of the window at (width - c - x) of the image.
 */
export function torchvisionTenCropSpecs(height: number, width: number, c: number): CropSpec[] {
  if (c > height || c > width) throw new Error(`ten crops: ${c} does not fit ${width}x${height}`);
  const five = [
    [0, 0],
    [width - c, 0],
    [0, height - c],
    [width - c, height - c],
    [torchvisionCenterOffset(width, c), torchvisionCenterOffset(height, c)],
  ];
  return [
    ...five.map(([x, y]) => ({ x, y, width: c, height: c, flip: false })),
    ...five.map(([x, y]) => ({ x: width - c - x, y, width: c, height: c, flip: true })),
  ];
}

export function inputPlan(
  pre: Preprocess,
  mean: Float32Array | undefined | null,
  tenCrop: boolean,
): InputPlan {
  const centre = torchvisionCenterOffset(pre.resize, pre.crop);
  const views = tenCrop
    ? torchvisionTenCropSpecs(pre.resize, pre.resize, pre.crop)
    : [{ x: centre, y: centre, width: pre.crop, height: pre.crop, flip: false }];
  return {
    pre,
    std: preprocessStd(pre, "preprocess"),
    mean: meanImage(pre, mean),
    views,
    inputSize: pre.channels * pre.crop * pre.crop,
  };
}

/**
 * Divides channel c of every NCHW input in `x` by std[c] (planes of `plane` values): torchvision's Normalize
 * after writeCrop has applied the mean and the scale. Kept apart from writeCrop so that checkpoints without a
 * std compute exactly what they always did.
 */
export function divideByStd(x: Float32Array, std: readonly number[], plane: number): void {
  const size = std.length * plane;
  for (let base = 0; base + size <= x.length; base += size) {
    for (let c = 0; c < std.length; c++) {
      const s = std[c], start = base + c * plane;
      for (let i = start; i < start + plane; i++) x[i] /= s;
    }
  }
}

/** ITU-R BT.601 luma with Pillow's integer rounding (its convert("L")), for models trained on grey images. */
export function lumaCHW(rgbCHW: Uint8Array, plane: number): Uint8Array {
  const out = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    out[i] = (rgbCHW[i] * 19595 + rgbCHW[plane + i] * 38470 + rgbCHW[2 * plane + i] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

/**
 * The stored square: short side to `resize`, the central resize x resize (torchvision's CenterCrop), CHW bytes
 * with the model's channels.
 */
export function storedPixels(img: RgbImage, pre: Preprocess): Uint8Array {
  const chw = toCHW(torchvisionCenterCrop(resizeShortSide(img, pre.resize), pre.resize));
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
      const at = (i * plan.views.length + v) * plan.inputSize;
      writeCrop(one, 0, spec, plan.mean, pre.scale, null, out, at);
      if (plan.std) divideByStd(out.subarray(at, at + plan.inputSize), plan.std, pre.crop * pre.crop);
    });
  });
}
