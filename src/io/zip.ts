// A zip archive reader for what torch.save() writes (src/io/pth.ts): the central directory, ZIP64 records,
// stored entries (torch's: data aligned in place, returned as views without copying) and deflated ones (an
// archive repacked by a zip tool), inflated by the platform's DecompressionStream. No writing, no encryption.

/** One file of the archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Where the entry's local header starts. */
  headerOffset: number;
}

/** A zip archive in memory: its entries by name. */
export interface ZipArchive {
  entries: Map<string, ZipEntry>;
  bytes: Uint8Array;
}

/** Thrown for archives this reader cannot take; the message says what is wrong, without the file name. */
export class ZipError extends Error {}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

/** True when `bytes` starts like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

/** Reads the central directory. Throws ZipError for a truncated or malformed archive. */
export function openZip(bytes: Uint8Array): ZipArchive {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end record sits in the last 22 + 65535 (comment) bytes; a truncated archive has lost it.
  let end = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (dv.getUint32(p, true) === EOCD) {
      end = p;
      break;
    }
  }
  if (end < 0) {
    throw new ZipError(
      `no end-of-central-directory record in its last ${Math.min(bytes.length, 22 + 0xffff)} bytes ` +
        `(truncated?)`,
    );
  }
  let count = dv.getUint16(end + 10, true);
  let dirSize = dv.getUint32(end + 12, true);
  let dirOffset = dv.getUint32(end + 16, true);
  // ZIP64: the classic fields hold 0xffff/0xffffffff and the real ones sit in a record found by a locator.
  if (end >= 20 && dv.getUint32(end - 20, true) === EOCD64_LOCATOR) {
    const at = safeU64(dv, end - 12, "ZIP64 end record offset");
    if (at + 56 > bytes.length || dv.getUint32(at, true) !== EOCD64) {
      throw new ZipError(`the ZIP64 end record at byte ${at} is missing (truncated?)`);
    }
    count = safeU64(dv, at + 32, "entry count");
    dirSize = safeU64(dv, at + 40, "central directory size");
    dirOffset = safeU64(dv, at + 48, "central directory offset");
  }
  if (dirOffset + dirSize > bytes.length) {
    throw new ZipError(
      `its central directory (bytes ${dirOffset}-${dirOffset + dirSize}) lies past the end of the ` +
        `${bytes.length}-byte file (truncated?)`,
    );
  }
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== CENTRAL) {
      throw new ZipError(`central directory entry ${i + 1} of ${count} at byte ${p} is malformed`);
    }
    const nameLength = dv.getUint16(p + 28, true), extraLength = dv.getUint16(p + 30, true);
    const commentLength = dv.getUint16(p + 32, true);
    const entry: ZipEntry = {
      name: decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength)),
      method: dv.getUint16(p + 10, true),
      compressedSize: dv.getUint32(p + 20, true),
      size: dv.getUint32(p + 24, true),
      headerOffset: dv.getUint32(p + 42, true),
    };
    readZip64Extra(dv, p + 46 + nameLength, extraLength, entry);
    entries.set(entry.name, entry);
    p += 46 + nameLength + extraLength + commentLength;
  }
  return { entries, bytes };
}

/** Replaces the 0xffffffff placeholders of `e` with the values of its ZIP64 extra field (id 1). */
function readZip64Extra(dv: DataView, start: number, length: number, e: ZipEntry): void {
  for (let p = start; p + 4 <= start + length;) {
    const id = dv.getUint16(p, true), size = dv.getUint16(p + 2, true);
    if (id === 1) {
      // Only the fields whose classic value overflowed are present, in this order.
      let q = p + 4;
      const next = (what: string) => {
        const v = safeU64(dv, q, what);
        q += 8;
        return v;
      };
      if (e.size === 0xffffffff) e.size = next("size");
      if (e.compressedSize === 0xffffffff) e.compressedSize = next("compressed size");
      if (e.headerOffset === 0xffffffff) e.headerOffset = next("header offset");
      return;
    }
    p += 4 + size;
  }
}

function safeU64(dv: DataView, at: number, what: string): number {
  if (at + 8 > dv.byteLength) throw new ZipError(`its ${what} at byte ${at} lies past the end (truncated?)`);
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`its ${what} (${v}) is out of range`);
  return Number(v);
}

/**
 * An entry's contents: a view into the archive for a stored entry, an inflated copy for a deflated one. Throws
 * ZipError when the entry runs past the end of the archive or uses another compression method.
 */
export async function readEntry(zip: ZipArchive, entry: ZipEntry): Promise<Uint8Array> {
  const { bytes } = zip;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = entry.headerOffset;
  if (h + 30 > bytes.length || dv.getUint32(h, true) !== LOCAL) {
    throw new ZipError(`entry ${entry.name}: no local header at byte ${h} (truncated or damaged?)`);
  }
  // The local header's name and extra lengths may differ from the central directory's: use its own.
  const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) {
    throw new ZipError(
      `entry ${entry.name} needs bytes ${start}-${end}, the file ends at byte ${bytes.length} (truncated?)`,
    );
  }
  const data = bytes.subarray(start, end);
  if (entry.method === 0) return data;
  if (entry.method !== 8) {
    throw new ZipError(
      `entry ${entry.name} uses compression method ${entry.method} (only stored and deflate)`,
    );
  }
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  let out: Uint8Array;
  try {
    out = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new ZipError(`entry ${entry.name} does not inflate (${(e as Error).message})`);
  }
  if (out.length !== entry.size) {
    throw new ZipError(`entry ${entry.name} inflates to ${out.length} bytes, its header says ${entry.size}`);
  }
  return out;
}
