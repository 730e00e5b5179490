/**
 * PNG decoder to 8-bit RGB. imagescript decodes most PNGs, but it silently accepts truncated files (missing
 * IDAT data or IEND), so a cut download would train on garbage; this decoder checks the chunk structure and the
 * zlib stream, and covers every colour type and bit depth (1-16 bit, palette + tRNS, grey + alpha, Adam7).
 * Alpha is composited over white (a transparent background reads as paper, not as the undefined colour stored
 * under alpha 0).
 */

export interface DecodedRgb {
  width: number;
  height: number;
  /** width*height*3 bytes, row-major RGB. */
  rgb: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && SIGNATURE.every((v, i) => b[i] === v);
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function chunkType(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

async function inflate(data: Uint8Array, expected: number, name: string): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let len = 0;
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  try {
    for await (const chunk of stream) {
      // Extra data beyond what the header implies is ignored, as libpng does.
      const take = Math.min(chunk.length, expected - len);
      out.set(chunk.subarray(0, take), len);
      len += take;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `${name}: truncated or corrupt PNG image data (${len} of ${expected} bytes inflated): ${msg}`,
    );
  }
  if (len < expected) throw new Error(`${name}: truncated PNG image data (${len} of ${expected} bytes)`);
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the per-row filters of one (sub)image in place; returns the offset after it. */
function unfilter(
  buf: Uint8Array,
  start: number,
  rows: number,
  rowBytes: number,
  bpp: number,
  name: string,
): number {
  let pos = start;
  for (let y = 0; y < rows; y++) {
    const f = buf[pos];
    const row = pos + 1;
    const prev = y === 0 ? -1 : row - rowBytes - 1;
    switch (f) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < rowBytes; i++) buf[row + i] = (buf[row + i] + buf[row + i - bpp]) & 255;
        break;
      case 2:
        if (prev >= 0) {
          for (let i = 0; i < rowBytes; i++) buf[row + i] = (buf[row + i] + buf[prev + i]) & 255;
        }
        break;
      case 3:
        for (let i = 0; i < rowBytes; i++) {
          const a = i >= bpp ? buf[row + i - bpp] : 0;
          const b = prev >= 0 ? buf[prev + i] : 0;
          buf[row + i] = (buf[row + i] + ((a + b) >> 1)) & 255;
        }
        break;
      case 4:
        for (let i = 0; i < rowBytes; i++) {
          const a = i >= bpp ? buf[row + i - bpp] : 0;
          const b = prev >= 0 ? buf[prev + i] : 0;
          const c = i >= bpp && prev >= 0 ? buf[prev + i - bpp] : 0;
          buf[row + i] = (buf[row + i] + paeth(a, b, c)) & 255;
        }
        break;
      default:
        throw new Error(`${name}: corrupt PNG (unknown row filter ${f})`);
    }
    pos += rowBytes + 1;
  }
  return pos;
}

