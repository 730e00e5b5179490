// The safetensors format (8-byte little-endian header length, a JSON header, then raw little-endian tensors),
// readable by PyTorch's safetensors.torch.load_file. Only float32 and the string metadata map are used here.

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

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
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new Error(`${source}: header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as unknown as Record<string, string>;
      continue;
    }
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (base + end > bytes.length) {
      throw new Error(`${source}: tensor "${name}" runs past the end of the file (truncated?)`);
    }
    let data: Float32Array;
    if (entry.dtype === "F32") {
      if (end - begin !== count * 4) {
        throw new Error(`${source}: tensor "${name}" size does not match its shape`);
      }
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

function f16ToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function bf16ToFloat(h: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, h << 16);
  return buf.getFloat32(0);
}
