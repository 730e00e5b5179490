// The safetensors format (8-byte little-endian header length, a JSON header, then raw little-endian tensors),
// readable by PyTorch's safetensors.torch.load_file. Only float32 and the string metadata map are used here.

/** One float32 tensor of a safetensors file. */
export interface NamedTensor {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Values in row-major order; F16 and BF16 tensors are widened to float32 when read. */
  data: Float32Array;
}

/** A decoded safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name. */
  tensors: Map<string, NamedTensor>;
  /** The header's string-to-string __metadata__ map ({} when absent). */
  metadata: Record<string, string>;
}

/**
 * Serialises float32 tensors (sorted by name) and a metadata map as safetensors bytes; throws when a tensor's
 * data does not match its shape.
 */
export function encodeSafetensors(
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length) {
      throw new Error(`safetensors: "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the tensor data starts 8-byte aligned, as the reference writer does.
  while ((8 + json.length) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, reading F32, F16 and BF16 tensors as float32. Throws, naming `source`, on a
 * malformed header, a truncated file or another dtype.
 */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsFile {
  if (bytes.length < 8) {
    throw new Error(`${source}: too short to be a safetensors file (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) {
    throw new Error(
      `${source}: header length ${headerLength} does not fit the ${bytes.length}-byte file (truncated?)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new Error(`${source}: header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) {
    throw new Error(`${source}: header is not a JSON object`);
  }
  const base = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = raw as unknown as Record<string, string>;
      continue;
    }
    const entry = checkEntry(raw, bytes.length - base, `${source}: tensor "${name}"`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (entry.dtype === "F32") {
      data = new Float32Array(count);
      new Uint8Array(data.buffer).set(bytes.subarray(base + begin, base + end));
    } else if (entry.dtype === "F16" || entry.dtype === "BF16") {
      data = new Float32Array(count);
      const dv = new DataView(bytes.buffer, bytes.byteOffset + base + begin, end - begin);
      for (let i = 0; i < count; i++) {
        const h = dv.getUint16(2 * i, true);
        data[i] = entry.dtype === "BF16" ? bf16ToFloat(h) : f16ToFloat(h);
      }
    } else {
      throw new Error(
        `${source}: tensor "${name}" has dtype ${entry.dtype}; only F32, F16 and BF16 are supported`,
      );
    }
    tensors.set(name, { shape: entry.shape, data });
  }
  return { tensors, metadata };
}

/** Bytes per element of every dtype the safetensors format defines. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * A header entry checked against the data it describes (`dataBytes` after the header): a known dtype, a shape of
 * whole numbers >= 0, offsets inside the data, and exactly as many bytes as the shape needs. `what` starts each
 * message ("<file>: tensor "<name>"").
 */
function checkEntry(raw: unknown, dataBytes: number, what: string): TensorEntry {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`${what}: header entry is not an object (${JSON.stringify(raw)})`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string") throw new Error(`${what}: header entry has no dtype`);
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new Error(`${what} has an unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${what}: shape ${JSON.stringify(shape)} is not a list of whole numbers >= 0`);
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
  ) {
    throw new Error(
      `${what}: data_offsets ${JSON.stringify(offsets)} are not [begin, end] with 0 <= begin <= end`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataBytes) {
    throw new Error(
      `${what} runs past the end of the file (bytes ${begin}-${end} of ${dataBytes} data bytes; truncated?)`,
    );
  }
  const needed = shape.reduce((a: number, b: number) => a * b, 1) * size;
  if (end - begin !== needed) {
    throw new Error(
      `${what}: ${dtype} [${shape}] needs ${needed} bytes, the header gives it ${end - begin} ` +
        `(data_offsets [${begin},${end}])`,
    );
  }
  return { dtype, shape, data_offsets: [begin, end] };
}

/** An IEEE half (its 16 bits) as a number. */
export function f16ToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A bfloat16 (its 16 bits) as a number. */
export function bf16ToFloat(h: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, h << 16);
  return buf.getFloat32(0);
}
