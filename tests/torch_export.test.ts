// PyTorch interchange: parameter names of the torchvision-style layout, the export/import round trip, and
// PyTorch (Debian's python3-torch, which scripts/setup.sh installs) loading an exported file and reproducing our
// GPU logits. Without torch that test fails; ALEXNET_TEST_WITHOUT=torch leaves it out on purpose.
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { assertThrowsWith } from "./helpers/asserts.ts";
import { alexnet } from "../src/models/alexnet.ts";
import { loadModelFile } from "../src/models/index.ts";
import { initialValues } from "../src/nn/init.ts";
import { Network } from "../src/nn/network.ts";
import { unpadMatrix } from "../src/nn/layout.ts";
import type { ModelSpec } from "../src/nn/spec.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.ts";
import {
  exportForTorch,
  importTorchvisionWeights,
  torchModuleSource,
  torchParameterNames,
  TORCHVISION_ALEXNET_FILE,
  weightsFromTorch,
} from "../src/io/torchvision.ts";
import { maxRelDiff, randomData, testGpu } from "./helpers/gpu.ts";
import { leftOut, requireTorch } from "./helpers/needs.ts";

Deno.test("torchvision names: the paper AlexNet maps onto features.N / classifier.N", () => {
  const names = torchParameterNames(alexnet());
  assertEquals(Object.fromEntries([...names].filter(([k]) => k.endsWith(".weight"))), {
    "conv1.weight": "features.0.weight",
    "conv2.weight": "features.4.weight",
    "conv3.weight": "features.8.weight",
    "conv4.weight": "features.10.weight",
    "conv5.weight": "features.12.weight",
    "fc6.weight": "classifier.0.weight",
    "fc7.weight": "classifier.3.weight",
    "fc8.weight": "classifier.6.weight",
  });
  const src = torchModuleSource(alexnet());
  assertMatch(src, /nn\.Conv2d\(96, 256, kernel_size=5, padding=2, groups=2\), {2}# features\.4 \(conv2\)/);
  assertMatch(src, /nn\.LocalResponseNorm\(5, alpha=0\.0005, beta=0\.75, k=2\), {2}# features\.2/);
  assertMatch(src, /nn\.Linear\(9216, 4096\), {2}# classifier\.0 \(fc6\)/);
});

Deno.test("torchvision import: models/torchvision-alexnet.json names are torchvision's own", async () => {
  const spec = await loadModelFile(TORCHVISION_ALEXNET_FILE);
  for (const [ours, theirs] of torchParameterNames(spec)) assertStrictEquals(ours, theirs);
  assertMatch(
    torchModuleSource(spec),
    /nn\.Dropout\(p=0\.5\), {2}# classifier\.0\n\s+nn\.Linear\(9216, 4096\), {2}# classifier\.1/,
  );
});

/** A reduced AlexNet with the paper's structure: groups 2, LRN, overlapping pooling, dropout. */
const mini: ModelSpec = {
  name: "mini-alexnet",
  description: "the paper's layer structure at a small size",
  input: [3, 99, 99],
  classes: 10,
  layers: [
    { type: "conv", name: "conv1", out: 16, kernel: 11, stride: 4, init: { std: 0.1 } },
    { type: "relu" },
    { type: "lrn", size: 5, alpha: 1e-4, beta: 0.75, k: 2 },
    { type: "maxpool", size: 3, stride: 2 },
    { type: "conv", name: "conv2", out: 32, kernel: 5, pad: 2, groups: 2, init: { std: 0.1, bias: 1 } },
    { type: "relu" },
    { type: "lrn", size: 5, alpha: 1e-4, beta: 0.75, k: 2 },
    { type: "maxpool", size: 3, stride: 2 },
    { type: "conv", name: "conv3", out: 48, kernel: 3, pad: 1, init: { std: 0.1 } },
    { type: "relu" },
    { type: "conv", name: "conv4", out: 48, kernel: 3, pad: 1, groups: 2, init: { std: 0.1, bias: 1 } },
    { type: "relu" },
    { type: "conv", name: "conv5", out: 32, kernel: 3, pad: 1, groups: 2, init: { std: 0.1, bias: 1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2 },
    { type: "fc", name: "fc6", out: 64, init: { std: 0.05, bias: 1 } },
    { type: "relu" },
    { type: "dropout", p: 0.5 },
    { type: "fc", name: "fc7", out: 64, init: { std: 0.05, bias: 1 } },
    { type: "relu" },
    { type: "dropout", p: 0.5 },
    { type: "fc", name: "fc8", out: 10, init: { std: 0.05 } },
  ],
};

Deno.test("torch export: names and shapes round-trip; bad files fail naming the tensor", async () => {
  const weights = initialValues(mini, 5);
  const file = decodeSafetensors(exportForTorch({ meta: { model: mini }, weights }), "export");
  assertEquals(file.tensors.get("features.4.weight")!.shape, [32, 8, 5, 5]);
  assertEquals(file.tensors.get("classifier.6.weight")!.shape, [10, 64]);
  assertStrictEquals(file.metadata.format, "pt");
  assertEquals(weightsFromTorch(file.tensors, mini, "export"), weights);

  const dir = await Deno.makeTempDir({ prefix: "torch-export-" });
  await Deno.writeFile(`${dir}/w.safetensors`, exportForTorch({ meta: { model: mini }, weights }));
  assertEquals((await importTorchvisionWeights(`${dir}/w.safetensors`, mini)).weights, weights);

  const broken = new Map(file.tensors);
  broken.set("features.0.weight", { shape: [16, 3, 11, 10], data: new Float32Array(16 * 3 * 110) });
  await Deno.writeFile(`${dir}/bad.safetensors`, encodeSafetensors(broken));
  await assertRejects(
    () => importTorchvisionWeights(`${dir}/bad.safetensors`, mini),
    Error,
    `bad.safetensors: "features.0.weight" has shape [16,3,11,10], model mini-alexnet expects [16,3,11,11]`,
  );
  broken.delete("features.0.weight");
  broken.set("features.1.running_mean", { shape: [1], data: new Float32Array(1) });
  assertThrows(
    () => weightsFromTorch(broken, mini, "f"),
    Error,
    `"features.0.weight" (conv1.weight of model mini-alexnet`,
  );
  // torchvision's own layout file is the default spec: our mini weights do not fit it.
  await assertRejects(
    () => importTorchvisionWeights(`${dir}/w.safetensors`),
    Error,
    `"features.0.weight" has shape [16,3,11,11], model torchvision-alexnet expects [64,3,11,11]`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("requireTorch: a Python without torch fails the test, naming the interpreter and the opt-out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "no-torch-" });
  try {
    const fake = `${dir}/python3`;
    await Deno.writeTextFile(
      fake,
      "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n",
    );
    await Deno.chmod(fake, 0o755);
    for (const python of [fake, `${dir}/missing-python3`]) {
      assertThrowsWith(
        () => requireTorch(python),
        (e: Error) =>
          e.message.includes(python) && /apt-get install -y python3-torch/.test(e.message) &&
          /ALEXNET_TEST_WITHOUT=torch/.test(e.message),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// safetensors is parsed by hand: the python package is not installed alongside Debian's torch.
const PY_RUNNER = `
import json, struct, sys
import torch
sys.path.insert(0, sys.argv[1])
from net import Net

def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        assert e["dtype"] == "F32", e["dtype"]
        out[name] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(e["shape"])
    return out

net = Net()
net.load_state_dict(load_safetensors(sys.argv[1] + "/w.safetensors"), strict=True)
net.eval()
x = torch.frombuffer(bytearray(open(sys.argv[1] + "/x.f32", "rb").read()), dtype=torch.float32)
with torch.no_grad():
    y = net(x.reshape(-1, ${mini.input.join(", ")}))
print(json.dumps(y.flatten().tolist()))
`;
import { run } from "./helpers/run.ts";

Deno.test({
  name: "torch export: PyTorch loads the exported file into the generated module and gives our GPU logits",
  ignore: leftOut("torch"),
  fn: async () => {
    const python = requireTorch();
    const gpu = await testGpu();
    const weights = initialValues(mini, 11);
    const n = 2;
    const x = randomData(n * 3 * 99 * 99, 4, 1);
    const net = new Network(gpu, mini);
    net.loadWeights(weights);
    const input = gpu.fromArray([n, 3, 99, 99], x);
    const logits = net.forward(input, { training: false });
    const ours = unpadMatrix(await logits.read(), n, 10, net.classesP);
    gpu.release(input, logits);
    net.destroy();

    const dir = await Deno.makeTempDir({ prefix: "torch-run-" });
    await Deno.writeFile(`${dir}/w.safetensors`, exportForTorch({ meta: { model: mini }, weights }));
    await Deno.writeFile(`${dir}/x.f32`, new Uint8Array(x.buffer));
    await Deno.writeTextFile(`${dir}/net.py`, torchModuleSource(mini));
    await Deno.writeTextFile(`${dir}/run.py`, PY_RUNNER);
    const out = await run(python, [`${dir}/run.py`, dir]);
    assertStrictEquals(out.code, 0, out.stderr);
    const theirs = JSON.parse(out.stdout) as number[];
    assertStrictEquals(theirs.length, n * 10);
    const diff = maxRelDiff(ours, theirs);
    assert(diff < 1e-4, `max relative difference ${diff}`);
    assert(Math.max(...theirs.map(Math.abs)) > 1e-2, "logits are not vanishingly small");
    await Deno.remove(dir, { recursive: true });
  },
});