/** Decodes a PNG; `name` (the path) is used in every error. */
export async function decodePng(b: Uint8Array, name: string): Promise<DecodedRgb> {
  if (!isPng(b)) throw new Error(`${name}: not a PNG file`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let width = 0, height = 0, depth = 0, colorType = -1, interlace = 0;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let idatLen = 0;
  let ended = false;
  while (pos < b.length) {
    if (pos + 8 > b.length) throw new Error(`${name}: truncated PNG (chunk header cut at byte ${pos})`);
    const len = view.getUint32(pos);
    const type = chunkType(b, pos + 4);
    if (pos + 12 + len > b.length) {
      throw new Error(`${name}: truncated PNG (${type} chunk of ${len} bytes cut at byte ${b.length})`);
    }
    const data = b.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      if (len < 13) throw new Error(`${name}: corrupt PNG header`);
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      depth = data[8];
      colorType = data[9];
      interlace = data[12];
    } else if (type === "PLTE") palette = data;
    else if (type === "tRNS") trns = data;
    else if (type === "IDAT") {
      idat.push(data);
      idatLen += len;
    } else if (type === "IEND") {
      ended = true;
      break;
    }
    pos += 12 + len;
  }
  if (colorType < 0) throw new Error(`${name}: corrupt PNG (no IHDR chunk)`);
  if (!(CHANNELS[colorType] && DEPTHS[colorType].includes(depth))) {
    throw new Error(`${name}: unsupported PNG colour type ${colorType} with bit depth ${depth}`);
  }
  if (width === 0 || height === 0 || width * height > 1 << 28) {
    throw new Error(`${name}: unsupported PNG size ${width}x${height}`);
  }
  if (!ended) throw new Error(`${name}: truncated PNG (no IEND chunk; the file was cut short)`);
  if (idatLen === 0) throw new Error(`${name}: corrupt PNG (no image data)`);
  if (colorType === 3 && !palette) throw new Error(`${name}: corrupt PNG (palette image without PLTE)`);

  const ch = CHANNELS[colorType];
  const bitsPerPixel = ch * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const passes = interlace === 1 ? ADAM7 : [[0, 0, 1, 1]];
  const dims = passes.map(([x0, y0, dx, dy]) => {
    const pw = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const ph = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    return { pw, ph, rowBytes: Math.ceil((pw * bitsPerPixel) / 8) };
  });
  const expected = dims.reduce((s, d) => s + (d.pw > 0 ? d.ph * (d.rowBytes + 1) : 0), 0);
  const all = new Uint8Array(idatLen);
  let off = 0;
  for (const c of idat) {
    all.set(c, off);
    off += c.length;
  }
  const raw = await inflate(all, expected, name);

  // Lookup from sample value to 8 bits, and the transparent colour key of grey/RGB images (raw sample values).
  const maxv = (1 << depth) - 1;
  const key = trns && (colorType === 0 || colorType === 2)
    ? Array.from({ length: colorType === 0 ? 1 : 3 }, (_, i) => (trns![2 * i] << 8) | trns![2 * i + 1])
    : null;
  const to8 = depth === 8
    ? (v: number) => v
    : depth === 16
    ? (v: number) => ((v + 128) / 257) | 0
    : (v: number) => ((v * 255) / maxv) | 0;
  const rgb = new Uint8Array(width * height * 3);
  const s = new Uint16Array(4);
  let at = 0;
  for (let p = 0; p < passes.length; p++) {
    const { pw, ph, rowBytes } = dims[p];
    if (pw === 0 || ph === 0) continue;
    const [x0, y0, dx, dy] = passes[p];
    unfilter(raw, at, ph, rowBytes, bpp, name);
    for (let j = 0; j < ph; j++) {
      const row = at + j * (rowBytes + 1) + 1;
      const y = y0 + j * dy;
      if (depth === 8 && colorType === 2 && dx === 1 && !key) {
        // Fast path for the common case (8-bit RGB, not interlaced): rows are already what we want.
        rgb.set(raw.subarray(row, row + pw * 3), y * width * 3);
        continue;
      }
      for (let i = 0; i < pw; i++) {
        // Read the pixel's ch samples at the file's bit depth.
        for (let c = 0; c < ch; c++) {
          const k = i * ch + c;
          if (depth === 8) s[c] = raw[row + k];
          else if (depth === 16) s[c] = (raw[row + 2 * k] << 8) | raw[row + 2 * k + 1];
          else {
            const bit = k * depth;
            s[c] = (raw[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & maxv;
          }
        }
        let r: number, g: number, bl: number, a = 255;
        if (colorType === 3) {
          const idx = s[0];
          if (3 * idx + 2 >= palette!.length) throw new Error(`${name}: corrupt PNG (palette index ${idx})`);
          r = palette![3 * idx];
          g = palette![3 * idx + 1];
          bl = palette![3 * idx + 2];
          if (trns && idx < trns.length) a = trns[idx];
        } else {
          if (colorType === 0 || colorType === 4) {
            r = g = bl = to8(s[0]);
            if (colorType === 4) a = to8(s[1]);
            else if (key && s[0] === key[0]) a = 0;
          } else {
            r = to8(s[0]);
            g = to8(s[1]);
            bl = to8(s[2]);
            if (colorType === 6) a = to8(s[3]);
            else if (key && s[0] === key[0] && s[1] === key[1] && s[2] === key[2]) a = 0;
          }
        }
        const o = (y * width + x0 + i * dx) * 3;
        if (a === 255) {
          rgb[o] = r;
          rgb[o + 1] = g;
          rgb[o + 2] = bl;
        } else {
          const w = 255 * (255 - a);
          rgb[o] = (r * a + w + 127) / 255;
          rgb[o + 1] = (g * a + w + 127) / 255;
          rgb[o + 2] = (bl * a + w + 127) / 255;
        }
      }
    }
    at += ph * (rowBytes + 1);
  }
  return { width, height, rgb };
}
