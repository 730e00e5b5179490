/**
 * TensorFlow.js (WebGPU backend) reference benchmark for the CIFAR-10 AlexNet-style net.
 *
 * Trains the same net as our own WGSL kernels, on random (seeded) data, and prints ONE JSON line on stdout:
 *   {"ok":true,"backend":"webgpu","adapter":"...","batch":128,"steps":N,"imagesPerSec":X,"msPerStep":Y,...}
 * or {"ok":false,"reason":"..."}; the exit code is 0 in both cases. Everything else goes to stderr.
 *
 * Net (tfjs layers are NHWC): 32x32x3 -> conv5x5x64 same + ReLU -> maxpool 3/2 same (16x16)
 *   -> conv5x5x64 same + ReLU -> maxpool 3/2 same (8x8) -> flatten -> dense384 ReLU -> dense192 ReLU
 *   -> dense10 -> softmax cross-entropy. SGD momentum 0.9, lr 0.01.
 *
 * Every timed step awaits the loss (`await loss.data()`), so the time includes the GPU work, not just
 * enqueueing.
 *
 * Usage: deno run -A bench/tfjs_cifar.ts [--batch 128] [--steps 5] [--warmup 2] [--seed 1]
 *   (--backend cpu runs the same net on tfjs-backend-cpu, only to cross-check the losses)
 */
import type * as TF from "@tensorflow/tfjs";
import { parseCommandLine } from "../src/util/args.ts";

type Tf = typeof TF;

// The union package @tensorflow/tfjs@4.22.0 bundles only the cpu and webgl backends (webgl does not register
// under Deno: there is no document/canvas); the WebGPU backend is the separate package below.
// Imported dynamically so that a missing package is reported as {"ok":false,...} instead of a crash.
const loadTf = async (): Promise<Tf> => {
  const tf = await import("@tensorflow/tfjs");
  await import("@tensorflow/tfjs-backend-webgpu");
  return tf;
};

const TFJS_VERSION = "4.22.0";

const emit = (() => {
  // Keep stdout clean (exactly one JSON line): route any library console.log/info to stderr.
  const write = console.log.bind(console);
  console.log = (...args: unknown[]) => console.error(...args);
  console.info = (...args: unknown[]) => console.error(...args);
  return (obj: Record<string, unknown>) => write(JSON.stringify(obj));
})();

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** mulberry32: small deterministic PRNG for the labels. */
const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const buildModel = (tf: Tf, seed: number, size: number): TF.Sequential => {
  let s = seed;
  const init = () => tf.initializers.glorotUniform({ seed: s++ });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [size, size, 3],
        filters: 64,
        kernelSize: 5,
        padding: "same",
        activation: "relu",
        kernelInitializer: init(),
      }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
      tf.layers.conv2d({
        filters: 64,
        kernelSize: 5,
        padding: "same",
        activation: "relu",
        kernelInitializer: init(),
      }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 384, activation: "relu", kernelInitializer: init() }),
      tf.layers.dense({ units: 192, activation: "relu", kernelInitializer: init() }),
      tf.layers.dense({ units: 10, kernelInitializer: init() }), // logits; softmax is in the loss
    ],
  });
};

