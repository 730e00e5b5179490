// Browser stand-in for the npm package imagescript, which loads its WebAssembly through node:fs. The GUI bundle
// maps `imagescript` here, so src/data/image_decode.ts runs unchanged in the page. JPEG decoding uses the very
// same jpeg.wasm (served by the GUI server from node_modules) and repeats imagescript 1.3.1's conversion of
// its output (Image.decode in ImageScript.js) exactly, so the browser sees the pixels the command line sees.

/** Where the page finds imagescript's wasm/any/jpeg.wasm. */
const wasmUrl = "/vendor/imagescript/jpeg.wasm";
let module: Promise<WebAssembly.Module> | null = null;

interface JpegExports {
  memory: WebAssembly.Memory;
  wlen(): number;
  walloc(size: number): number;
  wfree(ptr: number, size: number): void;
  decode(ptr: number, length: number, width?: number, height?: number): number;
  decode_width(ptr: number): number;
  decode_height(ptr: number): number;
  decode_format(ptr: number): number;
  decode_buffer(ptr: number): number;
  decode_free(ptr: number): void;
}

async function decodeJpeg(
  data: Uint8Array,
): Promise<{ width: number; height: number; format: number; buffer: Uint8Array }> {
  module ??= fetch(wasmUrl).then(async (r) => {
    if (!r.ok) throw new Error(`cannot load the JPEG decoder ${wasmUrl}: HTTP ${r.status}`);
    return WebAssembly.compile(await r.arrayBuffer());
  });
  // A fresh instance per image, as imagescript does (its decoder never shrinks its memory).
  const instance = await WebAssembly.instantiate(await module);
  const wasm = instance.exports as unknown as JpegExports;
  const u8 = (ptr: number, size: number) => new Uint8Array(wasm.memory.buffer, ptr, size);
  const bptr = wasm.walloc(data.length);
  u8(bptr, data.length).set(data);
  const ptr = wasm.decode(bptr, data.length, undefined, undefined);
  if (ptr === 0) throw new Error("jpg: failed to decode");
  if (ptr === 1) throw new Error("jpg: failed to scale decoder");
  const out = {
    width: wasm.decode_width(ptr),
    height: wasm.decode_height(ptr),
    format: wasm.decode_format(ptr),
    buffer: u8(wasm.decode_buffer(ptr), wasm.wlen()).slice(),
  };
  wasm.decode_free(ptr);
  return out;
}

/** The part of imagescript's Image that image_decode.ts uses: decode() to RGBA in `bitmap`. */
export class Image {
  readonly bitmap: Uint8ClampedArray;
  constructor(readonly width: number, readonly height: number) {
    this.bitmap = new Uint8ClampedArray(width * height * 4);
  }

  static async decode(data: Uint8Array): Promise<Image> {
    if (!(data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff)) {
      throw new Error("Unsupported image type"); // PNG never gets here: image_decode.ts has its own decoder
    }
    const fb = await decodeJpeg(data);
    const image = new Image(fb.width, fb.height);
    const { buffer } = fb, bitmap = image.bitmap;
    if (fb.format === 0) {
      const view = new DataView(bitmap.buffer);
      for (let i = 0; i < buffer.length; i++) {
        const p = buffer[i];
        view.setUint32(i * 4, (p << 24) | (p << 16) | (p << 8) | 0xff, false);
      }
    } else if (fb.format === 1) {
      bitmap.fill(0xff);
      for (let i = 0; i < fb.width * fb.height; i++) bitmap.set(buffer.subarray(i * 3, i * 3 + 3), i * 4);
    } else if (fb.format === 2) {
      for (let i = 0; i < buffer.length; i += 4) {
        bitmap[i] = 0xff * (1 - buffer[i] / 0xff) * (1 - buffer[i + 3] / 0xff);
        bitmap[i + 1] = 0xff * (1 - buffer[i + 1] / 0xff) * (1 - buffer[i + 3] / 0xff);
        bitmap[i + 2] = 0xff * (1 - buffer[i + 2] / 0xff) * (1 - buffer[i + 3] / 0xff);
        bitmap[i + 3] = 0xff;
      }
    }
    return image;
  }
}
