// deno task gui: the page in headless Chromium classifies an uploaded photo on WebGPU in the browser (SwiftShader)
// and shows the command line's top-5; without WebGPU it says so and the server classifies. Plus the server's
// model list, report browsing and path checks.
//
// The screenshot goes to a fresh temp folder (its path is printed); GUI_SCREENSHOT=1 writes
// results/gui-screenshot.png instead, GUI_SCREENSHOT=<path> writes there.

import { assert, assertEquals, assertMatch, assertNotMatch, assertStrictEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import type { Browser, Page } from "playwright-core";
import { launchChromium, paintedPixels } from "./helpers/browser.ts";
import { startGuiServer } from "../src/gui/server.ts";
import { main } from "../src/cli/classify.ts";
import { encodeCheckpoint } from "../src/io/checkpoint.ts";
import { randomCheckpoint } from "../src/classify/random_checkpoint.ts";
import { PROJECT_ROOT } from "../src/data/util.ts";
import { buildModel } from "../src/models/index.ts";
import { SHARED_DATA_DIR } from "../src/data/open.ts";
import { testGpu } from "./helpers/gpu.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { Classifier } from "../src/classify/classifier.ts";
import { leftOut, requireChromium, requireShared } from "./helpers/needs.ts";

const PHOTO = `${SHARED_DATA_DIR}/photos/gnome_cat.jpg`;
const DROPPED = `${SHARED_DATA_DIR}/photos/opencv_orange.jpg`;
const FIX = `${PROJECT_ROOT}/tests/fixtures/data`;
const WEBGPU_ARGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"];
const dir = await Deno.makeTempDir({ prefix: "gui-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const MODEL = `${dir}/model.safetensors`;
await Deno.writeFile(MODEL, encodeCheckpoint(randomCheckpoint({ sharpen: 30 })));
// A grey model (1 input channel, mean image), listed from results/ of a temporary project root.
const GREY = `${dir}/grey.safetensors`;
await Deno.writeFile(
  GREY,
  encodeCheckpoint(randomCheckpoint({
    model: buildModel("cifar-alexnet", { channels: 1 }),
    sharpen: 30,
    seed: 11,
    preprocess: { mean: "image", resize: 36 },
  })),
);

/** A project root holding the test checkpoints, with the real kernels/ and node_modules/ linked in. */
async function tempRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ dir, prefix: "root-" });
  await Deno.mkdir(`${root}/models`);
  await Deno.mkdir(`${root}/results/run`, { recursive: true });
  await Deno.symlink(`${PROJECT_ROOT}/kernels`, `${root}/kernels`);
  await Deno.symlink(`${PROJECT_ROOT}/node_modules`, `${root}/node_modules`);
  await Deno.copyFile(MODEL, `${root}/models/rgb.safetensors`);
  await Deno.copyFile(GREY, `${root}/results/run/checkpoint.safetensors`);
  return root;
}

interface Bar {
  label: string;
  probability: number;
}

async function cliTop5(image: string, model = MODEL): Promise<Bar[]> {
  const out: string[] = [];
  const code = await main(["--model", model, "--json", "--top", "5", image], {
    out: (l) => out.push(l),
    err: () => {},
    gpu: testGpu,
  });
  assertStrictEquals(code, 0);
  const top = JSON.parse(out[0]).top as { class: string; probability: number }[];
  return top.map((p) => ({ label: p.class, probability: p.probability }));
}

function pageBars(page: Page, file: string): Promise<Bar[]> {
  return page.$$eval(`.result[data-file="${file}"] .bar`, (els) =>
    els.map((el) => {
      const d = (el as unknown as { dataset: Record<string, string> }).dataset;
      return { label: d.class, probability: Number(d.prob) };
    }));
}

/** Same pixels, same kernels: SwiftShader and llvmpipe agree to ~1e-7, so 1e-4 still catches decode drift. */
function assertSameTop5(page: Bar[], cli: Bar[], where: string): void {
  assertEquals(page.map((b) => b.label), cli.map((b) => b.label), where);
  page.forEach((b, i) => assert(Math.abs(b.probability - cli[i].probability) < 1e-4, `${where}: ${b.label}`));
}

async function screenshotPath(): Promise<string> {
  const want = Deno.env.get("GUI_SCREENSHOT");
  if (want === "1") return `${PROJECT_ROOT}/results/gui-screenshot.png`;
  if (want) return want;
  return `${await Deno.makeTempDir({ prefix: "gui-screenshot-" })}/gui.png`;
}