const run = async (
  batch: number,
  steps: number,
  warmup: number,
  seed: number,
  backend: string,
  size: number,
) => {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    return { ok: false, reason: "navigator.gpu is not available (Deno WebGPU disabled?)" };
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return { ok: false, reason: "navigator.gpu.requestAdapter() returned null" };
  const adapterName = adapter.info.description || adapter.info.vendor || "unknown";

  let tf: Tf;
  try {
    tf = await loadTf();
  } catch (e) {
    return {
      ok: false,
      reason: `cannot load tfjs / tfjs-backend-webgpu: ${errorText(e)}`,
      adapter: adapterName,
    };
  }

  // tfjs swallows backend-init errors into console.warn; capture them for the reason string.
  const warnings: string[] = [];
  const origWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map((a) => errorText(a)).join(" "));
    origWarn(...args);
  };
  let ok: boolean;
  try {
    ok = await tf.setBackend(backend);
    await tf.ready();
  } catch (e) {
    ok = false;
    warnings.push(errorText(e));
  } finally {
    console.warn = origWarn;
  }
  if (!ok || tf.getBackend() !== backend) {
    const registered = Object.keys(tf.engine().registryFactory).join(",");
    return {
      ok: false,
      reason: `tf.setBackend("${backend}") failed (backend=${tf.getBackend()}, registered=[${registered}])` +
        (warnings.length ? `: ${warnings.join("; ")}` : ""),
      adapter: adapterName,
    };
  }

  // Surface asynchronous WebGPU validation / OOM errors that tfjs would otherwise never see.
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  const gpuErrors: string[] = [];
  device?.addEventListener("uncapturederror", (ev) => {
    gpuErrors.push((ev as GPUUncapturedErrorEvent).error.message);
  });

  const model = buildModel(tf, seed, size);
  const optimizer = tf.train.momentum(0.01, 0.9);
  const rand = mulberry32(seed);
  const labels = Int32Array.from({ length: batch }, () => Math.floor(rand() * 10));
  const xs = tf.randomNormal([batch, size, size, 3], 0, 1, "float32", seed);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 10).toFloat());

  const step = async (): Promise<number> => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as TF.Tensor) as TF.Scalar,
      true,
    );
    if (!loss) throw new Error("optimizer.minimize returned no loss");
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };

  const losses: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) losses.push(await step());
    const stepMs: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const s0 = performance.now();
      losses.push(await step());
      stepMs.push(performance.now() - s0);
    }
    const totalMs = performance.now() - t0;
    if (gpuErrors.length) return { ok: false, reason: `WebGPU error: ${gpuErrors[0]}`, adapter: adapterName };
    if (!losses.every(Number.isFinite)) {
      return { ok: false, reason: `non-finite loss: ${JSON.stringify(losses)}`, adapter: adapterName };
    }
    const msPerStep = totalMs / steps;
    return {
      ok: true,
      backend: tf.getBackend(),
      adapter: adapterName,
      batch,
      size,
      steps,
      imagesPerSec: Number(((batch * steps) / (totalMs / 1000)).toFixed(2)),
      msPerStep: Number(msPerStep.toFixed(2)),
      warmupSteps: warmup,
      minMsPerStep: Number(Math.min(...stepMs).toFixed(2)),
      firstLoss: Number(losses[0].toFixed(4)),
      lastLoss: Number(losses[losses.length - 1].toFixed(4)),
      tfjs: TFJS_VERSION,
    };
  } catch (e) {
    const extra = gpuErrors.length ? ` (WebGPU error: ${gpuErrors[0]})` : "";
    return { ok: false, reason: `training step failed: ${errorText(e)}${extra}`, adapter: adapterName };
  }
};

const main = async () => {
  let result: Record<string, unknown>;
  try {
    const { values: given } = parseCommandLine(Deno.args, {
      batch: { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      seed: { type: "string" },
      backend: { type: "string" }, // "cpu" only for cross-checking losses
      size: { type: "string" },
    });
    const values = {
      batch: "128",
      steps: "5",
      warmup: "2",
      seed: "1",
      backend: "webgpu",
      // 32 = whole CIFAR images; 24 = the random crops cuda-convnet and TensorFlow's CIFAR tutorial train on.
      size: "32",
      ...given,
    };
    const batch = Number(values.batch), steps = Number(values.steps);
    const warmup = Number(values.warmup), seed = Number(values.seed);
    if (![batch, steps].every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error("--batch/--steps must be > 0");
    }
    if (!Number.isInteger(warmup) || warmup < 0) throw new Error("--warmup must be >= 0");
    if (!Number.isInteger(seed)) throw new Error("--seed must be an integer");
    const size = Number(values.size);
    if (!Number.isInteger(size) || size < 8) throw new Error("--size must be an integer >= 8");
    result = await run(batch, steps, warmup, seed, values.backend, size);
  } catch (e) {
    result = { ok: false, reason: errorText(e) };
  }
  emit(result);
  // The WebGPU device / tfjs timers can keep the event loop alive; exit explicitly.
  Deno.exit(0);
};

if (import.meta.main) await main();
