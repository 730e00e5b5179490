/** Small helpers shared by the loaders: hashing, file checks, gzip, default locations. */
import { createHash } from "node:crypto";

/** The project root (two levels above this file), for the default cache location. */
export const PROJECT_ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(
  /\/$/,
  "",
);

/**
 * Default cache folder: $ALEXNET_CACHE_DIR if set, else <project>/.cache (gitignored). Everything derived from the
 * data (extracted archives, decoded shards) goes below it.
 */
export function defaultCacheDir(): string {
  let env: string | undefined;
  try {
    env = Deno.env.get("ALEXNET_CACHE_DIR");
  } catch {
    // No --allow-env: fall back to the project folder.
  }
  return env && env.length > 0 ? env : `${PROJECT_ROOT}/.cache`;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
}

/** Incremental sha-256 (WebCrypto has no streaming digest; node:crypto does). */
export function sha256Stream(): { update(chunk: Uint8Array): void; hex(): string } {
  const h = createHash("sha256");
  return {
    update: (chunk) => void h.update(chunk),
    hex: () => h.digest("hex"),
  };
}

/** sha-256 of a file, streamed so archives of any size hash in constant memory. */
export async function sha256File(path: string): Promise<string> {
  return (await fileDigests(path, ["sha256"])).sha256;
}

/** Several digests of a file in one streamed pass (a download is checked against sha-256 and md5). */
export async function fileDigests<A extends string>(
  path: string,
  algorithms: A[],
): Promise<Record<A, string>> {
  const hashes = algorithms.map((a) => createHash(a));
  using file = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    for (const h of hashes) h.update(buf.subarray(0, n));
  }
  return Object.fromEntries(algorithms.map((a, i) => [a, hashes[i].digest("hex")])) as Record<A, string>;
}

/**
 * One digest standing for a set of files: sha-256 of "<sha256>  <name>\n" lines sorted by name (the sha256sum
 * format), so the same content gives the same checksum whether it came from a folder or an archive.
 */
export function manifestChecksum(files: Record<string, string>): Promise<string> {
  const names = Object.keys(files).sort();
  return sha256Hex(names.map((n) => `${files[n]}  ${n}\n`).join(""));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether anything is at `path`, a dangling symlink included (what a write there would follow or replace). */
export async function entryExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Reads a whole stream into one array. `expected` preallocates when the size is known. */
export async function readAll(stream: ReadableStream<Uint8Array>, expected = 0): Promise<Uint8Array> {
  let out = new Uint8Array(Math.max(expected, 1 << 16));
  let len = 0;
  for await (const chunk of stream) {
    if (len + chunk.length > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, len + chunk.length));
      grown.set(out.subarray(0, len));
      out = grown;
    }
    out.set(chunk, len);
    len += chunk.length;
  }
  return out.length === len ? out : out.slice(0, len);
}

/** Decompresses a gzip file; a truncated or corrupt file is reported with its path. */
export async function gunzipFile(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  try {
    return await readAll(file.readable.pipeThrough(new DecompressionStream("gzip")));
  } catch (e) {
    throw new Error(`${path}: cannot decompress gzip data (truncated or corrupt file?): ${errorMessage(e)}`);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Joins path pieces with "/" (all targets here are POSIX; avoids pulling in a path library). */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join("/").replace(/\/+/g, "/");
}

export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

export function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
}

/** A unique sibling name for writing before an atomic rename (parallel test runs must not collide). */
export function tempSibling(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}
