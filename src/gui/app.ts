/// <reference lib="dom" />
// The GUI page: classifies dropped or picked images IN THE BROWSER on WebGPU, with the project's WGSL kernels
// and the same TypeScript as the command line (decoding, preprocessing, network, softmax, top-K). Without
// WebGPU it says so and sends the images to the server (POST /api/classify), which runs the Deno GPU path.

import { setKernelSourceLoader } from "../gpu/kernels.ts";
import { Gpu } from "../gpu/runtime.ts";
import { decodeImageBytes } from "../data/image_decode.ts";
import type { CheckpointMeta } from "../io/checkpoint.ts";
import { describeCheckpoint, loadClassifierCheckpoint } from "../classify/checkpoint.ts";
import { Classifier, type Prediction, topK } from "../classify/classifier.ts";
import { storedPixels } from "../classify/preprocess.ts";
import { conv1Filters } from "../classify/filters.ts";
import { imageTooLarge } from "./image_limits.ts";
import { type ModelCard, whatTheModelKnows } from "./model_card.ts";

interface ModelEntry {
  id: string;
  label: string;
  description: string;
  meta: CheckpointMeta;
  card: ModelCard | null;
}

interface ServerResult {
  file: string;
  width: number;
  height: number;
  views: number;
  top: Prediction[];
  adapter: string;
  /** Milliseconds the server spent: decoding, loading the model and compiling (0 once done), inference. */
  ms: { decode: number; load: number; inference: number };
}

const TOP = 5;
const BATCH = 8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const backendEl = $<HTMLParagraphElement>("backend");
const statusEl = $<HTMLParagraphElement>("status");
const modelSelect = $<HTMLSelectElement>("model");
const modelInfo = $<HTMLParagraphElement>("model-info");
const modelKnows = $<HTMLParagraphElement>("model-knows");
const tenCropBox = $<HTMLInputElement>("ten-crop");
const fileInput = $<HTMLInputElement>("files");
const drop = $<HTMLDivElement>("drop");
const results = $<HTMLElement>("results");
const filtersCanvas = $<HTMLCanvasElement>("filters");
const filtersCaption = $<HTMLParagraphElement>("filters-caption");
const clearButton = $<HTMLButtonElement>("clear");

let gpu: Gpu | null = null;
let models: ModelEntry[] = [];
let current: { id: string; meta: CheckpointMeta; classifier: Classifier | null } | null = null;
// Model switches and classifications run one at a time, in order.
let queue: Promise<unknown> = Promise.resolve();
/** Models this page has had the server classify with (the server compiles on the first). */
const sentToServer = new Set<string>();
const enqueue = (job: () => Promise<void>) => (queue = queue.then(job, job));

function setStatus(text: string, error = false): void {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", error);
}

const ms = (t: number) => `${t.toFixed(0)} ms`;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status} with no JSON body` }));
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
  return body as T;
}

/** WebGPU with the project's kernels, or the reason it is not available. */
async function startWebGpu(): Promise<Gpu | string> {
  if (new URLSearchParams(location.search).get("backend") === "server") return "the page was asked to";
  if (!("gpu" in navigator) || !navigator.gpu) return "this browser has no WebGPU (navigator.gpu)";
  try {
    const names = await fetchJson<string[]>("/kernels/index.json");
    const texts = await Promise.all(names.map(async (name) => {
      const r = await fetch(`/kernels/${name}.wgsl`);
      if (!r.ok) throw new Error(`kernel ${name}.wgsl: HTTP ${r.status}`);
      return [name, await r.text()] as const;
    }));
    const sources = new Map(texts);
    // Must be set before the Gpu compiles anything: kernels.ts otherwise reads the files with Deno APIs.
    setKernelSourceLoader((name) => {
      const text = sources.get(name);
      if (text === undefined) throw new Error(`kernel ${name}.wgsl was not served`);
      return text;
    });
    return await Gpu.create();
  } catch (e) {
    return message(e);
  }
}

function showBackend(reason: string | null): void {
  if (gpu) {
    backendEl.dataset.backend = "webgpu";
    const a = gpu.adapter;
    const name = [
      ...new Set([a.description, a.vendor, a.architecture].filter((s) => s && s !== "unknown adapter")),
    ];
    backendEl.textContent =
      `Inference runs in this browser on WebGPU (${name.join(" ") || "unnamed adapter"}), ` +
      `with the project's WGSL kernels.`;
  } else {
    backendEl.dataset.backend = "server";
    backendEl.textContent = `WebGPU is not available here (${reason}): images are sent to the server, ` +
      `which classifies them on its own WebGPU device (POST /api/classify).`;
  }
}

