// The GUI's HTTP server (Deno.serve on 127.0.0.1): the page, its bundle, the WGSL kernels and the JPEG
// decoder's wasm for in-browser inference, the checkpoints under models/ and results/ and the fetched models
// (by name, with their registry cards), the reports under results/, and POST /api/classify for browsers
// without WebGPU (classified here on Deno's WebGPU).

import { Image } from "imagescript";
import { defaultCacheDir, PROJECT_ROOT } from "../data/util.ts";
import { decodeImageBytes } from "../data/image_decode.ts";
import { Gpu } from "../gpu/runtime.ts";
import { formatAdapter } from "../gpu/device.ts";
import { Classifier, topK } from "../classify/classifier.ts";
import { storedPixels } from "../classify/preprocess.ts";
import { conv1Filters } from "../classify/filters.ts";
import {
  type CheckpointEntry,
  defaultModelPath,
  findCheckpoints,
  readCheckpointFile,
} from "../classify/files.ts";
import { buildGuiBundle } from "./bundle.ts";
import { imageTooLarge } from "./image_limits.ts";
import { asModelCard, cardFromRegistry, type ModelCard } from "./model_card.ts";
import { fetchedModels } from "../io/fetched_models.ts";
import { loadModelRegistry } from "../io/model_registry.ts";

export interface GuiServerOptions {
  /** 0 picks a free port. */
  port?: number;
  hostname?: string;
  /** A checkpoint to list (even outside models/ and results/) and select first. */
  model?: string | null;
  /** Project root: models/, results/, kernels/ and node_modules/ are found below it. */
  root?: string;
  /**
   * Where fetched models are (<cache>/models); default $ALEXNET_CACHE_DIR or <project>/.cache for the project,
   * <root>/.cache for another root (a test's, which must not see the models fetched into the project).
   */
  cacheDir?: string;
  log?: (line: string) => void;
}

export interface GuiServer {
  url: string;
  port: number;
  /** Milliseconds the browser bundle took to build. */
  bundleMs: number;
  close(): Promise<void>;
}

/** The largest request body POST /api/classify reads (an image file). */
export const MAX_UPLOAD_BYTES = 32 * 2 ** 20;

const GUI_DIR = decodeURIComponent(new URL(".", import.meta.url).pathname).replace(/\/$/, "");

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  wgsl: "text/plain; charset=utf-8",
  wasm: "application/wasm",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
  md: "text/plain; charset=utf-8",
  tsv: "text/plain; charset=utf-8",
  csv: "text/plain; charset=utf-8",
  jsonl: "text/plain; charset=utf-8",
  yaml: "text/plain; charset=utf-8",
};

