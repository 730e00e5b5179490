/**
 * Image files to 8-bit RGB, and the geometric steps of the paper's preprocessing (short side to S, centre crop,
 * ten crops).
 *
 * Formats: JPEG through imagescript (baseline, progressive, greyscale and Adobe CMYK all decode; EXIF orientation
 * is applied so phone photos come out upright), PNG through our own decoder in png.ts (imagescript accepts
 * truncated PNGs silently). Alpha is composited over white. Anything else is an error that names the file.
 */
import { Image } from "imagescript";
import { decodePng, isPng } from "./png.ts";
import { errorMessage, sha256Hex } from "./util.ts";

/** An 8-bit RGB image. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** width*height*3 bytes, row-major, interleaved RGB (HWC). */
  rgb: Uint8Array;
}

/** Whether the bytes start like a JPEG file (FF D8 FF). */
export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

function sniff(b: Uint8Array): string {
  const ascii = new TextDecoder("latin1").decode(b.subarray(0, 12));
  if (ascii.startsWith("GIF8")) return "a GIF image";
  if (ascii.startsWith("RIFF") && ascii.slice(8, 12) === "WEBP") return "a WebP image";
  if (ascii.startsWith("BM")) return "a BMP image";
  if (ascii.startsWith("II*\0") || ascii.startsWith("MM\0*")) return "a TIFF image";
  if (b.length >= 12 && ascii.slice(4, 8) === "ftyp") return "an ISO media file (HEIC/AVIF?)";
  if (b.subarray(0, 512).every((v) => v === 9 || v === 10 || v === 13 || (v >= 32 && v < 127))) {
    return "a text file";
  }
  return "unknown data";
}

/** EXIF orientation (1-8) from a JPEG's APP1 segment; 1 when absent or unreadable. */
export function jpegOrientation(b: Uint8Array): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 2;
  while (pos + 4 <= b.length && b[pos] === 0xff) {
    const marker = b[pos + 1];
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end: no more metadata
    const len = view.getUint16(pos + 2);
    if (marker === 0xe1 && len >= 16 && pos + 2 + len <= b.length) {
      const t = pos + 10; // after length and "Exif\0\0"
      if (b[pos + 4] === 0x45 && b[pos + 5] === 0x78 && b[pos + 6] === 0x69 && b[pos + 7] === 0x66) {
        const le = b[t] === 0x49;
        const end = pos + 2 + len;
        const ifd = t + view.getUint32(t + 4, le);
        if (ifd + 2 > end) return 1;
        const n = view.getUint16(ifd, le);
        for (let i = 0; i < n; i++) {
          const e = ifd + 2 + 12 * i;
          if (e + 12 > end) break;
          if (view.getUint16(e, le) === 0x0112) {
            const v = view.getUint16(e + 8, le);
            return v >= 1 && v <= 8 ? v : 1;
          }
        }
      }
    }
    pos += 2 + len;
  }
  return 1;
}

/** Rotates/flips an image as its EXIF orientation says, giving the upright view. */
export function applyOrientation(img: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: W, height: H, rgb } = img;
  const swap = orientation >= 5;
  const ow = swap ? H : W, oh = swap ? W : H;
  const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = W - 1 - x;
          sy = y;
          break;
        case 3:
          sx = W - 1 - x;
          sy = H - 1 - y;
          break;
        case 4:
          sx = x;
          sy = H - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = H - 1 - x;
          break;
        case 7:
          sx = W - 1 - y;
          sy = H - 1 - x;
          break;
        default:
          sx = W - 1 - y;
          sy = x;
      }
      const s = (sy * W + sx) * 3, o = (y * ow + x) * 3;
      out[o] = rgb[s];
      out[o + 1] = rgb[s + 1];
      out[o + 2] = rgb[s + 2];
    }
  }
  return { width: ow, height: oh, rgb: out };
}

/** How decodeImageBytes and decodeImage decode. */
export interface DecodeOptions {
  /** Apply the JPEG's EXIF orientation (default true). */
  orientation?: boolean;
}

