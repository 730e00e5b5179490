// deno task model import / export: PyTorch state_dicts (safetensors and torch.save() files) to checkpoints that
// classify and evaluate take, checkpoints back to state_dicts PyTorch loads strictly, and what wrong files
// are told. The torch.save() cases use Debian's python3-torch to write the files and check the exports (reading
// .pt/.pth needs no Python: tests/io_pth.test.ts); ALEXNET_TEST_WITHOUT=torch leaves them out.

import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { assertRejectsWith } from "./helpers/asserts.ts";
import { Image } from "imagescript";
import { exportCommand, importCommand } from "../src/cli/model.ts";
import { main as classify } from "../src/cli/classify.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  encodeCheckpoint,
  loadCheckpoint,
} from "../src/io/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../src/io/safetensors.ts";
import { TOOLS_DIR } from "../src/io/python.ts";
import { torchModuleSource, TORCHVISION_ALEXNET_FILE, torchvisionPreprocess } from "../src/io/torchvision.ts";
import { buildModel, loadModelFile } from "../src/models/index.ts";
import { initialValues } from "../src/nn/init.ts";
import { type ModelSpec, resolveModel } from "../src/nn/spec.ts";
import { PROJECT_ROOT } from "../src/data/util.ts";
import { testGpu } from "./helpers/gpu.ts";
import { leftOut, requireTorch } from "./helpers/needs.ts";
import { UsageError } from "../src/util/args.ts";