function drawFilters(meta: CheckpointMeta, weights: Map<string, Float32Array> | null, id: string): void {
  const ctx = filtersCanvas.getContext("2d")!;
  if (weights) {
    const grid = conv1Filters(meta.model, weights);
    if (!grid) {
      filtersCaption.textContent = "This model has no convolutional layer.";
      filtersCanvas.width = filtersCanvas.height = 0;
      showCanvasEnlarged();
      return;
    }
    filtersCanvas.width = grid.width;
    filtersCanvas.height = grid.height;
    showCanvasEnlarged();
    ctx.putImageData(new ImageData(new Uint8ClampedArray(grid.rgba), grid.width, grid.height), 0, 0);
    filtersCaption.textContent =
      `${grid.count} kernels of ${grid.layer} (${grid.kernel}x${grid.kernel}x${grid.channels}` +
      `), each stretched to the full range on its own, as in the paper's figure 3.`;
  } else {
    // Server mode: the server draws the same grid as a PNG.
    const img = new Image();
    img.onload = () => {
      filtersCanvas.width = img.width;
      filtersCanvas.height = img.height;
      showCanvasEnlarged(); // only now is the grid's size known
      ctx.drawImage(img, 0, 0);
    };
    img.onerror = () => {
      filtersCanvas.width = filtersCanvas.height = 0;
      showCanvasEnlarged();
      filtersCaption.textContent = "The server could not draw this model's conv1 kernels.";
    };
    img.src = `/api/filters.png?id=${encodeURIComponent(id)}`;
    filtersCaption.textContent =
      `conv1 kernels, each stretched to the full range on its own (paper figure 3).`;
  }
}

/** The kernels are a few pixels each: shown five times larger (at most 720 px wide), once the size is set. */
function showCanvasEnlarged(): void {
  filtersCanvas.style.width = `${Math.min(720, filtersCanvas.width * 5)}px`;
}

async function selectModel(id: string): Promise<void> {
  const entry = models.find((m) => m.id === id);
  if (!entry) return;
  document.body.dataset.ready = "0";
  current?.classifier?.dispose();
  current = null;
  modelInfo.textContent = entry.description;
  modelKnows.textContent = whatTheModelKnows(entry.meta, entry.card);
  try {
    if (gpu) {
      setStatus(`Loading ${entry.id}…`);
      const r = await fetch(`/api/checkpoint?id=${encodeURIComponent(id)}`);
      if (!r.ok) throw new Error(`${id}: HTTP ${r.status}: ${await r.text()}`);
      const ckpt = loadClassifierCheckpoint(new Uint8Array(await r.arrayBuffer()), id);
      current = { id, meta: ckpt.meta, classifier: new Classifier(gpu, ckpt) };
      drawFilters(ckpt.meta, ckpt.weights, id);
    } else {
      current = { id, meta: entry.meta, classifier: null };
      drawFilters(entry.meta, null, id);
    }
    setStatus(`Model ${entry.label} ready: drop or choose images.`);
    document.body.dataset.model = id;
    document.body.dataset.ready = "1";
  } catch (e) {
    setStatus(`Cannot use ${id}: ${message(e)}`, true);
  }
}

function card(file: File): HTMLElement {
  const el = document.createElement("article");
  el.className = "result";
  el.dataset.file = file.name;
  el.dataset.state = "pending";
  const img = document.createElement("img");
  img.className = "thumb";
  img.alt = file.name;
  img.src = URL.createObjectURL(file);
  img.onerror = () => {
    // Not displayable (e.g. not an image at all): a plain box instead of the broken-image icon.
    const box = document.createElement("div");
    box.className = "thumb none";
    box.textContent = "no preview";
    img.replaceWith(box);
  };
  const body = document.createElement("div");
  body.className = "body";
  const title = document.createElement("h3");
  title.textContent = file.name;
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = "waiting…";
  body.append(title, meta);
  el.append(img, body);
  results.append(el); // in the order dropped, after earlier results
  clearButton.disabled = false;
  return el;
}