/** Decodes JPEG or PNG bytes; `name` (usually the path) is used in errors. */
export async function decodeImageBytes(
  bytes: Uint8Array,
  name: string,
  opts: DecodeOptions = {},
): Promise<RgbImage> {
  if (bytes.length === 0) throw new Error(`${name}: empty file, not an image`);
  if (isPng(bytes)) return await decodePng(bytes, name);
  if (!isJpeg(bytes)) throw new Error(`${name}: not a JPEG or PNG image (looks like ${sniff(bytes)})`);
  let image: Image;
  try {
    image = await Image.decode(bytes);
  } catch (e) {
    const hasEnd = bytes.length >= 2 && bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9;
    const why = hasEnd ? "corrupt JPEG" : "truncated JPEG (no end-of-image marker)";
    throw new Error(`${name}: cannot decode: ${why}: ${errorMessage(e)}`);
  }
  const { width, height, bitmap } = image;
  const rgb = new Uint8Array(width * height * 3);
  // JPEG has no alpha: imagescript's RGBA always carries 255 there, so dropping it is exact.
  for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
    rgb[o] = bitmap[i];
    rgb[o + 1] = bitmap[i + 1];
    rgb[o + 2] = bitmap[i + 2];
  }
  const img = { width, height, rgb };
  return opts.orientation === false ? img : applyOrientation(img, jpegOrientation(bytes));
}