async function openGui(browser: Browser, url: string, withoutWebGpu = false) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  if (withoutWebGpu) {
    // A browser without WebGPU: navigator.gpu is absent.
    await context.addInitScript(
      'Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined, configurable: true });',
    );
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 90_000 });
  return { page, errors, close: () => context.close() };
}

Deno.test({
  name: "GUI in Chromium: WebGPU in the browser gives the CLI's top-5; without WebGPU the server does",
  ignore: leftOut("chromium") || leftOut("data"),
  async fn(t) {
    requireChromium();
    requireShared("photos");
    const cli = await cliTop5(PHOTO);
    const cliGrey = await cliTop5(DROPPED, GREY);
    const logs: string[] = [];
    const root = await tempRoot();
    const server = await startGuiServer({ port: 0, root, log: (l) => logs.push(l) });
    const browser = await launchChromium(WEBGPU_ARGS);
    try {
      await t.step("WebGPU in the browser: pick, drop, switch models", async () => {
        const { page, errors, close } = await openGui(browser, server.url);
        assertStrictEquals(await page.getAttribute("#backend", "data-backend"), "webgpu");
        assertMatch((await page.textContent("#backend"))!, /runs in this browser on WebGPU/);
        const options = await page.$$eval("#model option", (els) => els.map((e) => e.getAttribute("value")));
        assertEquals(options, ["models/rgb.safetensors", "results/run/checkpoint.safetensors"]);
        assertStrictEquals(await page.inputValue("#model"), "models/rgb.safetensors");
        // conv1's 64 kernels (5x5) in a 16 x 4 grid with 1-pixel gaps.
        assertEquals(await canvasSize(page), [97, 25]);
        assert(await paintedPixels(page, "#filters") > 2000);
        assertMatch((await page.textContent("#filters-caption"))!, /64 kernels of conv1 \(5x5x3\)/);

        await page.setInputFiles("#files", PHOTO);
        await page.waitForSelector(".result[data-file='gnome_cat.jpg'][data-state='done']", {
          timeout: 90_000,
        });
        assertSameTop5(await pageBars(page, "gnome_cat.jpg"), cli, "browser WebGPU");
        assertStrictEquals(
          await page.getAttribute(".result[data-file='gnome_cat.jpg']", "data-backend"),
          "webgpu",
        );
        assertMatch(
          (await page.textContent(".result[data-file='gnome_cat.jpg'] .meta"))!,
          /WebGPU in the browser/,
        );
        assertStrictEquals(
          await page.$eval(".result img", (i) => (i as unknown as { naturalWidth: number }).naturalWidth),
          512,
        );

        // A text file named .jpg fails in its own card, with the decoder's message.
        await page.setInputFiles("#files", {
          name: "notes.jpg",
          mimeType: "image/jpeg",
          buffer: Buffer.from("just some text\n"),
        });
        await page.waitForSelector(".result[data-file='notes.jpg'][data-state='error']", { timeout: 30_000 });
        assertMatch(
          (await page.textContent(".result[data-file='notes.jpg'] .meta"))!,
          /not a JPEG or PNG image/,
        );

        // Switch to the grey model, then drop a photo on the drop zone.
        await page.selectOption("#model", "results/run/checkpoint.safetensors");
        await page.waitForSelector("body[data-ready='1'][data-model='results/run/checkpoint.safetensors']");
        assertMatch((await page.textContent("#filters-caption"))!, /64 kernels of conv1 \(5x5x1\)/);
        const b64 = Buffer.from(await Deno.readFile(DROPPED)).toString("base64");
        const transfer = await page.evaluateHandle(`(() => {
          const t = new DataTransfer();
          const bytes = Uint8Array.from(atob("${b64}"), (c) => c.charCodeAt(0));
          t.items.add(new File([bytes], "opencv_orange.jpg", { type: "image/jpeg" }));
          return t;
        })()`);
        await page.dispatchEvent("#drop", "drop", { dataTransfer: transfer });
        await page.waitForSelector(".result[data-file='opencv_orange.jpg'][data-state='done']", {
          timeout: 90_000,
        });
        assertSameTop5(await pageBars(page, "opencv_orange.jpg"), cliGrey, "grey model, dropped file");

        // The browser's JPEG shim converts grey and CMYK JPEGs as imagescript does; 16-bit PNGs decode alike.
        const odd = ["gray.jpg", "cmyk.jpg", "progressive.jpg", "rgb16.png", "graya16.png"];
        await page.setInputFiles("#files", odd.map((n) => `${FIX}/${n}`));
        for (const n of odd) {
          await page.waitForSelector(`.result[data-file='${n}'][data-state='done']`, { timeout: 60_000 });
          assertSameTop5(await pageBars(page, n), await cliTop5(`${FIX}/${n}`, GREY), n);
        }

        const shot = await screenshotPath();
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`GUI screenshot: ${shot}`);
        assertEquals(errors, []);
        await close();
      });

      await t.step("no WebGPU: the page says so and falls back to POST /api/classify", async () => {
        const { page, errors, close } = await openGui(browser, server.url, true);
        assertStrictEquals(await page.getAttribute("#backend", "data-backend"), "server");
        assertMatch((await page.textContent("#backend"))!, /WebGPU is not available here/);
        await page.setInputFiles("#files", PHOTO);
        await page.waitForSelector(".result[data-state='done']", { timeout: 90_000 });
        assertSameTop5(await pageBars(page, "gnome_cat.jpg"), cli, "server fallback");
        assertStrictEquals(await page.getAttribute(".result", "data-backend"), "server");
        await page.waitForFunction("document.getElementById('filters').width > 0");
        assertEquals(await canvasSize(page), [97, 25]);
        assert(await paintedPixels(page, "#filters") > 2000);
        assertEquals(errors, []);
        await close();
      });
    } finally {
      await browser.close();
      await server.close();
    }
    assertEquals(logs, []);
  },
});

