/**
 * Streaming tar reader (ustar, GNU long names, pax path headers) over gzip, in TypeScript so archives open the
 * same way on every platform without a system `tar`.
 */
import { basename, dirname, errorMessage, joinPath, tempSibling } from "./util.ts";

export interface TarEntry {
  /** Path inside the archive, without a leading "./". */
  name: string;
  type: "file" | "directory" | "other";
  size: number;
  mode: number;
  mtime: number;
  /** The file's bytes; only valid while this entry is current (before the iterator advances). */
  bytes(): Promise<Uint8Array>;
  /** Streams the file's bytes to a callback chunk by chunk (for large members). */
  chunks(fn: (chunk: Uint8Array) => void | Promise<void>): Promise<void>;
}

/** Reads exact byte counts from a stream of chunks of arbitrary sizes. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #done = false;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  async #fill(): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      if (this.#done) return false;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        return false;
      }
      this.#buf = value;
      this.#pos = 0;
    }
    return true;
  }
  /** Exactly n bytes, or null at a clean end of stream; throws when the stream ends in the middle. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill())) return null;
    if (this.#buf.length - this.#pos >= n) {
      const out = this.#buf.subarray(this.#pos, this.#pos + n);
      this.#pos += n;
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.#fill())) throw new Error(`unexpected end of data (${got} of ${n} bytes)`);
      const take = Math.min(n - got, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), got);
      this.#pos += take;
      got += take;
    }
    return out;
  }
  /** Passes n bytes to fn in the chunks they arrive in (views into the stream's buffers). */
  async forEach(n: number, fn: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) throw new Error(`unexpected end of data (${n - left} of ${n} bytes)`);
      const take = Math.min(left, this.#buf.length - this.#pos);
      await fn(this.#buf.subarray(this.#pos, this.#pos + take));
      this.#pos += take;
      left -= take;
    }
  }
  /** Reads to the end of the stream (so e.g. a gzip trailer's checksum is verified), discarding the data. */
  async drain(): Promise<void> {
    while (await this.#fill()) this.#pos = this.#buf.length;
  }
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function cString(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(start, end));
}

function octal(b: Uint8Array, start: number, len: number): number {
  // GNU base-256 for sizes of 8 GiB and more: high bit of the first byte set.
  if (b[start] & 0x80) {
    let v = b[start] & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cString(b, start, len).trim();
  return s.length === 0 ? 0 : parseInt(s, 8);
}

function headerChecksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === octal(h, 148, 8);
}

