/** Fashion-MNIST from its four IDX files (gzip'd as Debian's dataset-fashion-mnist ships them, or plain). */
import type { Dataset, ImageSet } from "./types.ts";
import { errorMessage, exists, gunzipFile, joinPath, manifestChecksum, sha256File } from "./util.ts";

/** Where Debian's dataset-fashion-mnist package installs the IDX files: loadFashionMnist's default folder. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** The ten class names in label order. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** IDX element type codes (third magic byte). Only unsigned bytes occur in (Fashion-)MNIST. */
const IDX_UBYTE = 0x08;

/** A parsed IDX file of unsigned bytes. */
export interface IdxArray {
  /** Sizes, outermost first (count, rows, columns for an image file). */
  dims: number[];
  /** The elements in row-major order: a view into the file's bytes, not a copy. */
  data: Uint8Array;
}

/**
 * Parses an IDX file: magic 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data. `name`
 * is used in errors. Extra trailing bytes are an error too: they mean the file is not what its header says.
 */
export function parseIdx(bytes: Uint8Array, name: string, expectDims?: number): IdxArray {
  if (bytes.length < 4) throw new Error(`${name}: truncated IDX file (${bytes.length} bytes, no header)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
    throw new Error(`${name}: bad IDX magic 0x${magic} (expected 0x000008NN); not an IDX file`);
  }
  if (bytes[2] !== IDX_UBYTE) {
    throw new Error(`${name}: IDX element type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  }
  const ndims = bytes[3];
  if (expectDims !== undefined && ndims !== expectDims) {
    throw new Error(`${name}: IDX file has ${ndims} dimensions, expected ${expectDims}`);
  }
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) throw new Error(`${name}: truncated IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerLen;
  if (have < size) {
    throw new Error(
      `${name}: truncated IDX file: header says ${dims.join("x")} = ${size} bytes, found ${have}`,
    );
  }
  if (have > size) {
    throw new Error(`${name}: ${have - size} unexpected bytes after ${dims.join("x")} IDX data`);
  }
  return { dims, data: bytes.subarray(headerLen, headerLen + size) };
}

async function readIdx(
  dir: string,
  base: string,
  expectDims: number,
): Promise<{ idx: IdxArray; file: string }> {
  for (const file of [joinPath(dir, base + ".gz"), joinPath(dir, base)]) {
    if (!(await exists(file))) continue;
    const bytes = file.endsWith(".gz") ? await gunzipFile(file) : await Deno.readFile(file);
    return { idx: parseIdx(bytes, file, expectDims), file };
  }
  throw new Error(
    `Fashion-MNIST: ${joinPath(dir, base)}(.gz) not found. Install it with ` +
      `\`apt-get install -y dataset-fashion-mnist\` (puts the files in ${FASHION_MNIST_DIR}) or pass the folder ` +
      `holding the four IDX files`,
  );
}

async function loadSplit(dir: string, prefix: string, files: Record<string, string>): Promise<ImageSet> {
  const images = await readIdx(dir, `${prefix}-images-idx3-ubyte`, 3);
  const labels = await readIdx(dir, `${prefix}-labels-idx1-ubyte`, 1);
  for (const f of [images.file, labels.file]) {
    try {
      files[f.slice(f.lastIndexOf("/") + 1)] = await sha256File(f);
    } catch (e) {
      throw new Error(`${f}: ${errorMessage(e)}`);
    }
  }
  const [count, height, width] = images.idx.dims;
  if (labels.idx.dims[0] !== count) {
    throw new Error(`${labels.file}: ${labels.idx.dims[0]} labels but ${images.file} holds ${count} images`);
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = labels.idx.data[i];
    if (l >= FASHION_MNIST_CLASSES.length) {
      throw new Error(`${labels.file}: label ${l} at index ${i} is not 0-9`);
    }
    out[i] = l;
  }
  return {
    classes: [...FASHION_MNIST_CLASSES],
    channels: 1,
    height,
    width,
    count,
    pixels: images.idx.data,
    labels: out,
  };
}

/** Loads Fashion-MNIST (60,000 train / 10,000 test, 1x28x28). checksum: manifest of the four files' sha-256. */
export async function loadFashionMnist(dir = FASHION_MNIST_DIR): Promise<Dataset> {
  const files: Record<string, string> = {};
  const train = await loadSplit(dir, "train", files);
  const test = await loadSplit(dir, "t10k", files);
  return { name: "fashion-mnist", train, test, checksum: await manifestChecksum(files), files };
}
