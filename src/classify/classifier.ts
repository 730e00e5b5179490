// A checkpoint on the GPU as a classifier: stored squares in, class probabilities out. The same code runs in
// Deno (CLI, server fallback) and in the browser bundle (GUI), on the project's own WGSL kernels.

import type { Gpu } from "../gpu/runtime.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import { Network } from "../nn/network.ts";
import { resolveModel } from "../nn/spec.ts";
import { softmax } from "../nn/ops/loss.ts";
import { type InputPlan, inputPlan, writeInputs } from "./preprocess.ts";

export interface Prediction {
  rank: number;
  index: number;
  label: string;
  probability: number;
}

/** The k most probable classes, ties broken by class index so every host orders them alike. */
export function topK(probs: ArrayLike<number>, labels: readonly string[], k: number): Prediction[] {
  const order = Array.from({ length: probs.length }, (_, i) => i);
  order.sort((a, b) => probs[b] - probs[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(k, order.length))).map((index, i) => ({
    rank: i + 1,
    index,
    label: labels[index] ?? `class ${index}`,
    probability: probs[index],
  }));
}

export class Classifier {
  readonly net: Network;
  readonly #plans = new Map<boolean, InputPlan>();

  /** Network inputs per forward pass so that no activation exceeds the adapter's binding limit. */
  readonly maxInputsPerPass: number;

  constructor(readonly gpu: Gpu, readonly checkpoint: Checkpoint) {
    this.net = new Network(gpu, checkpoint.meta.model, 1, { weights: checkpoint.weights, inference: true });
    let largest = 0;
    for (const l of resolveModel(checkpoint.meta.model)) {
      largest = Math.max(
        largest,
        l.inShape.reduce((a, b) => a * b, 1),
        l.outShape.reduce((a, b) => a * b, 1),
      );
    }
    this.maxInputsPerPass = Math.max(1, Math.floor(gpu.maxBinding / 4 / (largest + 4)));
  }

  get classes(): string[] {
    return this.checkpoint.meta.classes;
  }

  plan(tenCrop: boolean): InputPlan {
    let plan = this.#plans.get(tenCrop);
    if (!plan) {
      plan = inputPlan(this.checkpoint.meta.preprocess, this.checkpoint.mean, tenCrop);
      this.#plans.set(tenCrop, plan);
    }
    return plan;
  }

  /**
   * Class probabilities of each stored square (storedPixels), the softmax averaged over its views. The GPU
   * work is recorded and submitted before this returns; only the readback is awaited, so a caller can decode
   * the next batch while the GPU runs this one.
   */
  run(stored: Uint8Array[], tenCrop: boolean): Promise<Float32Array[]> {
    return this.#run(stored, tenCrop, false).then((r) => r.map((x) => x.probs));
  }

  /**
   * As run, with the network's raw outputs too: for each stored square, its averaged probabilities and the
   * logits (classes values, before the softmax) of each of its views.
   */
  runWithLogits(
    stored: Uint8Array[],
    tenCrop: boolean,
  ): Promise<{ probs: Float32Array; logits: Float32Array[] }[]> {
    return this.#run(stored, tenCrop, true);
  }

  /**
   * Compiles ahead of run() the kernels that classifying `counts[i]` images at a time needs (each batch split
   * into passes as run splits it), calling `progress(done, total)` as each kernel is ready: the first
   * classification otherwise spends seconds compiling with nothing to show for it. Resolves to the number of
   * kernels compiled (0 once a batch size has been seen).
   */
  async prepare(
    counts: number[],
    tenCrop: boolean,
    progress?: (done: number, total: number) => void,
  ): Promise<number> {
    const views = this.plan(tenCrop).views.length;
    const inputs = new Set<number>();
    for (const count of counts) {
      for (const images of this.#passes(count, views)) inputs.add(images * views);
    }
    const [c, h, w] = this.checkpoint.meta.model.input;
    const classes = this.checkpoint.meta.model.classes;
    const keys = this.gpu.kernelsFor(() => {
      for (const n of inputs) {
        const input = this.gpu.tensor([n, c, h, w], "classify.prepare");
        const logits = this.net.forward(input, { training: false });
        const probs = softmax(this.gpu, logits, classes);
        this.gpu.release(input, logits, probs);
      }
    });
    return await this.gpu.kernels.compile(keys, progress);
  }

  /** Images per forward pass when run classifies `count` images with `views` views each. */
  #passes(count: number, views: number): number[] {
    const perPass = Math.max(1, Math.floor(this.maxInputsPerPass / views));
    const out: number[] = [];
    for (let i = 0; i < count; i += perPass) out.push(Math.min(perPass, count - i));
    return out;
  }

  #run(stored: Uint8Array[], tenCrop: boolean, withLogits: boolean) {
    const plan = this.plan(tenCrop);
    const parts: Promise<{ probs: Float32Array; logits: Float32Array[] }[]>[] = [];
    let i = 0;
    for (const images of this.#passes(stored.length, plan.views.length)) {
      parts.push(this.#pass(plan, stored.slice(i, i + images), withLogits));
      i += images;
    }
    return Promise.all(parts).then((p) => p.flat());
  }

  #pass(
    plan: InputPlan,
    stored: Uint8Array[],
    withLogits: boolean,
  ): Promise<{ probs: Float32Array; logits: Float32Array[] }[]> {
    const views = plan.views.length, n = stored.length * views;
    const classes = this.checkpoint.meta.model.classes;
    const x = new Float32Array(n * plan.inputSize);
    writeInputs(plan, stored, x);
    const [c, h, w] = this.checkpoint.meta.model.input;
    const input = this.gpu.fromArray([n, c, h, w], x, "classify.input");
    const logits = this.net.forward(input, { training: false });
    const probs = softmax(this.gpu, logits, classes);
    // read() submits the copy synchronously, so the buffers can go back to the pool right away.
    const readback = this.gpu.read(probs);
    const rawBack = withLogits ? this.gpu.read(logits) : Promise.resolve(null);
    this.gpu.release(input, logits, probs);
    return Promise.all([readback, rawBack]).then(([p, raw]) =>
      stored.map((_, i) => {
        const avg = new Float32Array(classes);
        for (let v = 0; v < views; v++) {
          const row = (i * views + v) * classes;
          for (let k = 0; k < classes; k++) avg[k] += p[row + k];
        }
        for (let k = 0; k < classes; k++) avg[k] /= views;
        const perView = raw
          ? Array.from({ length: views }, (_, v) =>
            raw.slice((i * views + v) * classes, (i * views + v + 1) * classes))
          : [];
        return { probs: avg, logits: perView };
      })
    );
  }

  /** Returns the weights' GPU buffers to the pool (switching models in the GUI). */
  dispose(): void {
    this.net.destroy();
  }
}
