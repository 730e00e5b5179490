// The GPU executor against the CPU reference on whole models, and the determinism of training.
import { assert, assertEquals, assertNotEquals, assertStrictEquals } from "@std/assert";
import { executionOrder, Network } from "../src/nn/network.ts";
import { cpuForward } from "../src/reference/cpu_network.ts";
import { initialValues } from "../src/nn/init.ts";
import { alexnet } from "../src/models/alexnet.ts";
import { type ModelSpec, parameterCount, resolveModel } from "../src/nn/spec.ts";
import { softmaxCrossEntropy, summariseStats } from "../src/nn/ops/loss.ts";
import { unpadMatrix } from "../src/nn/layout.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";

Deno.test("paper AlexNet has 60,965,224 parameters", () => {
  assertStrictEquals(parameterCount(alexnet()), 60965224);
});

Deno.test("paper AlexNet forward at batch 2 (two towers, LRN, overlapping pooling) matches the CPU reference", async () => {
  const gpu = await testGpu();
  const spec = alexnet({ classes: 1000 });
  // Larger weights than the paper's N(0, 0.01) so signals do not vanish through eight layers.
  const weights = initialValues(spec, 3);
  for (const [name, v] of weights) {
    if (name.endsWith(".weight")) v.forEach((_, i) => (v[i] *= name === "conv1.weight" ? 4 : 3));
  }
  const net = new Network(gpu, spec);
  net.loadWeights(weights);
  const n = 2;
  const x = randomData(n * 3 * 227 * 227, 9, 1);
  const logits = net.forward(gpu.fromArray([n, 3, 227, 227], x), { training: false });
  const got = unpadMatrix(await logits.read(), n, 1000, net.classesP);
  const want = cpuForward(spec, weights, x, n);
  const err = maxRelDiff(got, want);
  assert(err < 1e-4, `relative error ${err}`);
  assert(Math.max(...want.map(Math.abs)) > 1e-3, "logits are not vanishingly small");
  net.destroy();
});

const small: ModelSpec = {
  name: "small-test-cnn",
  description: "a tiny CNN for training tests",
  input: [3, 12, 12],
  classes: 5,
  layers: [
    { type: "conv", name: "c1", out: 8, kernel: 3, pad: 1, init: { std: 0.2 } },
    { type: "relu" },
    { type: "lrn", size: 3, alpha: 1e-3, beta: 0.75, k: 2 },
    { type: "maxpool", size: 3, stride: 2, ceil: true },
    // Forced Winograd (auto would pick im2col for 4 channels per group), so training exercises it too.
    { type: "conv", name: "c2", out: 6, kernel: 3, groups: 2, algorithm: "winograd", init: { std: 0.2 } },
    { type: "tanh" },
    { type: "avgpool", size: 2, stride: 2 },
    { type: "fc", name: "f1", out: 10, init: { std: 0.2 } },
    { type: "relu" },
    { type: "dropout", p: 0.3 },
    { type: "fc", name: "f2", out: 5, init: { std: 0.2 } },
  ],
};

async function trainSteps(seed: number, steps: number, variant: "cpu" | "gpu" = "cpu") {
  const gpu = await testGpu();
  const savedVariant = gpu.kernelVariant;
  gpu.kernelVariant = variant;
  const net = new Network(gpu, small, seed);
  const n = 6;
  const x = gpu.fromArray([n, 3, 12, 12], randomData(n * 3 * 144, 100));
  const labels = gpu.tensor([n]);
  gpu.writeU32(labels, [0, 1, 2, 3, 4, 0]);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const logits = net.forward(x, { training: true, seed, step });
    const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, small.classes);
    net.backward(dlogits);
    net.sgdStep({ lr: 0.05, momentum: 0.9, weightDecay: 0.0005 });
    losses.push(summariseStats(await stats.read(), n).loss);
    gpu.release(dlogits, stats, logits);
  }
  const weights = await net.exportWeights();
  net.destroy();
  gpu.release(x, labels);
  gpu.kernelVariant = savedVariant;
  return { losses, weights };
}

Deno.test("training a small CNN on a fixed batch lowers its loss, and the same seed gives identical weights", async () => {
  const a = await trainSteps(5, 30);
  const b = await trainSteps(5, 30);
  const lastFive = a.losses.slice(-5).reduce((s, v) => s + v, 0) / 5;
  assert(lastFive < a.losses[0] * 0.7, `loss ${a.losses[0]} -> ${lastFive} (mean of the last five steps)`);
  for (const [name, v] of a.weights) assertEquals(v, b.weights.get(name), `${name} differs between runs`);
  const c = await trainSteps(6, 2);
  assertNotEquals(c.weights.get("c1.weight"), a.weights.get("c1.weight"));
});

Deno.test("the GPU kernel variant (workgroup tiles) trains the same as the CPU variant", async () => {
  const cpu = await trainSteps(7, 5, "cpu");
  const gpu = await trainSteps(7, 5, "gpu");
  for (let i = 0; i < cpu.losses.length; i++) {
    assert(Math.abs(cpu.losses[i] - gpu.losses[i]) < 1e-4 * Math.max(1, cpu.losses[i]), `step ${i}`);
  }
  assert(maxRelDiff(gpu.weights.get("c1.weight")!, cpu.weights.get("c1.weight")!) < 1e-3);
});

Deno.test("a ReLU before a max pool runs after it, with the same outputs and gradients bit for bit", async () => {
  const gpu = await testGpu();
  const layers = (between: ModelSpec["layers"]): ModelSpec => ({
    name: "relu-pool",
    description: "conv, ReLU, max pool 3/2",
    input: [3, 11, 11],
    classes: 4,
    layers: [
      // A negative bias makes many windows all-negative, where the two orders tie at zero.
      { type: "conv", name: "c1", out: 6, kernel: 3, pad: 1, init: { std: 0.3, bias: -0.2 } },
      { type: "relu" },
      ...between,
      { type: "maxpool", size: 3, stride: 2, ceil: true },
      { type: "fc", name: "f1", out: 4, init: { std: 0.2 } },
    ],
  });
  // A zero-rate dropout between them is an exact copy that keeps the spec's order.
  const reordered = layers([]), kept = layers([{ type: "dropout", p: 0 }]);
  assertEquals(
    executionOrder(resolveModel(reordered).map((layer) => ({ layer }))).map((r) => r.layer.spec.type),
    ["conv", "maxpool", "relu", "fc"],
  );
  const n = 3;
  const x = randomData(n * 3 * 121, 21);
  const run = async (spec: ModelSpec) => {
    const net = new Network(gpu, spec, 4);
    const input = gpu.fromArray([n, 3, 11, 11], x);
    const labels = gpu.tensor([n]);
    gpu.writeU32(labels, [0, 3, 1]);
    const logits = net.forward(input, { training: true, seed: 1, step: 0 });
    const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, spec.classes);
    net.backward(dlogits);
    const out = {
      logits: await logits.read(),
      grads: await Promise.all(net.params.flatMap((p) => p.grad.map((g) => g.read()))),
    };
    gpu.release(input, labels, logits, dlogits, stats);
    net.destroy();
    return out;
  };
  const a = await run(reordered), b = await run(kept);
  assertEquals(a.logits, b.logits);
  assertEquals(a.grads, b.grads);
  assert(a.grads[0].some((v) => v !== 0), "conv gradient is not all zero");
});
