// How large an image says it is, from its header alone: a 250 KB PNG can declare 16000x16000 pixels and take
// gigabytes to decode, so the GUI (server and page) refuses by the declared size before decoding anything.
// No Deno APIs: the browser bundle uses it too.

/** The most pixels the GUI decodes in one image (a 40-megapixel photo is about 7300x5500). */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Width and height from a PNG's IHDR or a JPEG's start-of-frame header; null when neither is found. */
export function declaredImageSize(b: Uint8Array): { width: number; height: number } | null {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const png = [137, 80, 78, 71, 13, 10, 26, 10];
  if (b.length >= 24 && png.every((v, i) => b[i] === v)) {
    // The first chunk must be IHDR: width and height are its first two big-endian words.
    if (String.fromCharCode(b[12], b[13], b[14], b[15]) !== "IHDR") return null;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (!(b.length >= 4 && b[0] === 0xff && b[1] === 0xd8)) return null;
  let pos = 2;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) return null;
    const marker = b[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or the end before any frame header
    const len = view.getUint16(pos + 2);
    // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, then height and width.
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (pos + 9 > b.length) return null;
      return { width: view.getUint16(pos + 7), height: view.getUint16(pos + 5) };
    }
    pos += 2 + len;
  }
  return null;
}

/** Why an image is too large to decode (the message names it), or null when its header is within the limit. */
export function imageTooLarge(b: Uint8Array, name: string, max = MAX_IMAGE_PIXELS): string | null {
  const size = declaredImageSize(b);
  if (!size || size.width * size.height <= max) return null;
  const mp = (size.width * size.height / 1e6).toFixed(1);
  return `${name}: ${size.width}x${size.height} pixels (${mp} megapixels) is over the limit of ${
    max / 1e6
  } megapixels; scale it down first (the network sees a small square of it anyway)`;
}
