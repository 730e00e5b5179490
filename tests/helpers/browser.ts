/**
 * Headless Chromium for the tests that open pages: the generated reports (report_html, report_stage,
 * reproduce_smoke) and the GUI (gui). Uses the system's Debian chromium through playwright-core (which
 * downloads no browser of its own).
 */
import { existsSync } from "node:fs";
import { resolve, toFileUrl } from "@std/path";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";

export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Launches, runs `fn`, and always closes the browser (so a failing assertion cannot leak a process). */
export async function withChromium<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchChromium();
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

export function fileUrl(path: string): string {
  return toFileUrl(resolve(path)).href;
}

/** Schemes a self-contained page may load; everything else counts as a network request and is blocked. */
const LOCAL_SCHEMES = ["file:", "data:", "blob:", "about:"];

export interface OfflinePage {
  page: Page;
  context: BrowserContext;
  /** console.error messages and uncaught exceptions. */
  errors: string[];
  /** URLs the page tried to fetch from the network (all were blocked). */
  blockedRequests: string[];
  /** Files the page failed to load (a missing figure, for instance). */
  failedRequests: string[];
  close(): Promise<void>;
}

/** Opens `url` (a file:// URL or path) with every network request blocked and console errors collected. */
export async function openOffline(
  browser: Browser,
  url: string,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<OfflinePage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 900 } });
  const errors: string[] = [];
  const blockedRequests: string[] = [];
  const failedRequests: string[] = [];
  await context.route("**/*", (route) => {
    const target = route.request().url();
    if (LOCAL_SCHEMES.some((scheme) => target.startsWith(scheme))) return route.continue();
    blockedRequests.push(target);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("requestfailed", (request) => {
    if (!blockedRequests.includes(request.url())) failedRequests.push(request.url());
  });
  await page.goto(url.includes("://") ? url : fileUrl(url), { waitUntil: "load" });
  return { page, context, errors, blockedRequests, failedRequests, close: () => context.close() };
}

/** Number of non-transparent pixels in a canvas: a chart that drew nothing has none. */
export function paintedPixels(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (element) => {
    // Structural type: this file is type-checked without the DOM library, but runs in the page.
    const canvas = element as unknown as {
      width: number;
      height: number;
      getContext(
        kind: "2d",
      ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
    };
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
    return painted;
  });
}

/** Trimmed text of every cell, row by row, of the rows `rowSelector` matches. */
export function tableRows(page: Page, rowSelector: string): Promise<string[][]> {
  return page.$$eval(rowSelector, (rows) =>
    rows.map((row) => {
      const cells =
        (row as unknown as { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> })
          .querySelectorAll("td");
      return Array.from(cells, (cell) => (cell.textContent ?? "").trim());
    }));
}