function contentType(path: string): string {
  return TYPES[path.slice(path.lastIndexOf(".") + 1).toLowerCase()] ?? "application/octet-stream";
}

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
const problem = (status: number, error: string) => json({ error }, status);

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The file at `path`; `shown` is what a 404 names (the URL path, never the server's own path). */
async function fileResponse(path: string, shown: string): Promise<Response> {
  try {
    const file = await Deno.open(path);
    return new Response(file.readable, { headers: { "content-type": contentType(path) } });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return problem(404, `not found: ${shown}`);
    throw e;
  }
}

/**
 * Error text as clients may see it: paths below each of `roots` (longest first) become relative to it. The
 * server's log keeps the whole message.
 */
export function withoutServerPaths(text: string, roots: string[]): string {
  let out = text;
  const prefixes = roots.filter((r) => r && r !== "/").map((r) => `${r.replace(/\/+$/, "")}/`);
  for (const r of prefixes.sort((x, y) => y.length - x.length)) out = out.split(r).join("");
  return out;
}

/** decodeURIComponent, or null for malformed %-escapes (which it throws on). */
function decodeOrNull(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * The request body, or a 413 once it is known to exceed `max` bytes: from Content-Length before reading
 * anything, else while streaming (the rest is never read).
 */
async function readUpload(req: Request, name: string, max: number): Promise<Uint8Array | Response> {
  const limit = `${max / 2 ** 20} MiB`;
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > max) return problem(413, `${name}: ${mib(declared)} is over the upload limit of ${limit}`);
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return problem(413, `${name}: the upload ran past the limit of ${limit}`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/**
 * results<rest> (rest "" or "/..."): files as they are, folders as their index.html or a listing. Links are
 * followed only while they stay inside results/: what is served must resolve (Deno.realPath) below it.
 */
async function serveResults(root: string, rest: string): Promise<Response> {
  const parts = rest.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) return problem(400, "bad path");
  const shown = `results/${parts.join("/")}`;
  let base: string;
  try {
    base = await Deno.realPath(`${root}/results`);
  } catch {
    return problem(404, `${shown}: not found`);
  }
  /** The real path of `path`, null when it does not exist, or a 403 when it resolves outside results/. */
  const resolve = async (path: string, what: string): Promise<string | null | Response> => {
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch {
      return null;
    }
    if (real === base || real.startsWith(`${base}/`)) return real;
    return problem(403, `${what}: a link that leads outside results/ (not served)`);
  };
  const path = await resolve([base, ...parts].join("/"), shown);
  if (path instanceof Response) return path;
  const info = path === null ? null : await Deno.stat(path).catch(() => null);
  if (path === null || info === null) return problem(404, `${shown}: not found`);
  if (!info.isDirectory) return fileResponse(path, `/${shown}`);
  if (!rest.endsWith("/")) {
    const location = `/results/${parts.map(encodeURIComponent).join("/")}${parts.length ? "/" : ""}`;
    return new Response(null, { status: 301, headers: { location } });
  }
  const indexShown = `${shown}${parts.length ? "/" : ""}index.html`;
  const index = await resolve(`${path}/index.html`, indexShown);
  if (index instanceof Response) return index;
  if (index !== null && (await Deno.stat(index).catch(() => null))?.isFile) {
    return fileResponse(index, `/${indexShown}`);
  }
  // No index page: list the folder.
  const entries = (await Array.fromAsync(Deno.readDir(path))).sort((a, b) => (a.name < b.name ? -1 : 1));
  const items = entries.map((e) => {
    const name = e.name + (e.isDirectory ? "/" : "");
    return `<li><a href="${encodeURIComponent(e.name)}${e.isDirectory ? "/" : ""}">${
      escapeHtml(name)
    }</a></li>`;
  });
  const title = `results/${parts.join("/")}`;
  return new Response(
    `<!doctype html><meta charset="utf-8"><link rel="icon" href="/favicon.svg"><title>${
      escapeHtml(title)
    }</title><h1>${escapeHtml(title)}</h1>` +
      `<p><a href="/">classify</a>${parts.length ? ' · <a href="../">up</a>' : ""}</p><ul>${
        items.join("")
      }</ul>`,
    { headers: { "content-type": TYPES.html } },
  );
}

/** Report pages under results/: every index.html, then other .html files (at most 200). */
async function findReports(root: string): Promise<{ href: string; title: string }[]> {
  const found: string[] = [];
  const walk = async (dir: string, rel: string, depth: number) => {
    if (depth > 6 || found.length >= 200) return;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.isFile && e.name.endsWith(".html")) found.push(`${rel}${e.name}`);
      else if (e.isDirectory && e.name !== "checkpoints") {
        await walk(`${dir}/${e.name}`, `${rel}${e.name}/`, depth + 1);
      }
    }
  };
  await walk(`${root}/results`, "", 0);
  const rank = (p: string) => (p === "index.html" ? 0 : p.endsWith("/index.html") ? 1 : 2);
  found.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  return found.map((p) => ({
    href: `/results/${p.split("/").map(encodeURIComponent).join("/")}`,
    title: p === "index.html" ? "All results (results/index.html)" : `results/${p}`,
  }));
}

/** The page's icon: a 3x3 grid of grey levels (a convolution kernel) on the page's blue. */
const ICON_CELLS = [0.95, 0.45, 0.8, 0.3, 1, 0.55, 0.7, 0.25, 0.9];
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">` +
  `<rect width="32" height="32" rx="6" fill="#2f6fd6"/>` +
  ICON_CELLS.map((v, i) =>
    `<rect x="${5 + 8 * (i % 3)}" y="${5 + 8 * Math.floor(i / 3)}" width="6" height="6" fill="#fff" ` +
    `fill-opacity="${v}"/>`
  ).join("") + `</svg>`;

/** The same icon as a 32x32 PNG, for /favicon.ico (what browsers ask for on pages that name no icon). */
async function iconPng(): Promise<Uint8Array> {
  const image = new Image(32, 32);
  const blue = [0x2f, 0x6f, 0xd6];
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const cx = x - 5, cy = y - 5;
      const inCell = cx >= 0 && cy >= 0 && cx < 22 && cy < 22 && cx % 8 < 6 && cy % 8 < 6;
      const a = inCell ? ICON_CELLS[Math.floor(cy / 8) * 3 + Math.floor(cx / 8)] : 0;
      const [r, g, b] = blue.map((c) => Math.round(c + (255 - c) * a));
      image.setPixelAt(x + 1, y + 1, ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0);
    }
  }
  return await image.encode();
}