const dir = await Deno.makeTempDir({ prefix: "model-interop-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** torchvision's AlexNet layout (layer names features.N / classifier.N) at a small size, 3 classes. */
const tiny: ModelSpec = {
  name: "tiny-torchvision",
  description: "torchvision's AlexNet layout at a small size",
  input: [3, 32, 32],
  classes: 3,
  layers: [
    { type: "conv", name: "features.0", out: 8, kernel: 3, pad: 1, init: { std: 0.2 } },
    { type: "relu" },
    { type: "maxpool", size: 2, stride: 2 },
    { type: "dropout", p: 0.5 },
    { type: "fc", name: "classifier.1", out: 16, init: { std: 0.05, bias: 0.1 } },
    { type: "relu" },
    { type: "fc", name: "classifier.3", out: 3, init: { std: 0.2 } },
  ],
};
const TINY_JSON = `${dir}/tiny.json`;
await Deno.writeTextFile(TINY_JSON, JSON.stringify(tiny));
const CLASSES = `${dir}/classes.txt`;
await Deno.writeTextFile(CLASSES, "cat\ndog\n\nfish\n");

/** A state_dict of `spec` under torch's names (here equal to ours), as safetensors.torch.save_file writes it. */
function stateDict(spec: ModelSpec, seed: number): { bytes: Uint8Array; weights: Map<string, Float32Array> } {
  const weights = initialValues(spec, seed);
  const tensors = new Map<string, NamedTensor>();
  for (const l of resolveModel(spec)) {
    for (const p of l.params) tensors.set(p.name, { shape: p.shape, data: weights.get(p.name)! });
  }
  return { bytes: encodeSafetensors(tensors, { format: "pt" }), weights };
}

async function solid(path: string, side: number, rgb: [number, number, number]): Promise<void> {
  const im = new Image(side, side);
  im.fill(Image.rgbaToColor(...rgb, 255));
  await Deno.writeFile(path, await im.encode());
}

async function runClassify(args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await classify(args, { out: (l) => out.push(l), err: (l) => err.push(l), gpu: testGpu });
  return { code, out, err: err.join("\n") };
}

const lines: string[] = [];
const quiet = (l: string) => lines.push(l);

Deno.test("model import --from torchvision: a safetensors state_dict becomes a checkpoint classify and evaluate take", async () => {
  const sd = stateDict(tiny, 3);
  const file = `${dir}/tiny-sd.safetensors`;
  await Deno.writeFile(file, sd.bytes);
  assertStrictEquals(
    await importCommand([file, "--from", "torchvision", "--arch", TINY_JSON, "--classes", CLASSES], quiet),
    0,
  );
  const target = `${dir}/tiny-sd.checkpoint.safetensors`;
  const ckpt = await loadCheckpoint(target);
  assertEquals(ckpt.weights, sd.weights);
  assertEquals(ckpt.meta.classes, ["cat", "dog", "fish"]);
  assertEquals(ckpt.meta.preprocess, {
    resize: 37,
    crop: 32,
    scale: 1 / 255,
    mean: "channel",
    channels: 3,
    std: [0.229, 0.224, 0.225],
  });
  assertEquals(
    Array.from(ckpt.mean!),
    Array.from(Float32Array.of(0.485 * 255, 0.456 * 255, 0.406 * 255)),
  );
  assertStrictEquals(ckpt.meta.provenance?.source, file);

  // A second import into the same place is refused unless --force.
  await assertRejectsWith(
    importCommand([file, "--from", "torchvision", "--arch", TINY_JSON, "--classes", CLASSES], quiet),
    /tiny-sd\.checkpoint\.safetensors exists already \(--force overwrites it\)/,
  );
  assertStrictEquals(
    await importCommand(
      [file, "--from", "torchvision", "--arch", TINY_JSON, "--classes", CLASSES, "--force"],
      quiet,
    ),
    0,
  );

  const img = `${dir}/red.png`;
  await solid(img, 50, [250, 10, 10]);
  const r = await runClassify(["--model", target, "--json", "--logits", img]);
  assertStrictEquals(r.code, 0, r.err);
  const result = JSON.parse(r.out[0]) as { top: { class: string }[]; logits: number[] };
  assertStrictEquals(result.logits.length, 3);
  assert(["cat", "dog", "fish"].includes(result.top[0].class));

  // deno task evaluate on an image folder stored at the checkpoint's resize side (37 px).
  const root = `${dir}/pets`;
  for (const split of ["train", "val"]) {
    for (const [i, c] of ["cat", "dog", "fish"].entries()) {
      await Deno.mkdir(`${root}/${split}/${c}`, { recursive: true });
      await solid(`${root}/${split}/${c}/a.png`, 40, [80 * i, 200 - 60 * i, 30]);
    }
  }
  const ev = await runDeno(
    [
      "run",
      "-A",
      "src/cli/evaluate.ts",
      "--checkpoint",
      target,
      "--data",
      "image-folder",
      "--data-path",
      root,
    ]
      .concat(["--size", "37", "--json"]),
    { cwd: PROJECT_ROOT, env: { ALEXNET_CACHE_DIR: `${dir}/cache` } },
  );
  assertStrictEquals(ev.code, 0, ev.stderr);
  const evaluation = JSON.parse(ev.stdout) as { images: number; top1Error: number; loss: number };
  assertStrictEquals(evaluation.images, 3);
  assert(evaluation.top1Error >= 0 && evaluation.top1Error <= 1);
  // evaluate applies the checkpoint's per-channel std as classify does: on these solid images (cropped alike by
  // both), its loss is the mean of classify's -log p(true class).
  const val = ["cat", "dog", "fish"].map((c) => `${root}/val/${c}/a.png`);
  const c = await runClassify(["--model", target, "--json", "--top", "3", ...val]);
  assertStrictEquals(c.code, 0, c.err);
  const loss = c.out.map((line, label) => {
    const top = (JSON.parse(line) as { top: { index: number; probability: number }[] }).top;
    return -Math.log(top.find((t) => t.index === label)!.probability);
  }).reduce((a, b) => a + b) / 3;
  assert(Math.abs(evaluation.loss - loss) < 1e-5, `evaluate's loss ${evaluation.loss}, classify's ${loss}`);
});

Deno.test("model import: wrong files and flags are refused, naming the file and what was expected", async () => {
  const sd = `${dir}/tiny-sd2.safetensors`;
  await Deno.writeFile(sd, stateDict(tiny, 4).bytes);
  const png = `${dir}/photo.png`;
  await solid(png, 8, [1, 2, 3]);
  const ckpt: Checkpoint = {
    meta: {
      format: CHECKPOINT_FORMAT,
      model: tiny,
      classes: ["a", "b", "c"],
      step: 0,
      epoch: 0,
      seed: 0,
      preprocess: torchvisionPreprocess(tiny),
    },
    weights: initialValues(tiny, 1),
    mean: Float32Array.of(1, 2, 3),
  };
  const ours = `${dir}/ours.safetensors`;
  await Deno.writeFile(ours, encodeCheckpoint(ckpt));
  const text = `${dir}/notes.txt`;
  await Deno.writeTextFile(text, "hello\n");
  const ourNames = `${dir}/our-names.safetensors`;
  await Deno.writeFile(ourNames, stateDict(mini, 1).bytes);
  const imp = (...args: string[]) => importCommand(args, quiet);
  const cases: [string[], RegExp][] = [
    [[`${dir}/nope.pt`, "--from", "torchvision"], /nope\.pt: cannot read weights \(no such file\)/],
    [
      [png, "--from", "torchvision"],
      /photo\.png: not a PyTorch state_dict \(a PNG image\); expected a PyTorch state_dict: a \.safetensors file .* or a torch\.save\(model\.state_dict\(\), path\) \.pt\/\.pth file/,
    ],
    [[text, "--from", "torchvision"], /notes\.txt: not a PyTorch state_dict \(text\)/],
    [
      [ours, "--from", "torchvision"],
      /ours\.safetensors: already an alexnet-webgpu checkpoint \(model tiny-torchvision\), not a PyTorch state_dict: `deno task classify --model` .* `deno task model export`/,
    ],
    // The tiny net's state_dict is not torchvision's AlexNet (the default --arch): the shapes say so.
    [
      [sd, "--from", "torchvision"],
      /tiny-sd2\.safetensors: "features\.0\.weight" has shape \[8,3,3,3\], model torchvision-alexnet expects \[64,3,11,11\]/,
    ],
    // Names of another architecture altogether (the paper layout's own names, as a checkpoint stores them).
    [
      [ourNames, "--from", "torchvision"],
      /our-names\.safetensors: not a state_dict of model torchvision-alexnet: it has none of its 16 tensors \("features\.0\.weight", .*\); the file holds "conv1\.bias", "conv1\.weight", .* \(another architecture\?\)/,
    ],
    [
      [sd, "--from", "torchvision", "--arch", TINY_JSON],
      /model tiny-torchvision has 3 outputs: name its classes .*--classes FILE/,
    ],
    [
      [sd, "--from", "torchvision", "--arch", TINY_JSON, "--classes", text],
      /notes\.txt: 1 class names for the 3 outputs of model tiny-torchvision/,
    ],
    [
      [sd, "--from", "torchvision", "--arch", TINY_JSON, "--classes", `${dir}/none.txt`],
      /none\.txt: cannot read class names \(no such file\)/,
    ],
  ];
  for (const [args, why] of cases) await assertRejectsWith(imp(...args), why, args.join(" "));
  const usage: [string[], RegExp][] = [
    [[sd], /--from torchvision is required/],
    [[sd, "--from", "keras"], /--from: expected torchvision, got "keras"/],
    [["--from", "torchvision"], /name one state_dict file/],
    [[sd, "--from", "torchvision", "--out", sd], /is the file being imported/],
    [[sd, "--from", "torchvision", "--out", `${dir}/x.pt`], /a checkpoint is a \.safetensors file/],
  ];
  for (const [args, why] of usage) {
    await assertRejectsWith(
      imp(...args),
      (e: Error) => e instanceof UsageError && why.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("classify --model with a plain state_dict says which command converts it", async () => {
  const sd = `${dir}/plain-sd.safetensors`;
  await Deno.writeFile(sd, stateDict(tiny, 5).bytes);
  await solid(`${dir}/blue.png`, 20, [0, 0, 255]);
  const r = await runClassify(["--model", sd, `${dir}/blue.png`]);
  assertStrictEquals(r.code, 1);
  assertMatch(r.err, /plain-sd\.safetensors: .*not an alexnet-webgpu checkpoint/);
  assertMatch(r.err, /deno task model import .* --from torchvision/);
});

/** The paper's layer structure at a small size: names conv1 ... fc8 map to features.N / classifier.N. */
const mini: ModelSpec = {
  name: "mini-paper",
  description: "the paper's layer structure at a small size",
  input: [3, 67, 67],
  classes: 4,
  layers: [
    { type: "conv", name: "conv1", out: 8, kernel: 11, stride: 4, init: { std: 0.1 } },
    { type: "relu" },
    { type: "lrn", size: 5, alpha: 1e-4, beta: 0.75, k: 2 },
    { type: "maxpool", size: 3, stride: 2 },
    { type: "conv", name: "conv2", out: 16, kernel: 5, pad: 2, groups: 2, init: { std: 0.1, bias: 1 } },
    { type: "relu" },
    { type: "maxpool", size: 3, stride: 2 },
    { type: "fc", name: "fc6", out: 32, init: { std: 0.05, bias: 1 } },
    { type: "relu" },
    { type: "dropout", p: 0.5 },
    { type: "fc", name: "fc8", out: 4, init: { std: 0.05 } },
  ],
};

function miniCheckpoint(): Checkpoint {
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      model: mini,
      classes: ["w", "x", "y", "z"],
      step: 7,
      epoch: 1,
      seed: 2,
      preprocess: { resize: 67, crop: 67, scale: 1 / 255, mean: "channel", channels: 3 },
    },
    weights: initialValues(mini, 9),
    mean: Float32Array.of(120, 110, 100),
  };
}

Deno.test("model export --to torch: safetensors under PyTorch's names; wrong inputs refused", async () => {
  const ckptFile = `${dir}/mini.safetensors`;
  await Deno.writeFile(ckptFile, encodeCheckpoint(miniCheckpoint()));
  const out: string[] = [];
  assertStrictEquals(
    await exportCommand([ckptFile, "--to", "torch", "--module", `${dir}/mini_net.py`], (l) => out.push(l)),
    0,
  );
  const file = decodeSafetensors(await Deno.readFile(`${dir}/mini.torch.safetensors`), "export");
  assertEquals([...file.tensors.keys()].sort(), [
    "classifier.0.bias",
    "classifier.0.weight",
    "classifier.3.bias",
    "classifier.3.weight",
    "features.0.bias",
    "features.0.weight",
    "features.4.bias",
    "features.4.weight",
  ]);
  assertEquals(file.tensors.get("features.4.weight")!.data, miniCheckpoint().weights.get("conv2.weight"));
  assertEquals(JSON.parse(file.metadata.classes), ["w", "x", "y", "z"]);
  assertEquals(JSON.parse(file.metadata.preprocess).mean_values, [120, 110, 100]);
  assertMatch(await Deno.readTextFile(`${dir}/mini_net.py`), /class Net\(nn\.Module\)/);
  assertMatch(
    out.join("\n"),
    /load it in PyTorch: Net\(\)\.load_state_dict\(safetensors\.torch\.load_file\(/,
  );

  const exp = (...args: string[]) => exportCommand(args, quiet);
  await assertRejectsWith(exp(ckptFile, "--to", "torch"), /mini\.torch\.safetensors exists already/);
  const plain = `${dir}/plain.safetensors`;
  await Deno.writeFile(plain, stateDict(tiny, 1).bytes);
  await assertRejectsWith(
    exp(plain, "--to", "torch"),
    /plain\.safetensors: not an alexnet-webgpu checkpoint/,
  );
  await assertRejectsWith(
    exp(`${dir}/missing.safetensors`, "--to", "torch"),
    /missing\.safetensors: cannot read checkpoint/,
  );
  // cuda-convnet's CIFAR net has locally connected layers: no PyTorch module, and no file is written.
  const local = `${dir}/local.safetensors`;
  const cifar = buildModel("conv-local-13pct");
  const side = cifar.input[1];
  const lc: Checkpoint = {
    meta: {
      ...miniCheckpoint().meta,
      model: cifar,
      classes: [...Array(10)].map((_, i) => `c${i}`),
      preprocess: { resize: side, crop: side, scale: 1, mean: "none", channels: 3 },
    },
    weights: initialValues(cifar, 1),
  };
  await Deno.writeFile(local, encodeCheckpoint(lc));
  await assertRejectsWith(exp(local, "--to", "torch"), /PyTorch has no built-in/);
  await assertRejectsWith(Deno.stat(`${dir}/local.torch.safetensors`), Deno.errors.NotFound);
  for (
    const [args, why] of [
      [[ckptFile], /--to torch is required/],
      [[ckptFile, "--to", "onnx"], /--to: expected torch, got "onnx"/],
      [[ckptFile, "--to", "torch", "--out", `${dir}/x.onnx`], /expected a \.safetensors, \.pt or \.pth file/],
    ] as [string[], RegExp][]
  ) {
    await assertRejectsWith(
      exp(...args),
      (e: Error) => e instanceof UsageError && why.test(e.message),
      args.join(" "),
    );
  }
});

// torch.save() files need PyTorch: made and checked by /usr/bin/python3 with Debian's python3-torch.
const PY_MAKE_PT = `
import collections, sys
import torch
sys.path.insert(0, sys.argv[1])
from torch_state_dict import read_safetensors
sd = read_safetensors(sys.argv[2])
out = sys.argv[3]
torch.save(sd, out + "/zip.pt")
torch.save(sd, out + "/legacy.pth", _use_new_zipfile_serialization=False)
torch.save({"epoch": 3, "state_dict": collections.OrderedDict(("module." + k, v.half()) for k, v in sd.items())}, out + "/wrapped.pt")
torch.save(torch.nn.Linear(2, 3), out + "/whole-model.pt")
torch.save({"a": torch.zeros(2), "steps": 5}, out + "/mixed.pt")
`;

const PY_CHECK_PT = `
import sys
import torch
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from torch_state_dict import read_safetensors
from mini_net import Net
sd = torch.load(sys.argv[3])
net = Net()
net.load_state_dict(sd, strict=True)
ref = read_safetensors(sys.argv[4])
assert list(sd) == list(net.state_dict()), (list(sd), list(net.state_dict()))
assert sorted(sd) == sorted(ref)
assert all(torch.equal(sd[k], ref[k]) for k in sd)
print("ok", len(sd))
`;

Deno.test({
  name:
    "model import/export with torch.save() files: zip, legacy and wrapped state_dicts; a .pt PyTorch loads",
  ignore: leftOut("torch"),
  fn: async () => {
    const python = requireTorch();
    const sub = `${dir}/pt`;
    await Deno.mkdir(sub);
    const sd = stateDict(tiny, 6);
    await Deno.writeFile(`${sub}/sd.safetensors`, sd.bytes);
    await Deno.writeTextFile(`${sub}/make.py`, PY_MAKE_PT);
    const made = await run(python, [`${sub}/make.py`, TOOLS_DIR, `${sub}/sd.safetensors`, sub]);
    assertStrictEquals(made.code, 0, made.stderr);
    const args = ["--from", "torchvision", "--arch", TINY_JSON, "--classes", CLASSES];
    for (const name of ["zip.pt", "legacy.pth"]) {
      assertStrictEquals(await importCommand([`${sub}/${name}`, ...args], quiet), 0);
      const ckpt = await loadCheckpoint(`${sub}/${name.replace(/\.pth?$/, "")}.checkpoint.safetensors`);
      assertEquals(ckpt.weights, sd.weights, name);
    }
    const notes: string[] = [];
    assertStrictEquals(await importCommand([`${sub}/wrapped.pt`, ...args], (l) => notes.push(l)), 0);
    assertMatch(
      notes.join("\n"),
      /note: took the state_dict under "state_dict"\nnote: removed the "module\." prefix/,
    );
    const wrapped = await loadCheckpoint(`${sub}/wrapped.checkpoint.safetensors`);
    // Saved as float16: equal to the float32 weights within float16's rounding.
    const w = wrapped.weights.get("features.0.weight")!, want = sd.weights.get("features.0.weight")!;
    assert(w.every((v, i) => Math.abs(v - want[i]) <= 1e-3 * Math.abs(want[i]) + 1e-7));
    await assertRejectsWith(
      importCommand([`${sub}/whole-model.pt`, ...args], quiet),
      /whole-model\.pt: it refers to the Python object torch\.nn\.modules\.linear\.Linear, which is not part of a state_dict \(a pickled whole model: save its state_dict\(\) instead\)/,
    );
    await assertRejectsWith(
      importCommand([`${sub}/mixed.pt`, ...args], quiet),
      /mixed\.pt: not a plain state_dict: 1 of its 2 entries are not named tensors \("steps": int\)/,
    );

    // Export to .pt: PyTorch loads it strictly into the exported module, tensor for tensor equal to the
    // safetensors export; importing the .pt again gives the checkpoint's weights back exactly.
    const ckptFile = `${sub}/mini.safetensors`;
    await Deno.writeFile(ckptFile, encodeCheckpoint(miniCheckpoint()));
    const out: string[] = [];
    assertStrictEquals(
      await exportCommand([
        ckptFile,
        "--to",
        "torch",
        "--out",
        `${sub}/mini.pt`,
        "--module",
        `${sub}/mini_net.py`,
      ], (l) => out.push(l)),
      0,
    );
    assertMatch(
      out.join("\n"),
      /load it in PyTorch: Net\(\)\.load_state_dict\(torch\.load\("[^"]*mini\.pt"\)\)/,
    );
    assertStrictEquals(await exportCommand([ckptFile, "--to", "torch"], quiet), 0);
    await Deno.writeTextFile(`${sub}/check.py`, PY_CHECK_PT);
    const checked = await run(python, [
      `${sub}/check.py`,
      TOOLS_DIR,
      sub,
      `${sub}/mini.pt`,
      `${sub}/mini.torch.safetensors`,
    ]);
    assertStrictEquals(checked.code, 0, checked.stderr);
    assertStrictEquals(checked.stdout.trim(), "ok 8");
    const miniJson = `${sub}/mini.json`;
    await Deno.writeTextFile(miniJson, JSON.stringify(mini));
    await Deno.writeTextFile(`${sub}/mini-classes.json`, JSON.stringify(["w", "x", "y", "z"]));
    assertStrictEquals(
      await importCommand([
        `${sub}/mini.pt`,
        "--from",
        "torchvision",
        "--arch",
        miniJson,
        "--classes",
        `${sub}/mini-classes.json`,
      ], quiet),
      0,
    );
    assertEquals(
      (await loadCheckpoint(`${sub}/mini.checkpoint.safetensors`)).weights,
      miniCheckpoint().weights,
    );
  },
});

const PY_MAKE_TORCHVISION = `
import sys
import torch
sys.path.insert(0, sys.argv[1])
from net import Net
torch.manual_seed(0)
net = Net()
torch.save(net.state_dict(), sys.argv[1] + "/alexnet-owt.pth")
`;

const PY_SAME = `
import sys
import torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert list(a) == list(b), (list(a), list(b))
assert all(torch.equal(a[k], b[k]) for k in a)
print("ok", len(a), sum(v.numel() for v in a.values()))
`;
import { run, runDeno } from "./helpers/run.ts";

Deno.test({
  name:
    "model import of a full-size torchvision AlexNet .pth: classify runs it, export gives the same .pth back",
  ignore: leftOut("torch"),
  fn: async () => {
    const python = requireTorch();
    const sub = `${dir}/full`;
    await Deno.mkdir(sub);
    // torchvision is not installed: the state_dict comes from the module our code generates for
    // models/torchvision-alexnet.json, which has torchvision.models.alexnet()'s names and shapes.
    const spec = await loadModelFile(TORCHVISION_ALEXNET_FILE);
    await Deno.writeTextFile(`${sub}/net.py`, torchModuleSource(spec));
    await Deno.writeTextFile(`${sub}/make.py`, PY_MAKE_TORCHVISION);
    const made = await run(python, [`${sub}/make.py`, sub]);
    assertStrictEquals(made.code, 0, made.stderr);

    assertStrictEquals(await importCommand([`${sub}/alexnet-owt.pth`, "--from", "torchvision"], quiet), 0);
    const target = `${sub}/alexnet-owt.checkpoint.safetensors`;
    const ckpt = await loadCheckpoint(target);
    assertStrictEquals(ckpt.meta.model.name, "torchvision-alexnet");
    assertStrictEquals(ckpt.meta.classes.length, 1000);
    assertStrictEquals(ckpt.meta.classes[0], "tench");
    assertEquals(ckpt.meta.preprocess, {
      resize: 256,
      crop: 224,
      scale: 1 / 255,
      mean: "channel",
      channels: 3,
      std: [0.229, 0.224, 0.225],
    });

    const img = `${sub}/grey.png`;
    await solid(img, 300, [128, 128, 128]);
    const r = await runClassify(["--model", target, "--json", "--logits", "--top", "1", img]);
    assertStrictEquals(r.code, 0, r.err);
    const result = JSON.parse(r.out[0]) as { top: { class: string; index: number }[]; logits: number[] };
    assertStrictEquals(result.logits.length, 1000);
    assertStrictEquals(result.top[0].class, ckpt.meta.classes[result.top[0].index]);

    const out: string[] = [];
    assertStrictEquals(
      await exportCommand([target, "--to", "torch", "--out", `${sub}/back.pth`], (l) => out.push(l)),
      0,
    );
    assertMatch(out.join("\n"), /torchvision\.models\.alexnet\(\)\.load_state_dict\(torch\.load\(/);
    await Deno.writeTextFile(`${sub}/same.py`, PY_SAME);
    const same = await run(python, [`${sub}/same.py`, `${sub}/alexnet-owt.pth`, `${sub}/back.pth`]);
    assertStrictEquals(same.code, 0, same.stderr);
    assertStrictEquals(same.stdout.trim(), "ok 16 61100840");
  },
});
