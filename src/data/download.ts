/**
 * Fetches one file over HTTP(S) into a partial file beside its destination, showing progress (bytes, MB/s, ETA)
 * and resuming with range requests: after a dropped connection within the same call, and across calls from
 * whatever a killed run left in the partial file. The caller checks the result before putting it in place;
 * local paths and file:// URLs (a mirror on a shared disk) are copied the same way.
 */
import { errorMessage } from "./util.ts";

/** A download that failed: `message` is one line naming the address and what went wrong. */
export class DownloadError extends Error {
  /** "unreachable" (no answer), "http" (an error status), "interrupted" (gave up resuming). */
  constructor(message: string, readonly reason: "unreachable" | "http" | "interrupted") {
    super(message);
  }
}

export interface DownloadOptions {
  url: string;
  /** The partial file written (and resumed from, when it exists). */
  partPath: string;
  /** Prefix of the progress lines, e.g. "cifar10: cifar-10-binary.tar.gz". */
  label: string;
  /** Expected size, for the progress line when the server sends none. */
  bytes?: number;
  log?: (line: string) => void;
  /** Reconnects after a dropped connection (default 5). */
  retries?: number;
  /** Minimum time between two progress lines (default 2 s; the last always prints). */
  progressIntervalMs?: number;
}

/** 170052171 -> "170.1 MB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${Math.max(0, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** "45.2 MB of 170.1 MB (27%), 12.3 MB/s, ETA 10 s". */
export function progressLine(
  received: number,
  total: number | undefined,
  seconds: number,
  fresh: number,
): string {
  const rate = seconds > 0 ? fresh / seconds : 0;
  const of = total ? ` of ${formatBytes(total)} (${Math.floor((100 * received) / total)}%)` : "";
  const eta = total && rate > 0 ? `, ETA ${formatSeconds((total - received) / rate)}` : "";
  return `${formatBytes(received)}${of}, ${(rate / 1e6).toFixed(1)} MB/s${eta}`;
}

async function partSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** What one request gave: a body to append from `offset`, and the full size when the server said. */
interface Opened {
  body: ReadableStream<Uint8Array>;
  offset: number;
  total?: number;
}

async function openHttp(url: string, from: number): Promise<Opened> {
  let res: Response;
  try {
    res = await fetch(url, from > 0 ? { headers: { Range: `bytes=${from}-` } } : {});
  } catch (e) {
    const cause = (e as { cause?: unknown })?.cause;
    const why = oneLine(errorMessage(e) + (cause ? `: ${errorMessage(cause)}` : ""));
    throw new DownloadError(`cannot reach ${url}: ${why}`, "unreachable");
  }
  if (res.status === 416 && from > 0) {
    // Nothing past `from`: the partial file is already whole (a run killed just before its check).
    await res.body?.cancel();
    return { body: new ReadableStream({ start: (c) => c.close() }), offset: from, total: from };
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new DownloadError(`${url} answered HTTP ${res.status} ${res.statusText}`.trim(), "http");
  }
  const length = Number(res.headers.get("content-length"));
  if (res.status === 206) {
    const range = /bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get("content-range") ?? "");
    const start = range ? Number(range[1]) : from;
    if (start !== from) {
      await res.body.cancel();
      throw new DownloadError(`${url} answered a range from byte ${start}, asked from ${from}`, "http");
    }
    const total = range && range[2] !== "*"
      ? Number(range[2])
      : Number.isFinite(length)
      ? from + length
      : undefined;
    return { body: res.body, offset: from, total };
  }
  // A 200 to a range request: the server resends everything, so start over.
  return { body: res.body, offset: 0, total: Number.isFinite(length) && length > 0 ? length : undefined };
}

async function openLocal(url: string, from: number): Promise<Opened> {
  const path = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    throw new DownloadError(`cannot open ${path}: ${oneLine(errorMessage(e))}`, "unreachable");
  }
  const total = (await file.stat()).size;
  await file.seek(Math.min(from, total), Deno.SeekMode.Start);
  return { body: file.readable, offset: Math.min(from, total), total };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Downloads `url` into `partPath`, resuming from what is already there. Returns the size written; the caller
 * verifies the file and then renames or removes it. Errors are DownloadErrors, whose message is one line; after
 * an interrupted transfer the partial file is kept for the next call to resume.
 */
export async function downloadToPart(opts: DownloadOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const retries = opts.retries ?? 5;
  const interval = opts.progressIntervalMs ?? 2000;
  const http = /^https?:\/\//i.test(opts.url);
  let attempt = 0;
  for (;;) {
    const have = await partSize(opts.partPath);
    if (have > 0 && attempt === 0) log(`${opts.label}: resuming at ${formatBytes(have)}`);
    const opened = http ? await openHttp(opts.url, have) : await openLocal(opts.url, have);
    const total = opened.total ?? opts.bytes;
    let received = opened.offset;
    const t0 = performance.now();
    let last = t0;
    try {
      using out = await Deno.open(opts.partPath, {
        write: true,
        create: true,
        truncate: opened.offset === 0,
        append: opened.offset > 0,
      });
      for await (const chunk of opened.body) {
        let off = 0;
        while (off < chunk.length) off += await out.write(chunk.subarray(off));
        received += chunk.length;
        const now = performance.now();
        if (now - last >= interval) {
          last = now;
          log(`${opts.label}: ${progressLine(received, total, (now - t0) / 1000, received - opened.offset)}`);
        }
      }
    } catch (e) {
      attempt++;
      const where = `${opts.url}: connection lost at ${formatBytes(received)}`;
      if (attempt > retries) {
        throw new DownloadError(
          `${where} (${oneLine(errorMessage(e))}); gave up after ${retries} retries, the partial file ` +
            `${opts.partPath} is kept and the next fetch resumes from it`,
          "interrupted",
        );
      }
      log(`${opts.label}: ${where}; resuming (retry ${attempt} of ${retries})`);
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
      continue;
    }
    if (total !== undefined && received < total) {
      attempt++;
      if (attempt > retries) {
        throw new DownloadError(
          `${opts.url}: stopped at ${formatBytes(received)} of ${formatBytes(total)}; the partial file ` +
            `${opts.partPath} is kept and the next fetch resumes from it`,
          "interrupted",
        );
      }
      log(`${opts.label}: ${opts.url} ended at ${formatBytes(received)} of ${formatBytes(total)}; resuming`);
      continue;
    }
    const seconds = (performance.now() - t0) / 1000;
    log(
      `${opts.label}: ${progressLine(received, total ?? received, seconds, received - opened.offset)}, done`,
    );
    return received;
  }
}
