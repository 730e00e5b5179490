// What some tests need from the machine: Chromium, the shared data beside the project (../shared/data), the
// Fashion-MNIST package, PyTorch (Debian's python3-torch for /usr/bin/python3). A test whose need is missing fails, saying what to install, instead of passing without
// having checked anything. To leave such tests out on purpose, name the needs in ALEXNET_TEST_WITHOUT
// (comma-separated: chromium, data, fashion-mnist, torch, slurm; "data" covers every test that reads the real
// datasets or the lab's photos, "shared-data" is its older name); those tests are then reported as ignored.
import { existsSync } from "node:fs";
import { CHROMIUM_PATH } from "./browser.ts";
import { FASHION_MNIST_DIR } from "../../src/data/fashion_mnist.ts";
import { SHARED_DATA_DIR } from "../../src/data/open.ts";
import { TORCH_INSTALL_HINT, torchPython, torchUnavailable } from "../../src/io/python.ts";

export type Need = "chromium" | "data" | "shared-data" | "fashion-mnist" | "torch" | "slurm";

/** true when ALEXNET_TEST_WITHOUT names `need`: the tests needing it are left out (as `ignore`). */
export function leftOut(need: Need): boolean {
  const list = (Deno.env.get("ALEXNET_TEST_WITHOUT") ?? "").split(",").map((s) => s.trim());
  const data = need === "data" || need === "shared-data";
  return list.includes(need) || (data && (list.includes("data") || list.includes("shared-data")));
}

function missing(need: Need, what: string, remedy: string): never {
  throw new Error(
    `this test needs ${what}, which is missing: ${remedy}. To leave the tests that need it out on purpose, ` +
      `set ALEXNET_TEST_WITHOUT=${need}`,
  );
}

/** Fails (loudly) unless the Chromium that tests/helpers/browser.ts launches exists. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    missing("chromium", `Chromium at ${CHROMIUM_PATH}`, "apt-get install -y chromium, or set CHROMIUM_PATH");
  }
}

/** The path of `rel` in ../shared/data (see its README.md); fails (loudly) when it is not there. */
export function requireShared(rel: string): string {
  const path = `${SHARED_DATA_DIR}/${rel}`;
  if (!existsSync(path)) missing("data", path, "the lab's read-only shared data belongs beside the project");
  return path;
}

/** The Fashion-MNIST folder; fails (loudly) when the package is not installed. */
export function requireFashionMnist(): string {
  if (!existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`)) {
    missing(
      "fashion-mnist",
      `Fashion-MNIST in ${FASHION_MNIST_DIR}`,
      "apt-get install -y dataset-fashion-mnist",
    );
  }
  return FASHION_MNIST_DIR;
}

/**
 * Fails (loudly) unless `python` (default: /usr/bin/python3, or ALEXNET_PYTHON) imports torch; returns its path.
 * scripts/setup.sh installs python3-torch, so a CI run without it is a broken setup, not a reason to skip.
 */
export function requireTorch(python = torchPython()): string {
  const why = torchUnavailable(python);
  if (why) missing("torch", `PyTorch (${why})`, TORCH_INSTALL_HINT);
  return python;
}