function canvasSize(page: Page): Promise<number[]> {
  return page.$eval("#filters", (c) => {
    const canvas = c as unknown as { width: number; height: number };
    return [canvas.width, canvas.height];
  });
}

Deno.test("deno task gui: serves on 127.0.0.1 and prints its URL", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${PROJECT_ROOT}/src/cli/gui.ts`, "--port", "0", "--model", MODEL],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    reader.releaseLock();
    const url = text.match(/^GUI: (http:\/\/127\.0\.0\.1:\d+\/)$/m)?.[1];
    assert(url, `no URL printed: ${text}`);
    const page = await (await fetch(url)).text();
    assertMatch(page, /<script type="module" src="\/app\.js">/);
    const models = await (await fetch(`${url}api/models`)).json();
    assertStrictEquals(models.default, MODEL);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});

Deno.test("GUI server: checkpoint list, report browsing, path checks, server-side errors", async () => {
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/models`, { recursive: true });
  await Deno.mkdir(`${root}/results/run1`, { recursive: true });
  await Deno.mkdir(`${root}/results/run2/checkpoints`, { recursive: true });
  await Deno.copyFile(MODEL, `${root}/models/small.safetensors`);
  await Deno.writeTextFile(`${root}/models/junk.safetensors`, "not a checkpoint");
  await Deno.copyFile(MODEL, `${root}/results/run2/checkpoints/last.safetensors`);
  // Where `deno task model fetch torchvision-alexnet` puts its checkpoint (the root's own cache).
  await Deno.mkdir(`${root}/.cache/models`, { recursive: true });
  await Deno.copyFile(MODEL, `${root}/.cache/models/torchvision-alexnet.safetensors`);
  await Deno.writeTextFile(`${root}/results/index.html`, "<title>all</title>");
  await Deno.writeTextFile(`${root}/results/run1/index.html`, "<title>run1</title>");
  await Deno.writeTextFile(`${root}/results/run1/metrics.jsonl`, "{}\n");
  const logs: string[] = [];
  const server = await startGuiServer({ port: 0, root, log: (l) => logs.push(l) });
  const get = (path: string) => fetch(new URL(path, server.url));
  try {
    const models = await (await get("/api/models")).json();
    assertEquals(models.models.map((m: { id: string }) => m.id), [
      "models/small.safetensors",
      "torchvision-alexnet",
      "results/run2/checkpoints/last.safetensors",
    ]);
    // A fetched model is listed by its name, with its card from models/registry.yaml.
    const fetched = models.models[1];
    assertStrictEquals(fetched.card.reported_by, "torchvision");
    assertStrictEquals(fetched.card.evaluated_on, "the ImageNet-1K validation images");
    assertStrictEquals(models.default, "models/small.safetensors");
    assert(
      logs.some((l) => l.includes("junk.safetensors") && l.includes("not a checkpoint")),
      logs.join("\n"),
    );

    const ckpt = await get("/api/checkpoint?id=models/small.safetensors");
    assertEquals(new Uint8Array(await ckpt.arrayBuffer()), await Deno.readFile(MODEL));
    assertStrictEquals((await get(`/api/checkpoint?id=${encodeURIComponent("/etc/passwd")}`)).status, 404);
    await (await get("/api/checkpoint?id=../deno.json")).body?.cancel();

    const { reports } = await (await get("/api/reports")).json();
    assertEquals(reports.map((r: { href: string }) => r.href), [
      "/results/index.html",
      "/results/run1/index.html",
    ]);
    assertStrictEquals(await (await get("/results/run1/")).text(), "<title>run1</title>");
    const redirect = await get("/results/run1");
    assertStrictEquals(redirect.url, new URL("/results/run1/", server.url).href);
    await redirect.body?.cancel();
    const listing = await (await get("/results/run2/checkpoints/")).text();
    assertMatch(listing, /last\.safetensors/);
    const escape = await get("/results/..%2fmodels/small.safetensors");
    assertStrictEquals(escape.status, 400);
    await escape.body?.cancel();

    const png = await get("/api/filters.png?id=models/small.safetensors");
    assertStrictEquals(png.headers.get("content-type"), "image/png");
    await png.body?.cancel();

    const bad = await fetch(new URL("/api/classify?model=models/small.safetensors", server.url), {
      method: "POST",
      headers: { "x-file-name": "notes.png" },
      body: "plain text",
    });
    assertStrictEquals(bad.status, 422);
    assertMatch((await bad.json()).error, /notes\.png: not a JPEG or PNG image/);
  } finally {
    await server.close();
  }
});