/** Empties the results (a classification still running finishes into cards no longer shown). */
function clearResults(): void {
  for (const img of results.querySelectorAll<HTMLImageElement>("img.thumb")) URL.revokeObjectURL(img.src);
  results.replaceChildren();
  clearButton.disabled = true;
}

type Shown = Omit<ServerResult, "adapter" | "ms">;

/** `times` says what each measured time covers (the inference of a batch is the batch's, not the image's). */
function showResult(el: HTMLElement, r: Shown, how: string, times: string): void {
  el.dataset.state = "done";
  el.dataset.backend = gpu ? "webgpu" : "server";
  el.querySelector(".meta")!.textContent = `${r.width}x${r.height} · ${current?.id} · ` +
    `${r.views > 1 ? `${r.views} views averaged · ` : ""}${how} · ${times}`;
  const list = document.createElement("ol");
  list.className = "bars";
  for (const p of r.top) {
    const li = document.createElement("li");
    li.className = "bar";
    li.dataset.class = p.label;
    li.dataset.prob = String(p.probability);
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = p.label;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(100 * p.probability).toFixed(2)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${(100 * p.probability).toFixed(2)}%`;
    li.append(label, track, value);
    list.append(li);
  }
  el.querySelector(".body")!.append(list);
}

function showError(el: HTMLElement, text: string): void {
  el.dataset.state = "error";
  const meta = el.querySelector(".meta")!;
  meta.textContent = text;
  meta.classList.add("error");
}

async function classifyInBrowser(files: File[], cards: HTMLElement[], tenCrop: boolean): Promise<void> {
  const { classifier, meta } = current!;
  const n = files.length;
  // Compile first what these batches need, saying how far it is (it takes seconds on a first run).
  const sizes = Array.from({ length: Math.ceil(n / BATCH) }, (_, b) => Math.min(BATCH, n - b * BATCH));
  try {
    await classifier!.prepare(sizes, tenCrop, (done, total) => {
      if (total === 0) return;
      setStatus(
        `Compiling the network's WebGPU kernels, ${done} of ${total} ready: the first run with a model ` +
          `(or with a new batch size) compiles them once, later runs reuse them…`,
      );
    });
  } catch (e) {
    for (const el of cards) showError(el, `WebGPU kernels failed to compile: ${message(e)}`);
    return;
  }
  for (let i = 0; i < files.length; i += BATCH) {
    const batch: { el: HTMLElement; width: number; height: number; px: Uint8Array; decodeMs: number }[] = [];
    for (const [k, file] of files.slice(i, i + BATCH).entries()) {
      const el = cards[i + k];
      el.querySelector(".meta")!.textContent = "classifying…";
      setStatus(`Classifying image ${i + k + 1} of ${n}: decoding ${file.name}…`);
      const t0 = performance.now();
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        const tooLarge = imageTooLarge(bytes, file.name);
        if (tooLarge) throw new Error(tooLarge);
        const img = await decodeImageBytes(bytes, file.name);
        const px = storedPixels(img, meta.preprocess);
        batch.push({ el, width: img.width, height: img.height, px, decodeMs: performance.now() - t0 });
      } catch (e) {
        showError(el, message(e));
      }
    }
    if (batch.length === 0) continue;
    setStatus(
      batch.length === 1
        ? `Classifying image ${i + 1} of ${n} on WebGPU…`
        : `Classifying images ${i + 1} to ${i + batch.length} of ${n} on WebGPU, as one batch…`,
    );
    try {
      const t1 = performance.now();
      const probs = await classifier!.run(batch.map((b) => b.px), tenCrop);
      const inference = `inference ${ms(performance.now() - t1)}` +
        (batch.length > 1 ? ` for the batch of ${batch.length} images` : "");
      batch.forEach((b, k) => {
        const r = { file: b.el.dataset.file!, width: b.width, height: b.height, views: tenCrop ? 10 : 1 };
        const times = `decoded in ${ms(b.decodeMs)} · ${inference}`;
        showResult(b.el, { ...r, top: topK(probs[k], meta.classes, TOP) }, "WebGPU in the browser", times);
      });
    } catch (e) {
      for (const b of batch) showError(b.el, `WebGPU inference failed: ${message(e)}`);
    }
  }
}

