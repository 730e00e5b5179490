// A minimal RGBA canvas for the figure stages: pixel blocks, boxes, scaled images and (when a system font is
// there) text, encoded as PNG with imagescript.

import { Image } from "imagescript";
import type { ImageSet } from "../data/index.ts";

export class Canvas {
  readonly image: Image;
  constructor(readonly width: number, readonly height: number, background = 0xffffffff) {
    this.image = new Image(width, height);
    this.image.fill(background);
  }

  /** Fills a rectangle, clipped to the canvas. rgb in 0-255. */
  box(x: number, y: number, w: number, h: number, rgb: [number, number, number]): void {
    const bitmap = this.image.bitmap;
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) {
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) {
        const o = (yy * this.width + xx) * 4;
        bitmap[o] = rgb[0];
        bitmap[o + 1] = rgb[1];
        bitmap[o + 2] = rgb[2];
        bitmap[o + 3] = 255;
      }
    }
  }

  /** Draws a CHW float image with values in [0, 1], each pixel as a zoom x zoom block. */
  planar(
    x: number,
    y: number,
    data: ArrayLike<number>,
    channels: number,
    h: number,
    w: number,
    zoom: number,
  ) {
    const plane = h * w;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const rgb: [number, number, number] = [0, 0, 0];
        for (let k = 0; k < 3; k++) {
          const v = data[(channels === 1 ? 0 : k) * plane + r * w + c];
          rgb[k] = Math.round(255 * Math.min(1, Math.max(0, v)));
        }
        this.box(x + c * zoom, y + r * zoom, zoom, zoom, rgb);
      }
    }
  }

  /** Draws image `index` of a uint8 CHW set, scaled to `size` x `size` (nearest neighbour). */
  stored(x: number, y: number, set: ImageSet, index: number, size: number): void {
    const { channels: C, height: H, width: W } = set;
    const base = index * C * H * W;
    const bitmap = this.image.bitmap;
    for (let yy = 0; yy < size; yy++) {
      const sy = Math.min(H - 1, Math.floor((yy * H) / size));
      for (let xx = 0; xx < size; xx++) {
        const sx = Math.min(W - 1, Math.floor((xx * W) / size));
        const px = x + xx, py = y + yy;
        if (px < 0 || py < 0 || px >= this.width || py >= this.height) continue;
        const o = (py * this.width + px) * 4;
        for (let k = 0; k < 3; k++) {
          bitmap[o + k] = set.pixels[base + (C === 1 ? 0 : k) * H * W + sy * W + sx];
        }
        bitmap[o + 3] = 255;
      }
    }
  }

  /** Renders text when a font is available; returns whether it did. */
  async text(font: Uint8Array | null, x: number, y: number, text: string, size: number, rgb = [30, 35, 48]) {
    if (!font || !text) return false;
    provideDenoCore();
    const rendered = await Image.renderText(font, size, text, Image.rgbaToColor(rgb[0], rgb[1], rgb[2], 255));
    const clipped = rendered.width + x > this.width
      ? rendered.crop(0, 0, Math.max(1, this.width - x), rendered.height)
      : rendered;
    this.image.composite(clipped, x, y);
    return true;
  }

  /** PNG bytes; the creation-time text chunk is fixed, so the same drawing gives the same file. */
  encode(): Promise<Uint8Array> {
    return this.image.encode(1, { creationTime: 0 });
  }
}

/**
 * imagescript 1.3's font renderer calls Deno.core.encode/decode, which Deno 2 no longer exposes; it only needs
 * UTF-8 conversion, so supply that when missing.
 */
function provideDenoCore(): void {
  const deno = Deno as unknown as { core?: Record<string, unknown> };
  deno.core ??= {};
  deno.core.encode ??= (text: string) => new TextEncoder().encode(text);
  deno.core.decode ??= (bytes: Uint8Array) => new TextDecoder().decode(bytes);
}

const FONT_CANDIDATES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
  "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
];

let fontPromise: Promise<Uint8Array | null> | undefined;

/** A system TrueType font for labels, or null (figures then carry no text; the page's table has it). */
export function systemFont(): Promise<Uint8Array | null> {
  fontPromise ??= (async () => {
    const env = Deno.env.get("REPRODUCE_FONT");
    for (const path of env ? [env, ...FONT_CANDIDATES] : FONT_CANDIDATES) {
      try {
        return await Deno.readFile(path);
      } catch {
        // next candidate
      }
    }
    return null;
  })();
  return fontPromise;
}