Deno.test("GUI server: refuses uploads over 32 MiB with 413, with or without a Content-Length", async () => {
  const root = await tempRoot();
  const server = await startGuiServer({ port: 0, root, log: () => {} });
  try {
    const r = await fetch(new URL("/api/classify?model=models/rgb.safetensors", server.url), {
      method: "POST",
      headers: { "x-file-name": "huge.jpg" },
      body: new Uint8Array(60 * 2 ** 20),
    });
    assertStrictEquals(r.status, 413);
    assertMatch((await r.json()).error, /huge\.jpg: 60\.0 MiB is over the upload limit of 32 MiB/);
    // Streamed (chunked, no Content-Length): counted as it arrives, and refused once past the limit.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 60) c.enqueue(new Uint8Array(2 ** 20));
        else c.close();
      },
    });
    const s = await fetch(new URL("/api/classify?model=models/rgb.safetensors", server.url), {
      method: "POST",
      headers: { "x-file-name": "streamed.jpg" },
      body: stream,
    });
    assertStrictEquals(s.status, 413);
    assertMatch((await s.json()).error, /streamed\.jpg: the upload ran past the limit of 32 MiB/);
    assert(sent < 60, `the server read all ${sent} MiB`);
  } finally {
    await server.close();
  }
});

/** A PNG whose header declares width x height (8-bit grey), with a little image data: only the header is real. */
async function pngDeclaring(width: number, height: number): Promise<Uint8Array> {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    return out; // (CRC left zero: the decoder does not check it)
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr[8] = 8; // bit depth; colour type 0 (grey)
  const idat = new Uint8Array(
    await new Response(
      new Blob([new Uint8Array(4096)]).stream().pipeThrough(new CompressionStream("deflate")),
    )
      .arrayBuffer(),
  );
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

/** A baseline JPEG's opening (SOI, APP0, SOF0) declaring width x height, then end of image. */
function jpegDeclaring(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof0 = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3];
  for (let c = 1; c <= 3; c++) sof0.push(c, 0x11, 0);
  return new Uint8Array([0xff, 0xd8, ...app0, ...sof0, 0xff, 0xd9]);
}