function parsePax(data: Uint8Array): Record<string, string> {
  // Records are "<len> <key>=<value>\n" where len counts bytes of the whole record.
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    let sp = pos;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = parseInt(new TextDecoder().decode(data.subarray(pos, sp)), 10);
    if (!(len > 0)) break;
    const rec = new TextDecoder().decode(data.subarray(sp + 1, pos + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Iterates the members of an uncompressed tar stream. Consume an entry's data before advancing (or skip it). */
export async function* readTar(stream: ReadableStream<Uint8Array>, label = "tar"): AsyncGenerator<TarEntry> {
  const r = new ByteReader(stream);
  let longName: string | null = null;
  let paxPath: string | null = null;
  try {
    for (;;) {
      let header: Uint8Array | null;
      try {
        header = await r.read(512);
      } catch (e) {
        throw new Error(`${label}: truncated or corrupt archive (reading a tar header): ${errorMessage(e)}`);
      }
      if (header === null) return; // tolerate archives without the two zero blocks
      if (header.every((v) => v === 0)) {
        // End of archive. Read the padding that follows so a cut or corrupt gzip stream still fails.
        try {
          await r.drain();
        } catch (e) {
          throw new Error(`${label}: truncated or corrupt archive after its last member: ${errorMessage(e)}`);
        }
        return;
      }
      if (!headerChecksumOk(header)) throw new Error(`${label}: corrupt tar header (bad checksum)`);
      const size = octal(header, 124, 12);
      const typeflag = String.fromCharCode(header[156] || 48);
      const padded = Math.ceil(size / 512) * 512;
      let name = cString(header, 0, 100);
      if (cString(header, 257, 5) === "ustar") {
        const prefix = cString(header, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (typeflag === "L" || typeflag === "x" || typeflag === "g") {
        const data = await r.read(padded);
        if (data === null) throw new Error(`${label}: truncated tar archive`);
        if (typeflag === "L") longName = cString(data, 0, size);
        if (typeflag === "x") paxPath = parsePax(data.subarray(0, size)).path ?? null;
        continue;
      }
      if (paxPath !== null) name = paxPath;
      else if (longName !== null) name = longName;
      longName = paxPath = null;
      name = name.replace(/^(\.\/)+/, "");
      const type = typeflag === "0" || typeflag === "7" ? "file" : typeflag === "5" ? "directory" : "other";
      let consumed = false;
      const take = () => {
        if (consumed) throw new Error(`${label}: data of ${name} already read`);
        consumed = true;
      };
      const wrap = async <T>(f: () => Promise<T>): Promise<T> => {
        try {
          return await f();
        } catch (e) {
          throw new Error(`${label}: truncated or corrupt archive while reading ${name}: ${errorMessage(e)}`);
        }
      };
      const entry: TarEntry = {
        name,
        type,
        size,
        mode: octal(header, 100, 8),
        mtime: octal(header, 136, 12),
        bytes: () => {
          take();
          return wrap(async () => {
            const data = size === 0 ? new Uint8Array(0) : await r.read(padded);
            if (data === null) throw new Error("unexpected end of data");
            return data.slice(0, size);
          });
        },
        chunks: async (fn) => {
          take();
          // Errors of the callback (e.g. a full disk) pass through unchanged; only read errors mean corruption.
          let own: unknown = null;
          const guarded = async (c: Uint8Array) => {
            try {
              await fn(c);
            } catch (e) {
              own = e;
              throw e;
            }
          };
          try {
            await wrap(async () => {
              await r.forEach(size, guarded);
              await r.forEach(padded - size, () => {});
            });
          } catch (e) {
            throw own ?? e;
          }
        },
      };
      yield entry;
      if (!consumed) {
        consumed = true;
        try {
          await r.forEach(padded, () => {});
        } catch (e) {
          throw new Error(`${label}: truncated tar archive in ${name}: ${errorMessage(e)}`);
        }
      }
    }
  } catch (e) {
    const msg = errorMessage(e);
    throw new Error(msg.startsWith(label) ? msg : `${label}: ${msg}`);
  } finally {
    await r.cancel();
  }
}

/** Members of a .tar.gz (or plain .tar) file. */
export async function* readTarGz(archive: string): AsyncGenerator<TarEntry> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(archive);
  } catch (e) {
    throw new Error(`${archive}: cannot open archive: ${errorMessage(e)}`);
  }
  // Gzip by its magic bytes, not the name: a download in progress is called *.part.
  const magic = new Uint8Array(2);
  const n = await file.read(magic);
  await file.seek(0, Deno.SeekMode.Start);
  const gz = n === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  const stream = gz ? file.readable.pipeThrough(new DecompressionStream("gzip")) : file.readable;
  try {
    yield* readTar(stream, archive);
  } catch (e) {
    const msg = errorMessage(e);
    // The gzip layer reports truncation as a bare stream error: name the file and the likely cause.
    throw new Error(msg.startsWith(archive) ? msg : `${archive}: corrupt or truncated archive: ${msg}`);
  }
}

/** Rejects absolute paths and ".." so an archive cannot write outside its destination. */
function safeRelative(name: string, archive: string): string {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (name.startsWith("/") || parts.includes("..")) {
    throw new Error(`${archive}: unsafe path in archive: ${name}`);
  }
  return parts.join("/");
}

export interface ExtractOptions {
  /** Extract only members for which this returns true (directories are created as needed). */
  filter?: (name: string) => boolean;
  /** Called after each extracted file. */
  onFile?: (name: string, size: number) => void;
}

/**
 * Extracts a .tar.gz into dest. Files are written under a temporary sibling folder which is renamed to dest at
 * the end, so an interrupted run never leaves a half-filled dest and concurrent extractions do not collide.
 * If dest already exists it is left alone and nothing is extracted (returns false).
 */
export async function extractTarGz(
  archive: string,
  dest: string,
  opts: ExtractOptions = {},
): Promise<boolean> {
  const dest0 = dest.replace(/\/+$/, "");
  try {
    await Deno.stat(dest0);
    return false;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dirname(dest0), { recursive: true });
  const tmp = tempSibling(dest0);
  await Deno.mkdir(tmp, { recursive: true });
  const made = new Set<string>();
  const mkdirp = async (dir: string) => {
    if (made.has(dir)) return;
    await Deno.mkdir(dir, { recursive: true });
    made.add(dir);
  };
  try {
    for await (const entry of readTarGz(archive)) {
      const rel = safeRelative(entry.name, archive);
      if (rel === "") continue;
      if (entry.type === "directory") {
        if (!opts.filter || opts.filter(rel + "/")) await mkdirp(joinPath(tmp, rel));
        continue;
      }
      if (entry.type !== "file" || (opts.filter && !opts.filter(rel))) continue;
      const target = joinPath(tmp, rel);
      await mkdirp(dirname(target));
      using f = await Deno.open(target, { write: true, create: true, truncate: true });
      await entry.chunks(async (chunk) => {
        let off = 0;
        while (off < chunk.length) off += await f.write(chunk.subarray(off));
      });
      if (entry.mtime > 0) await Deno.utime(target, entry.mtime, entry.mtime).catch(() => {});
      opts.onFile?.(rel, entry.size);
    }
    try {
      await Deno.rename(tmp, dest0);
    } catch (e) {
      // Someone else finished the same extraction first: keep theirs.
      if (await Deno.stat(dest0).then(() => true, () => false)) {
        await Deno.remove(tmp, { recursive: true });
        return false;
      }
      throw e;
    }
    return true;
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(
      errorMessage(e).startsWith(archive)
        ? errorMessage(e)
        : `${archive}: extraction to ${basename(dest0)} failed: ${errorMessage(e)}`,
    );
  }
}