/** Reads and decodes an image file (JPEG or PNG, any colour type) to 8-bit RGB. */
export async function decodeImage(path: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: no such file`);
    if (e instanceof Deno.errors.IsADirectory) throw new Error(`${path}: is a directory, not an image`);
    throw new Error(`${path}: cannot read: ${errorMessage(e)}`);
  }
  return decodeImageBytes(bytes, path, opts);
}

/**
 * Resampling taps along one axis. Downscaling uses the exact area (box) filter: each output pixel averages the
 * source interval it covers, with fractional weights at the ends; it is the right anti-aliasing filter for big
 * reductions and costs O(source) rather than O(source * support). Upscaling uses bilinear with pixel centres
 * at +0.5 (align_corners = false).
 */
function taps(src: number, dst: number): { start: Int32Array; n: Int32Array; w: Float32Array; max: number } {
  const start = new Int32Array(dst), n = new Int32Array(dst);
  const r = src / dst;
  const max = dst < src ? Math.ceil(r) + 1 : 2;
  const w = new Float32Array(dst * max);
  for (let i = 0; i < dst; i++) {
    if (dst < src) {
      const a = i * r, b = Math.min(src, (i + 1) * r);
      const k0 = Math.floor(a), k1 = Math.min(src, Math.ceil(b));
      start[i] = k0;
      n[i] = k1 - k0;
      for (let k = k0; k < k1; k++) w[i * max + k - k0] = (Math.min(k + 1, b) - Math.max(k, a)) / r;
    } else {
      const c = Math.min(src - 1, Math.max(0, (i + 0.5) * r - 0.5));
      const k0 = Math.min(src - 1, Math.floor(c));
      const f = c - k0;
      start[i] = k0;
      n[i] = k0 + 1 < src ? 2 : 1;
      w[i * max] = n[i] === 2 ? 1 - f : 1;
      if (n[i] === 2) w[i * max + 1] = f;
    }
  }
  return { start, n, w, max };
}

/** Resizes to exactly width x height (area filter when shrinking, bilinear when enlarging). */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  if (width === img.width && height === img.height) return img;
  if (!(width >= 1 && height >= 1)) throw new Error(`resize: bad target size ${width}x${height}`);
  const W = img.width, H = img.height, src = img.rgb;
  const tx = taps(W, width), ty = taps(H, height);
  // Horizontal pass into float rows, then vertical pass with rounding.
  const tmp = new Float32Array(H * width * 3);
  for (let y = 0; y < H; y++) {
    const rowIn = y * W * 3, rowOut = y * width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      const s0 = tx.start[x], wn = tx.n[x], wo = x * tx.max;
      for (let k = 0; k < wn; k++) {
        const wk = tx.w[wo + k], s = rowIn + (s0 + k) * 3;
        r += src[s] * wk;
        g += src[s + 1] * wk;
        b += src[s + 2] * wk;
      }
      const o = rowOut + x * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  const rowLen = width * 3;
  const acc = new Float32Array(rowLen);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    const s0 = ty.start[y], wn = ty.n[y], wo = y * ty.max;
    for (let k = 0; k < wn; k++) {
      const wk = ty.w[wo + k], row = (s0 + k) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += tmp[row + i] * wk;
    }
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = acc[i] + 0.5;
      out[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, rgb: out };
}

/** Scales so the shorter side is s (the paper's first step, s = 256), keeping the aspect ratio. */
export function resizeShortSide(img: RgbImage, s: number): RgbImage {
  const { width: w, height: h } = img;
  if (w <= h) return resize(img, s, Math.max(1, Math.round((h * s) / w)));
  return resize(img, Math.max(1, Math.round((w * s) / h)), s);
}

/** The w x h window at (x, y). */
export function crop(img: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  if (x < 0 || y < 0 || x + w > img.width || y + h > img.height) {
    throw new Error(`crop: ${w}x${h} at (${x}, ${y}) does not fit a ${img.width}x${img.height} image`);
  }
  const out = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const s = ((y + r) * img.width + x) * 3;
    out.set(img.rgb.subarray(s, s + w * 3), r * w * 3);
  }
  return { width: w, height: h, rgb: out };
}

/** The central s x s square (offsets rounded down, as the paper's "central 256x256 patch"). */
export function centerCrop(img: RgbImage, s: number): RgbImage {
  if (img.width < s || img.height < s) {
    throw new Error(`centerCrop: ${s}x${s} does not fit a ${img.width}x${img.height} image (resize first)`);
  }
  return crop(img, (img.width - s) >> 1, (img.height - s) >> 1, s, s);
}

/** A mirrored copy, left and right swapped. */
export function flipHorizontal(img: RgbImage): RgbImage {
  const { width: w, height: h, rgb } = img;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, o = (y * w + w - 1 - x) * 3;
      out[o] = rgb[s];
      out[o + 1] = rgb[s + 1];
      out[o + 2] = rgb[s + 2];
    }
  }
  return { width: w, height: h, rgb: out };
}

/**
 * The paper's ten test patches of size s: top-left, top-right, bottom-left, bottom-right, centre, then the
 * horizontal mirrors of those five in the same order (the order tenCropBatch in loader.ts uses too).
 */
export function tenCrops(img: RgbImage, s: number): RgbImage[] {
  const { width: w, height: h } = img;
  if (w < s || h < s) throw new Error(`tenCrops: ${s}x${s} does not fit a ${w}x${h} image`);
  const five = [
    crop(img, 0, 0, s, s),
    crop(img, w - s, 0, s, s),
    crop(img, 0, h - s, s, s),
    crop(img, w - s, h - s, s, s),
    centerCrop(img, s),
  ];
  return [...five, ...five.map(flipHorizontal)];
}

/** Interleaved RGB to planar CHW bytes (the ImageSet layout). */
export function toCHW(
  img: RgbImage,
  out: Uint8Array = new Uint8Array(img.width * img.height * 3),
): Uint8Array {
  const plane = img.width * img.height, rgb = img.rgb;
  for (let p = 0, s = 0; p < plane; p++, s += 3) {
    out[p] = rgb[s];
    out[plane + p] = rgb[s + 1];
    out[2 * plane + p] = rgb[s + 2];
  }
  return out;
}

/** Planar CHW bytes (3 channels) back to interleaved RGB. */
export function fromCHW(chw: Uint8Array, width: number, height: number): RgbImage {
  const plane = width * height, rgb = new Uint8Array(plane * 3);
  for (let p = 0, o = 0; p < plane; p++, o += 3) {
    rgb[o] = chw[p];
    rgb[o + 1] = chw[plane + p];
    rgb[o + 2] = chw[2 * plane + p];
  }
  return { width, height, rgb };
}

/** The dataset preprocessing of one image: short side to s, centre s x s crop, CHW bytes. */
export function preprocessToSquare(img: RgbImage, s: number): Uint8Array {
  return toCHW(centerCrop(resizeShortSide(img, s), s));
}

/** Outcome of prepareImageFile: pixels, or the error (which names the path). */
export interface PreparedImage {
  /** sha-256 of the file's bytes; null when it could not be read. */
  sha256: string | null;
  /** The s x s CHW bytes, when the file decoded. */
  pixels?: Uint8Array;
  /** Why the file could not be read or decoded, naming its path; set when pixels is not. */
  error?: string;
}

/**
 * Reads, hashes and preprocesses one file for an image-folder dataset: the file's sha-256 (for the provenance
 * checksum, bad files included) and its s x s CHW bytes. Never throws; shared by the decode workers and the
 * single-threaded path.
 */
export async function prepareImageFile(path: string, s: number): Promise<PreparedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    return { sha256: null, error: `${path}: cannot read: ${errorMessage(e)}` };
  }
  const sha256 = await sha256Hex(bytes);
  try {
    return { sha256, pixels: preprocessToSquare(await decodeImageBytes(bytes, path), s) };
  } catch (e) {
    return { sha256, error: errorMessage(e) };
  }
}