Deno.test("GUI server: refuses images declaring over 40 megapixels from their header, before decoding", async () => {
  const root = await tempRoot();
  const server = await startGuiServer({ port: 0, root, log: () => {} });
  const post = (name: string, body: Uint8Array) =>
    fetch(new URL("/api/classify?model=models/rgb.safetensors", server.url), {
      method: "POST",
      headers: { "x-file-name": name },
      body: body as Uint8Array<ArrayBuffer>,
    });
  try {
    const png = await pngDeclaring(16000, 16000);
    assert(png.length < 10_000);
    const r = await post("bomb.png", png);
    assertStrictEquals(r.status, 413);
    assertMatch(
      (await r.json()).error,
      /^bomb\.png: 16000x16000 pixels \(256\.0 megapixels\) is over the limit of 40 megapixels/,
    );
    const j = await post("wide.jpg", jpegDeclaring(8000, 6000));
    assertStrictEquals(j.status, 413);
    assertMatch(
      (await j.json()).error,
      /^wide\.jpg: 8000x6000 pixels \(48\.0 megapixels\) is over the limit/,
    );
    // Below the limit the header passes and the decoder has its say (this file holds no real image data).
    const small = await post("small.png", await pngDeclaring(3000, 3000));
    assertStrictEquals(small.status, 422);
    assertMatch((await small.json()).error, /small\.png: truncated PNG image data/);
  } finally {
    await server.close();
  }
});

Deno.test("GUI server: bad %-encoding in the URL or the file name header is a 400, not a 500", async () => {
  const root = await tempRoot();
  const server = await startGuiServer({ port: 0, root, log: () => {} });
  try {
    for (const path of ["/results/%E0%A4%A", "/%ZZ", "/api/models%"]) {
      const r = await fetch(`${server.url.replace(/\/$/, "")}${path}`);
      const body = await r.text();
      assertStrictEquals(r.status, 400, `${path}: ${body}`);
      assertMatch(JSON.parse(body).error, /bad %-encoding in the URL/);
    }
    const name = await fetch(new URL("/api/classify?model=models/rgb.safetensors", server.url), {
      method: "POST",
      headers: { "x-file-name": "%E0%A4%A.jpg" },
      body: "x",
    });
    assertStrictEquals(name.status, 400);
    assertMatch((await name.json()).error, /bad %-encoding in the X-File-Name header/);
  } finally {
    await server.close();
  }
});

Deno.test("GUI server: error bodies name no server paths (the log has them)", async () => {
  const root = await tempRoot();
  // Listed (its header is fine) but cut short: loading it fails on the server.
  const whole = await Deno.readFile(MODEL);
  await Deno.writeFile(`${root}/results/run/cut.safetensors`, whole.subarray(0, whole.length - 1000));
  const logs: string[] = [];
  const server = await startGuiServer({ port: 0, root, log: (l) => logs.push(l) });
  const noPaths = (body: string, what: string) => {
    for (const p of [dir, root, PROJECT_ROOT, Deno.cwd()]) assert(!body.includes(p), `${what}: ${body}`);
  };
  try {
    const missing = await fetch(new URL("/kernels/nope.wgsl", server.url));
    assertStrictEquals(missing.status, 404);
    const missingBody = await missing.text();
    noPaths(missingBody, "missing kernel");
    assertMatch(JSON.parse(missingBody).error, /not found: \/kernels\/nope\.wgsl/);

    const cut = "results/run/cut.safetensors";
    const filters = await fetch(new URL(`/api/filters.png?id=${cut}`, server.url));
    assertStrictEquals(filters.status, 500);
    const filtersBody = await filters.text();
    noPaths(filtersBody, "filters of a cut checkpoint");
    assertMatch(JSON.parse(filtersBody).error, /results\/run\/cut\.safetensors/);
    const classify = await fetch(new URL(`/api/classify?model=${cut}`, server.url), {
      method: "POST",
      headers: { "x-file-name": "a.jpg" },
      body: await Deno.readFile(`${FIX}/rgb.jpg`),
    });
    assertStrictEquals(classify.status, 500);
    noPaths(await classify.text(), "classifying with a cut checkpoint");
    // The server's log keeps the whole story.
    assert(logs.some((l) => l.includes(`${root}/${cut}`)), logs.join("\n"));
  } finally {
    await server.close();
  }
});

