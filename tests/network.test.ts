// The GPU executor against the CPU reference on whole models, and the determinism of training.
import { assert, assertEquals, assertNotEquals, assertStrictEquals } from "@std/assert";
import { executionOrder, fuseRelu, Network } from "../src/nn/network.ts";
import { cpuForward } from "../src/reference/cpu_network.ts";
import { initialValues } from "../src/nn/init.ts";
import { alexnet } from "../src/models/alexnet.ts";
import { type ModelSpec, parameterCount, type ResolvedLayer, resolveModel } from "../src/nn/spec.ts";
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

Deno.test("a ReLU before a max pool runs after it, and a ReLU after a conv or max pool runs in its kernels", () => {
  const spec = (layers: ModelSpec["layers"]): ModelSpec => ({
    name: "order",
    description: "execution order",
    input: [3, 11, 11],
    classes: 4,
    layers,
  });
  const conv = { type: "conv", name: "c1", out: 6, kernel: 3, pad: 1 } as const;
  const plan = (layers: ModelSpec["layers"]) => {
    const resolved = resolveModel(spec(layers));
    const order = executionOrder(
      resolved.map((
        layer,
      ): { layer: ResolvedLayer; reluAfter?: ResolvedLayer; reluBefore?: ResolvedLayer } => ({
        layer,
      })),
    );
    return {
      order: order.map((r) => r.layer.spec.type),
      fused: fuseRelu(order).map((r) => [r.layer.spec.type, r.reluAfter?.spec.type]),
      reluBefore: fuseRelu(order).map((r) => r.reluBefore?.spec.type),
    };
  };
  const pool = { type: "maxpool", size: 3, stride: 2 } as const;
  const fc = { type: "fc", name: "f1", out: 4 } as const;
  assertEquals(plan([conv, { type: "relu" }, pool, fc]), {
    order: ["conv", "maxpool", "relu", "fc"],
    fused: [["conv", undefined], ["maxpool", "relu"], ["fc", undefined]],
    reluBefore: [undefined, undefined, undefined],
  });
  assertEquals(
    plan([conv, { type: "relu" }, { type: "lrn", size: 3, alpha: 1e-3, beta: 0.75, k: 2 }, fc]).fused,
    [
      ["conv", "relu"],
      ["lrn", undefined],
      ["fc", undefined],
    ],
  );
  // ... and the LRN after a conv's fused ReLU applies the ReLU's backward pass; after a pool's it does not.
  assertEquals(
    plan([conv, { type: "relu" }, { type: "lrn", size: 3, alpha: 1e-3, beta: 0.75, k: 2 }, fc]).reluBefore,
    [undefined, "relu", undefined],
  );
  assertEquals(
    plan([conv, pool, { type: "relu" }, { type: "lrn", size: 3, alpha: 1e-3, beta: 0.75, k: 2 }, fc])
      .reluBefore,
    [undefined, undefined, undefined, undefined],
  );
  // tanh is not fused, nor a ReLU after an fc layer or a dropout.
  assertEquals(
    plan([conv, { type: "tanh" }, fc, { type: "relu" }, { type: "dropout", p: 0 }, { type: "relu" }]).fused,
    [
      ["conv", undefined],
      ["tanh", undefined],
      ["fc", undefined],
      ["relu", undefined],
      ["dropout", undefined],
      ["relu", undefined],
    ],
  );
});