async function classifyOnServer(files: File[], cards: HTMLElement[], tenCrop: boolean): Promise<void> {
  for (const [i, file] of files.entries()) {
    const el = cards[i];
    el.querySelector(".meta")!.textContent = "classifying…";
    const first = !sentToServer.has(current!.id);
    sentToServer.add(current!.id);
    setStatus(
      `Classifying image ${i + 1} of ${files.length} on the server${
        first
          ? " (its first classification with a model loads it and compiles the kernels: that one is slow)"
          : ""
      }…`,
    );
    const t0 = performance.now();
    try {
      const query = `model=${encodeURIComponent(current!.id)}&top=${TOP}&tenCrop=${tenCrop ? 1 : 0}`;
      const r = await fetchJson<ServerResult>(`/api/classify?${query}`, {
        method: "POST",
        headers: { "x-file-name": encodeURIComponent(file.name) },
        body: file,
      });
      const times = `on the server: decoded in ${ms(r.ms.decode)}, inference ${ms(r.ms.inference)} ` +
        `(${ms(performance.now() - t0)} with the upload)` +
        (r.ms.load > 0 ? `; loading the model and compiling its kernels first took ${ms(r.ms.load)}` : "");
      showResult(el, r, `server (${r.adapter})`, times);
    } catch (e) {
      showError(el, message(e));
    }
  }
}

function classifyFiles(list: FileList | null): void {
  const files = Array.from(list ?? []);
  if (files.length === 0) return;
  // Each file's card appears at once, in the order given; the queue fills them in.
  const cards = files.map(card);
  enqueue(async () => {
    if (!current) {
      setStatus("No model is loaded.", true);
      for (const el of cards) showError(el, "No model is loaded.");
      return;
    }
    setStatus(`Classifying ${files.length} image${files.length > 1 ? "s" : ""}…`);
    const tenCrop = tenCropBox.checked;
    await (gpu ? classifyInBrowser(files, cards, tenCrop) : classifyOnServer(files, cards, tenCrop));
    setStatus(`Done: ${files.length} image${files.length > 1 ? "s" : ""}.`);
  });
}

async function listReports(): Promise<void> {
  const list = $<HTMLUListElement>("reports");
  try {
    const { reports } = await fetchJson<{ reports: { href: string; title: string }[] }>("/api/reports");
    list.replaceChildren(...reports.map((r) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = r.href;
      a.textContent = r.title;
      li.append(a);
      return li;
    }));
    if (reports.length === 0) {
      list.innerHTML = "<li>No reports yet: <code>deno task reproduce</code> writes them.</li>";
    }
  } catch (e) {
    list.textContent = `Cannot list reports: ${message(e)}`;
  }
}

async function main(): Promise<void> {
  listReports();
  const started = await startWebGpu();
  gpu = typeof started === "string" ? null : started;
  showBackend(typeof started === "string" ? started : null);
  const { models: found, default: initial } = await fetchJson<
    { models: ModelEntry[]; default: string | null }
  >(
    "/api/models",
  );
  models = found;
  modelSelect.replaceChildren(
    ...models.map((m) => new Option(m.label, m.id, m.id === initial, m.id === initial)),
  );
  if (models.length === 0) {
    setStatus(
      "No checkpoints found in models/ or results/ and no fetched models: train one, fetch one " +
        "(deno task model list), or start the GUI with --model FILE.",
      true,
    );
    return;
  }
  for (const m of models) m.description = describeCheckpoint(m.meta);
  clearButton.addEventListener("click", clearResults);
  modelSelect.addEventListener("change", () => enqueue(() => selectModel(modelSelect.value)));
  fileInput.addEventListener("change", () => {
    classifyFiles(fileInput.files);
    fileInput.value = "";
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    classifyFiles(e.dataTransfer?.files ?? null);
  });
  await enqueue(() => selectModel(initial ?? models[0].id));
}

main().catch((e) => setStatus(`The page failed to start: ${message(e)}`, true));