/**
 * The model card beside a checkpoint (X.json for X.safetensors), or null: none, not a card, or a card whose
 * recorded size is not this file's.
 */
async function modelCard(entry: CheckpointEntry): Promise<ModelCard | null> {
  let card: ModelCard | null;
  try {
    card = asModelCard(JSON.parse(await Deno.readTextFile(entry.path.replace(/\.safetensors$/, ".json"))));
  } catch {
    return null;
  }
  return card && (card.bytes === undefined || card.bytes === entry.bytes) ? card : null;
}

/** conv1's kernels as a PNG (the page draws them itself when it has the weights). */
async function filtersPng(entry: CheckpointEntry): Promise<Response> {
  const ckpt = await readCheckpointFile(entry.path);
  const grid = conv1Filters(ckpt.meta.model, ckpt.weights);
  if (!grid) return problem(404, `${entry.id}: the model has no convolutional layer`);
  const image = new Image(grid.width, grid.height);
  image.bitmap.set(grid.rgba);
  return new Response((await image.encode()) as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "image/png" },
  });
}

export async function startGuiServer(o: GuiServerOptions = {}): Promise<GuiServer> {
  const root = (o.root ?? PROJECT_ROOT).replace(/\/$/, "");
  const log = o.log ?? ((line: string) => console.error(line));
  const bundle = await buildGuiBundle();
  const iconPngBytes = await iconPng();
  const extra = o.model ? [o.model] : [];
  const cacheDir = o.cacheDir ?? (root === PROJECT_ROOT ? defaultCacheDir() : `${root}/.cache`);
  const wantDefault = o.model ?? defaultModelPath();

  // Folders whose paths error bodies leave out (the project, the GUI's files, the --model file's folder...).
  const privateRoots = [root, PROJECT_ROOT, GUI_DIR, Deno.cwd(), Deno.env.get("HOME") ?? "", "/tmp"];
  if (o.model) privateRoots.push(o.model.startsWith("/") ? o.model.replace(/\/[^/]*$/, "") : Deno.cwd());

  const reported = new Set<string>(); // problems are logged once, not on every listing
  const report = (p: string) => {
    if (!reported.has(p)) log(`gui: skipping ${p}`);
    reported.add(p);
  };
  /** Fetched models by name, with their registry cards; a broken registry hides them, saying why. */
  const fetched = async () => {
    try {
      return await fetchedModels(await loadModelRegistry(), cacheDir);
    } catch (e) {
      report(`the fetched models: ${(e as Error).message}`);
      return [];
    }
  };
  const listModels = async () => {
    const named = await fetched();
    const { entries, problems } = await findCheckpoints(
      root,
      extra,
      named.map((n) => ({ id: n.entry.name, path: n.path })),
    );
    for (const p of problems) report(p);
    const want = wantDefault.startsWith("/") ? wantDefault : `${Deno.cwd()}/${wantDefault}`;
    const initial = entries.find((e) => e.path === want) ?? entries[0] ?? null;
    const cards = new Map(named.map((n) => [n.path, cardFromRegistry(n.entry.card)]));
    return { entries, initial, cards };
  };
  const findModel = async (id: string | null) => {
    const { entries } = await listModels();
    return entries.find((e) => e.id === id) ?? null;
  };

  // Server-side inference (the fallback): one GPU, one cached classifier, one request at a time.
  let gpu: Promise<Gpu> | null = null;
  let cached: { path: string; classifier: Classifier } | null = null;
  let lock: Promise<unknown> = Promise.resolve();
  const serially = <T>(job: () => Promise<T>): Promise<T> => {
    const run = lock.then(job, job);
    lock = run.catch(() => {});
    return run;
  };

  const classify = async (req: Request, url: URL): Promise<Response> => {
    const entry = await findModel(url.searchParams.get("model"));
    if (!entry) return problem(404, `unknown model "${url.searchParams.get("model")}"`);
    const top = Math.max(1, Math.min(1000, Number(url.searchParams.get("top") ?? 5) || 5));
    const tenCrop = url.searchParams.get("tenCrop") === "1";
    const name = decodeOrNull(req.headers.get("x-file-name") ?? "upload");
    if (name === null) return problem(400, "bad %-encoding in the X-File-Name header");
    const bytes = await readUpload(req, name, MAX_UPLOAD_BYTES);
    if (bytes instanceof Response) return bytes;
    const tooLarge = imageTooLarge(bytes, name);
    if (tooLarge) return problem(413, tooLarge);
    // Decoding runs in the queue too, so that several large uploads are not decoded at once.
    return await serially(async () => {
      const t0 = performance.now();
      let img, pixels;
      try {
        img = await decodeImageBytes(bytes, name);
        pixels = storedPixels(img, entry.meta.preprocess);
      } catch (e) {
        return problem(422, (e as Error).message);
      }
      const t1 = performance.now();
      gpu ??= Gpu.create();
      const device = await gpu;
      if (cached?.path !== entry.path) {
        cached?.classifier.dispose();
        cached = null;
        cached = {
          path: entry.path,
          classifier: new Classifier(device, await readCheckpointFile(entry.path)),
        };
      }
      const { classifier } = cached;
      await classifier.prepare([1], tenCrop); // (compiles only on a first run)
      const t2 = performance.now();
      const [probs] = await classifier.run([pixels], tenCrop);
      const t3 = performance.now();
      return json({
        file: name,
        width: img.width,
        height: img.height,
        views: tenCrop ? 10 : 1,
        top: topK(probs, classifier.classes, top),
        ms: { decode: t1 - t0, load: t2 - t1, inference: t3 - t2 },
        adapter: formatAdapter(device.adapter),
      });
    });
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = decodeOrNull(url.pathname);
    if (path === null) return problem(400, "bad %-encoding in the URL");
    if (req.method === "POST" && path === "/api/classify") return await classify(req, url);
    if (req.method !== "GET" && req.method !== "HEAD") return problem(405, `${req.method} not allowed`);
    if (path === "/" || path === "/index.html") return fileResponse(`${GUI_DIR}/index.html`, path);
    if (path === "/style.css") return fileResponse(`${GUI_DIR}/style.css`, path);
    if (path === "/app.js") return new Response(bundle.code, { headers: { "content-type": TYPES.js } });
    if (path === "/favicon.svg") return new Response(ICON_SVG, { headers: { "content-type": TYPES.svg } });
    if (path === "/favicon.ico") {
      return new Response(iconPngBytes as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": TYPES.png },
      });
    }
    if (path === "/kernels/index.json") {
      const names = (await Array.fromAsync(Deno.readDir(`${root}/kernels`)))
        .filter((e) => e.isFile && e.name.endsWith(".wgsl"))
        .map((e) => e.name.slice(0, -5))
        .sort();
      return json(names);
    }
    const kernel = path.match(/^\/kernels\/([\w-]+\.wgsl)$/);
    if (kernel) return fileResponse(`${root}/kernels/${kernel[1]}`, path);
    if (path === "/vendor/imagescript/jpeg.wasm") {
      return fileResponse(`${root}/node_modules/imagescript/wasm/any/jpeg.wasm`, path);
    }
    if (path === "/api/models") {
      const { entries, initial, cards } = await listModels();
      return json({
        default: initial?.id ?? null,
        models: await Promise.all(entries.map(async (e) => ({
          id: e.id,
          label: e.id === e.meta.model.name
            ? `${e.id} (${mib(e.bytes)})`
            : `${e.id} (${e.meta.model.name}, ${mib(e.bytes)})`,
          meta: e.meta,
          card: cards.has(e.path) ? cards.get(e.path) : await modelCard(e),
        }))),
      });
    }
    if (path === "/api/checkpoint" || path === "/api/filters.png") {
      const entry = await findModel(url.searchParams.get("id"));
      if (!entry) return problem(404, `unknown model "${url.searchParams.get("id")}"`);
      return path === "/api/checkpoint" ? fileResponse(entry.path, entry.id) : await filtersPng(entry);
    }
    if (path === "/api/reports") return json({ reports: await findReports(root) });
    if (path === "/results" || path.startsWith("/results/")) {
      return await serveResults(root, path.slice("/results".length));
    }
    return problem(404, `not found: ${path}`);
  };

  const server = Deno.serve({
    port: o.port ?? 8765,
    hostname: o.hostname ?? "127.0.0.1",
    onListen: () => {},
  }, async (req) => {
    let res: Response;
    try {
      res = await handle(req);
    } catch (e) {
      log(`gui: ${req.method} ${req.url}: ${(e as Error).stack ?? e}`);
      res = problem(500, `internal error: ${(e as Error).message}`);
    }
    if (res.status < 400) return res;
    // Error bodies are short JSON; whatever produced one, it leaves without the server's paths.
    return new Response(withoutServerPaths(await res.text(), privateRoots), {
      status: res.status,
      headers: res.headers,
    });
  });
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    bundleMs: bundle.ms,
    close: async () => {
      await server.shutdown();
      cached?.classifier.dispose();
      if (gpu) (await gpu).destroy();
    },
  };
}