for (const algorithm of ["direct", "winograd", "im2col"] as const) {
  Deno.test(`ReLUs fused into convs (${algorithm}), max pools and an LRN's backward give the unfused outputs and gradients bit for bit`, async () => {
    const gpu = await testGpu();
    // A zero-rate dropout is an exact copy; between two layers it keeps them apart (no reorder, no fusion).
    const gap = (split: boolean): ModelSpec["layers"] => split ? [{ type: "dropout", p: 0 }] : [];
    const spec = (split: boolean): ModelSpec => ({
      name: "relu-fusion",
      description: "conv, ReLU, LRN, max pool 3/2, conv, ReLU, conv, ReLU, max pool 3/2, fc",
      input: [3, 11, 11],
      classes: 4,
      layers: [
        // Negative biases make many outputs and windows all-negative, where the ReLU's zero decides.
        // Fused: c1 and its ReLU, whose backward pass the LRN applies; c2 and its ReLU; the second pool and the
        // ReLU before it (which runs after it).
        { type: "conv", name: "c1", out: 6, kernel: 3, pad: 1, algorithm, init: { std: 0.3, bias: -0.2 } },
        ...gap(split),
        { type: "relu" },
        ...gap(split),
        { type: "lrn", size: 3, alpha: 0.01, beta: 0.75, k: 2 },
        { type: "maxpool", size: 3, stride: 2, ceil: true },
        { type: "conv", name: "c2", out: 5, kernel: 3, pad: 1, algorithm, init: { std: 0.3, bias: -0.1 } },
        ...gap(split),
        { type: "relu" },
        { type: "conv", name: "c3", out: 4, kernel: 3, pad: 1, algorithm, init: { std: 0.3, bias: -0.1 } },
        ...gap(split),
        { type: "relu" },
        ...gap(split),
        { type: "maxpool", size: 3, stride: 2, ceil: true },
        { type: "fc", name: "f1", out: 4, init: { std: 0.2 } },
      ],
    });
    const n = 3;
    const x = randomData(n * 3 * 121, 21);
    const run = async (s: ModelSpec) => {
      const net = new Network(gpu, s, 4);
      const input = gpu.fromArray([n, 3, 11, 11], x);
      const labels = gpu.tensor([n]);
      gpu.writeU32(labels, [0, 3, 1]);
      const logits = net.forward(input, { training: true, seed: 1, step: 0 });
      const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, s.classes);
      net.backward(dlogits);
      const out = {
        logits: new Uint32Array((await logits.read()).buffer),
        grads: (await Promise.all(net.params.flatMap((p) => p.grad.map((g) => g.read())))).map((g) =>
          new Uint32Array(g.buffer)
        ),
      };
      gpu.release(input, labels, logits, dlogits, stats);
      net.destroy();
      return out;
    };
    const fused = await run(spec(false)), apart = await run(spec(true));
    assertEquals(fused.logits, apart.logits);
    assertEquals(fused.grads, apart.grads);
    assert(new Float32Array(fused.grads[0].buffer).some((v) => v !== 0), "conv gradient is not all zero");
  });
}

Deno.test("inference passes keep conv weights prepared until loadWeights or an SGD step changes them", async () => {
  const gpu = await testGpu();
  const spec: ModelSpec = {
    name: "prepared-weights",
    description: "a direct, a Winograd and an im2col conv",
    input: [3, 10, 10],
    classes: 4,
    layers: [
      { type: "conv", name: "c1", out: 6, kernel: 3, pad: 1, algorithm: "direct", init: { std: 0.3 } },
      { type: "relu" },
      { type: "conv", name: "c2", out: 5, kernel: 3, pad: 1, algorithm: "winograd", init: { std: 0.3 } },
      { type: "relu" },
      { type: "conv", name: "c3", out: 4, kernel: 3, algorithm: "im2col", init: { std: 0.3 } },
      { type: "fc", name: "f1", out: 4, init: { std: 0.2 } },
    ],
  };
  const n = 2;
  const input = gpu.fromArray([n, 3, 10, 10], randomData(n * 300, 31));
  const logitsOf = async (net: Network) => {
    const before = gpu.stats.dispatches;
    const logits = net.forward(input, { training: false });
    const bits = new Uint32Array((await logits.read()).buffer);
    logits.release();
    return { bits, dispatches: gpu.stats.dispatches - before };
  };
  const fresh = async (weights: Map<string, Float32Array>) => {
    const other = new Network(gpu, spec, 1, { weights });
    const out = await logitsOf(other);
    other.destroy();
    return out.bits;
  };

  const net = new Network(gpu, spec, 4);
  // Listing the kernels a pass needs runs it with every dispatch skipped: nothing may be kept from it.
  gpu.kernelsFor(() => net.forward(input, { training: false }).release());
  const first = await logitsOf(net), second = await logitsOf(net);
  assertEquals(first.bits, await fresh(initialValues(spec, 4)));
  assertEquals(second.bits, first.bits);
  // The direct conv's transpose and the Winograd filters' transform ran in the first pass only.
  assertStrictEquals(first.dispatches - second.dispatches, 2);

  // New weights: the next pass prepares them again and gives what a net built with them gives.
  const other = initialValues(spec, 9);
  net.loadWeights(other);
  const loaded = await logitsOf(net);
  assertStrictEquals(loaded.dispatches, first.dispatches);
  assertEquals(loaded.bits, await fresh(other));
  assertNotEquals(loaded.bits, first.bits);

  // A training step changes the weights in place: the same again.
  const labels = gpu.tensor([n]);
  gpu.writeU32(labels, [1, 3]);
  const logits = net.forward(input, { training: true, seed: 1, step: 0 });
  const { dlogits, stats } = softmaxCrossEntropy(gpu, logits, labels, spec.classes);
  net.backward(dlogits);
  net.sgdStep({ lr: 0.1, momentum: 0.9, weightDecay: 0 });
  gpu.release(logits, dlogits, stats, labels);
  const trained = await logitsOf(net);
  assertEquals(trained.bits, await fresh(await net.exportWeights()));
  assertNotEquals(trained.bits, loaded.bits);
  net.destroy();
  input.release();
});