Deno.test("GUI server: links under results/ that lead outside it are not followed", async () => {
  const root = await tempRoot();
  const outside = await Deno.makeTempDir({ dir, prefix: "outside-" });
  await Deno.writeTextFile(`${outside}/secret.txt`, "not for the web");
  await Deno.writeTextFile(`${root}/results/run/page.html`, "<title>page</title>");
  await Deno.symlink(outside, `${root}/results/away`);
  await Deno.symlink(`${outside}/secret.txt`, `${root}/results/secret.txt`);
  await Deno.symlink("../../models/rgb.safetensors", `${root}/results/run/model.safetensors`); // in root, not results/
  await Deno.symlink("run", `${root}/results/alias`); // inside results/: fine
  const server = await startGuiServer({ port: 0, root, log: () => {} });
  const get = (path: string) => fetch(new URL(path, server.url));
  try {
    for (
      const path of [
        "/results/away/secret.txt",
        "/results/away/",
        "/results/secret.txt",
        "/results/run/model.safetensors",
      ]
    ) {
      const r = await get(path);
      const body = await r.text();
      assertStrictEquals(r.status, 403, `${path}: ${r.status} ${body}`);
      assert(!body.includes("not for the web"));
      assertMatch(JSON.parse(body).error, /leads outside results\//);
    }
    const inside = await get("/results/alias/page.html");
    assertStrictEquals(inside.status, 200);
    assertStrictEquals(await inside.text(), "<title>page</title>");
  } finally {
    await server.close();
  }
});

Deno.test("Classifier.prepare compiles ahead every kernel a batch needs, counting them as they are ready", async () => {
  const ckpt = randomCheckpoint({ sharpen: 30 });
  const [c, ,] = ckpt.meta.model.input;
  const side = ckpt.meta.preprocess.resize;
  const stored = [1, 2, 3].map((k) => new Uint8Array(c * side * side).map((_, i) => (i * 7 * k) % 256));
  const gpu = await Gpu.create(); // its own device: nothing compiled yet
  const classifier = new Classifier(gpu, ckpt);
  try {
    for (const tenCrop of [false, true]) {
      const seen: number[][] = [];
      const before = gpu.kernels.size;
      const n = await classifier.prepare([stored.length], tenCrop, (done, total) => seen.push([done, total]));
      if (!tenCrop) assert(n >= 5, `only ${n} kernels`);
      assertEquals(seen, Array.from({ length: n + 1 }, (_, i) => [i, n]));
      assertStrictEquals(gpu.kernels.size, before + n);
      // run() finds them all compiled, and the skipped dispatches of the dry run left nothing behind.
      const probs = await classifier.run(stored, tenCrop);
      assertStrictEquals(gpu.kernels.size, before + n, "run compiled kernels that prepare did not");
      assertStrictEquals(await classifier.prepare([stored.length], tenCrop), 0);
      const fresh = new Classifier(await testGpu(), ckpt);
      const want = await fresh.run(stored, tenCrop);
      fresh.dispose();
      probs.forEach((p, i) => p.forEach((v, k) => assert(Math.abs(v - want[i][k]) < 1e-5, `${i} ${k}`)));
    }
  } finally {
    classifier.dispose();
    gpu.destroy();
  }
});

/** Every text #status shows from now on (a MutationObserver in the page collects them). */
async function watchStatus(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(`(() => {
    const el = document.getElementById("status");
    window.__statusTexts = [el.textContent];
    new MutationObserver(() => window.__statusTexts.push(el.textContent))
      .observe(el, { childList: true, characterData: true, subtree: true });
  })()`);
  return () => page.evaluate("window.__statusTexts") as Promise<string[]>;
}

const resultOrder = (page: Page) =>
  page.$$eval(
    ".result",
    (els) => els.map((e) => (e as unknown as { dataset: { file: string } }).dataset.file),
  );

async function waitDone(page: Page, files: string[]): Promise<void> {
  for (const f of files) {
    await page.waitForSelector(`.result[data-file='${f}'][data-state='done']`, { timeout: 90_000 });
  }
}

Deno.test({
  name: "GUI in Chromium: the page as a person meets it (what the model knows, progress, order, keyboard)",
  ignore: leftOut("chromium") || leftOut("data"),
  async fn(t) {
    requireChromium();
    requireShared("photos");
    const root = await tempRoot();
    // The real default classifier and its model card.
    for (const ext of ["safetensors", "json"]) {
      await Deno.copyFile(
        `${PROJECT_ROOT}/models/default-cifar10.${ext}`,
        `${root}/models/default-cifar10.${ext}`,
      );
    }
    const logs: string[] = [];
    const server = await startGuiServer({
      port: 0,
      root,
      model: `${root}/models/default-cifar10.safetensors`,
      log: (l) => logs.push(l),
    });
    const browser = await launchChromium(WEBGPU_ARGS);
    const three = [PHOTO, DROPPED, `${FIX}/rgb.jpg`];
    const threeNames = ["gnome_cat.jpg", "opencv_orange.jpg", "rgb.jpg"];
    try {
      await t.step("the page says what the model knows, near the drop zone", async () => {
        const { page, errors, close } = await openGui(browser, server.url);
        assertStrictEquals(await page.inputValue("#model"), "models/default-cifar10.safetensors");
        const knows = (await page.textContent("#model-knows"))!;
        assertMatch(
          knows,
          /10 classes: airplane, automobile, bird, cat, deer, dog, frog, horse, ship and truck/,
        );
        assertMatch(knows, /always answers with one of them/);
        assertMatch(knows, /24x24/);
        // The figure comes from the published model card, not from this test.
        const card = JSON.parse(await Deno.readTextFile(`${root}/models/default-cifar10.json`));
        const accuracy = `${(100 * (1 - card.test_top1_error)).toFixed(1)}%`;
        assert(
          knows.includes(`${accuracy} of the CIFAR-10 test images`),
          `expected ${accuracy} from the model card in: ${knows}`,
        );
        // Next to the drop zone: the same panel, just before it.
        assertStrictEquals(await page.$eval("#model-knows", (e) => e.nextElementSibling?.id), "drop");
        // A checkpoint without a card or recorded test metrics says so.
        await page.selectOption("#model", "models/rgb.safetensors");
        await page.waitForSelector("body[data-ready='1'][data-model='models/rgb.safetensors']");
        assertMatch((await page.textContent("#model-knows"))!, /records no test accuracy/);
        assertEquals(errors, []);
        await close();
      });

      await t.step("a favicon is served, and nothing the page loads fails", async () => {
        for (const path of ["/favicon.ico", "/favicon.svg"]) {
          const r = await fetch(new URL(path, server.url));
          assertStrictEquals(r.status, 200, path);
          assertMatch(r.headers.get("content-type")!, /^image\//);
          await r.body?.cancel();
        }
        const context = await browser.newContext();
        const page = await context.newPage();
        const failed: string[] = [];
        const errors: string[] = [];
        page.on("response", (r) => {
          if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
        });
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        for (const path of ["/", "/results/"]) {
          await page.goto(new URL(path, server.url).href);
          await page.waitForLoadState("load");
        }
        await page.goto(server.url);
        await page.waitForSelector("body[data-ready='1']", { timeout: 90_000 });
        const icon = await page.$eval("link[rel=icon]", (l) => (l as unknown as { href: string }).href);
        assertMatch(icon, /^http:\/\/.*\/favicon\.svg$/);
        assertEquals(failed, []);
        assertEquals(errors, []);
        await context.close();
      });

      await t.step("first run in the browser: kernels compiled i of n, then images i of n", async () => {
        const { page, errors, close } = await openGui(browser, server.url);
        const statuses = await watchStatus(page);
        await page.setInputFiles("#files", three);
        await waitDone(page, threeNames);
        const seen = await statuses();
        assert(seen.some((s) => /first run/i.test(s) && /compil/.test(s)), seen.join("\n"));
        assert(seen.some((s) => /kernels, \d+ of \d+ ready/.test(s)), seen.join("\n"));
        assert(seen.some((s) => /image 3 of 3/.test(s)), seen.join("\n"));
        assertMatch(seen.at(-1)!, /^Done: 3 images/);
        assertEquals(errors, []);
        await close();
      });

      await t.step(
        "results in drop order, a later drop after them; the clear button empties them",
        async () => {
          const { page, errors, close } = await openGui(browser, server.url);
          await page.setInputFiles("#files", three);
          await waitDone(page, threeNames);
          assertEquals(await resultOrder(page), threeNames);
          await page.setInputFiles("#files", `${FIX}/gray.jpg`);
          await waitDone(page, ["gray.jpg"]);
          assertEquals(await resultOrder(page), [...threeNames, "gray.jpg"]);
          await page.click("#clear");
          assertEquals(await resultOrder(page), []);
          assertEquals(errors, []);
          await close();
        },
      );

      await t.step(
        "times: each image's own decoding, the inference said to be the batch's; the server's own",
        async () => {
          const { page, errors, close } = await openGui(browser, server.url);
          await page.setInputFiles("#files", three);
          await waitDone(page, threeNames);
          for (const name of threeNames) {
            const meta = (await page.textContent(`.result[data-file='${name}'] .meta`))!;
            assertMatch(meta, /decoded in \d+ ms/);
            assertMatch(meta, /inference \d+ ms for the batch of 3 images/);
          }
          await page.setInputFiles("#files", `${FIX}/gray.jpg`);
          await waitDone(page, ["gray.jpg"]);
          const one = (await page.textContent(".result[data-file='gray.jpg'] .meta"))!;
          assertMatch(one, /decoded in \d+ ms/);
          assertMatch(one, /inference \d+ ms/);
          assertNotMatch(one, /batch/);
          assertEquals(errors, []);
          await close();
          // On the server: its own decoding and inference times, and the round trip.
          const onServer = await openGui(browser, server.url, true);
          await onServer.page.setInputFiles("#files", PHOTO);
          await waitDone(onServer.page, ["gnome_cat.jpg"]);
          assertMatch(
            (await onServer.page.textContent(".result[data-file='gnome_cat.jpg'] .meta"))!,
            /on the server: decoded in \d+ ms, inference \d+ ms \(\d+ ms with the upload\)/,
          );
          assertEquals(onServer.errors, []);
          await onServer.close();
        },
      );

      await t.step("the file picker is reachable and usable from the keyboard", async () => {
        const { page, errors, close } = await openGui(browser, server.url);
        // Listening before any key press: Playwright turns file-chooser interception on when the first
        // listener arrives, asynchronously, and a Space that lands before that opens no catchable chooser.
        const chooserOpened = page.waitForEvent("filechooser");
        const focused: string[] = [];
        for (let i = 0; i < 12 && !focused.includes("files"); i++) {
          await page.keyboard.press("Tab");
          focused.push(await page.evaluate("document.activeElement?.id ?? ''") as string);
        }
        assert(focused.includes("files"), `Tab reached: ${focused.join(", ")}`);
        await page.keyboard.press("Space");
        const chooser = await chooserOpened;
        await chooser.setFiles(PHOTO);
        await waitDone(page, ["gnome_cat.jpg"]);
        assertEquals(errors, []);
        await close();
      });

      await t.step(
        "the browser refuses an image declaring over 40 megapixels before decoding it",
        async () => {
          const { page, errors, close } = await openGui(browser, server.url);
          await page.setInputFiles("#files", {
            name: "bomb.png",
            mimeType: "image/png",
            buffer: Buffer.from(await pngDeclaring(16000, 16000)),
          });
          await page.waitForSelector(".result[data-file='bomb.png'][data-state='error']", {
            timeout: 30_000,
          });
          assertMatch(
            (await page.textContent(".result[data-file='bomb.png'] .meta"))!,
            /16000x16000 pixels \(256\.0 megapixels\) is over the limit of 40 megapixels/,
          );
          assertEquals(errors, []);
          await close();
        },
      );

      await t.step("server fallback: the conv1 panel is drawn at a visible size", async () => {
        const { page, errors, close } = await openGui(browser, server.url, true);
        await page.waitForFunction("document.getElementById('filters').width > 0");
        const box = await page.$eval("#filters", (c) => {
          const r = (c as unknown as { getBoundingClientRect(): { width: number; height: number } })
            .getBoundingClientRect();
          return [r.width, r.height];
        });
        // 97x25 kernel pixels shown five times larger.
        assert(box[0] > 400 && box[1] > 100, `conv1 canvas shows at ${box.join("x")} px`);
        assert(await paintedPixels(page, "#filters") > 2000);
        assertEquals(errors, []);
        await close();
      });

      await t.step(
        "server fallback: images i of n, the first run's compiling said, drop order",
        async () => {
          const { page, errors, close } = await openGui(browser, server.url, true);
          const statuses = await watchStatus(page);
          await page.setInputFiles("#files", three.slice(0, 2));
          await waitDone(page, threeNames.slice(0, 2));
          const seen = await statuses();
          assert(seen.some((s) => /image 2 of 2/.test(s)), seen.join("\n"));
          assert(seen.some((s) => /first/i.test(s) && /compil/.test(s)), seen.join("\n"));
          assertEquals(await resultOrder(page), threeNames.slice(0, 2));
          await page.click("#clear");
          assertEquals(await resultOrder(page), []);
          assertEquals(errors, []);
          await close();
        },
      );
    } finally {
      await browser.close();
      await server.close();
    }
    assertEquals(logs, []);
  },
});
