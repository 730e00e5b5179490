// torch.save() files read without Python (src/io/pth.ts, pickle.ts, zip.ts), checked against PyTorch itself
// (Debian's python3-torch, /usr/bin/python3): a random full-size torchvision AlexNet saved in the zip and the
// legacy format reads back bit for bit; `deno task model import` of the legacy file runs with no Python on PATH,
// and the checkpoint's logits on real photos equal PyTorch's with torchvision's preprocessing (per-channel
// mean and std) on the same decoded pixels; the reader's corners (float16, float64, strides, storage offsets,
// wrapped dicts, deflated zips) and its refusals (truncated files, a zip without data.pkl, a pickled list, a
// whole nn.Module, an unknown global), each one line naming the file. ALEXNET_TEST_WITHOUT=torch leaves it out.

import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { assertRejectsWith } from "./helpers/asserts.ts";
import { readTorchStateDict } from "../src/io/pth.ts";
import { decodeSafetensors, type NamedTensor } from "../src/io/safetensors.ts";
import { loadCheckpoint } from "../src/io/checkpoint.ts";
import { readWholeFile } from "../src/io/read_file.ts";
import { TOOLS_DIR } from "../src/io/python.ts";
import { importCommand } from "../src/cli/model.ts";
import { Classifier } from "../src/classify/classifier.ts";
import { storedPixels } from "../src/classify/preprocess.ts";
import { decodeImage } from "../src/data/image_decode.ts";
import { PROJECT_ROOT } from "../src/data/util.ts";
import { maxRelDiff, testGpu } from "./helpers/gpu.ts";
import { leftOut, requireShared, requireTorch } from "./helpers/needs.ts";
import { writeRandomAlexnet } from "./helpers/torch_alexnet.ts";
import { run } from "./helpers/run.ts";

const dir = await Deno.makeTempDir({ prefix: "io-pth-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

// torchvision.models.alexnet(weights=None) when torchvision is installed; otherwise (as here) the module our
// code generates for models/torchvision-alexnet.json, which has its names and shapes. PyTorch also gives what
// to compare against: each AlexNet tensor's SHA-256, the small files' tensors as float32 safetensors (its own
// .float() conversion of float16, bfloat16 and float64).
const PY_MAKE = `
import collections, hashlib, json, os, pickle, sys, zipfile
import torch
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from torch_state_dict import write_safetensors
out = sys.argv[2]
from random_alexnet import random_alexnet
net = random_alexnet(0)
sd = net.state_dict()
torch.save(sd, out + "/alexnet-zip.pth")
torch.save(sd, out + "/alexnet-legacy.pth", _use_new_zipfile_serialization=False)
# SHA-256 of each tensor's float32 bytes: as exact as the values, without another 244 MB file to read.
digest = [[k, list(v.shape), hashlib.sha256(v.float().contiguous().numpy().tobytes()).hexdigest()] for k, v in sd.items()]
open(out + "/alexnet-ref.json", "w").write(json.dumps(digest))

# The reader's corners, small.
big = torch.randn(40)
c = collections.OrderedDict()
c["f32"] = torch.randn(3, 5)
c["f16"] = torch.randn(4, 3).half()
c["bf16"] = torch.randn(7).bfloat16()
c["f64"] = torch.randn(2, 3, dtype=torch.float64) * 1e3
c["transposed"] = torch.randn(5, 4).t()
c["offset"] = big[7:19].view(3, 4)
c["strided"] = big[1::3]
c["same_storage"] = big[20:30]
c["int64"] = torch.tensor(12345)
write_safetensors(out + "/corners-ref.safetensors", c, {"order": ",".join(c)})
torch.save(c, out + "/corners-zip.pt")
torch.save(c, out + "/corners-legacy.pt", _use_new_zipfile_serialization=False)
with zipfile.ZipFile(out + "/corners-zip.pt") as zi, zipfile.ZipFile(out + "/corners-deflated.pt", "w", zipfile.ZIP_DEFLATED) as zo:
    for n in zi.namelist():
        zo.writestr(n, zi.read(n))
torch.save({"epoch": 3, "state_dict": collections.OrderedDict(("module." + k, v) for k, v in c.items())}, out + "/wrapped.pt")

# What is refused.
torch.save([torch.zeros(2), torch.ones(2)], out + "/list.pt")
torch.save(torch.nn.Linear(2, 3), out + "/whole-model.pt")
torch.save(torch.nn.Linear(2, 3), out + "/whole-model-legacy.pt", _use_new_zipfile_serialization=False)
torch.save({"a": torch.zeros(2), "steps": 5}, out + "/mixed.pt")
class Shell:
    def __reduce__(self):
        return (os.system, ("touch " + out + "/ran",))
torch.save({"w": torch.zeros(1), "x": Shell()}, out + "/global.pth", _use_new_zipfile_serialization=False)
with open(out + "/plain.pkl", "wb") as f:
    pickle.dump({"a": [1, 2.5, "x"]}, f, protocol=2)
with zipfile.ZipFile(out + "/no-pkl.pt", "w") as z:
    z.writestr("archive/version", "3\\n")
    z.writestr("archive/data/0", b"\\0" * 16)
for name in ("corners-legacy.pt", "corners-zip.pt"):
    raw = open(out + "/" + name, "rb").read()
    open(out + "/cut-" + name, "wb").write(raw[: len(raw) // 2])
    open(out + "/cut-end-" + name, "wb").write(raw[:-10])
print("ok")
`;

// PyTorch's logits for the stored squares our code decoded (uint8 [N][3][256][256]): torchvision's
// CenterCrop(224) (offset int(round(16.0)) = 16), ToTensor (/255) and Normalize(mean, std), in float32.
const PY_LOGITS = `
import sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
try:
    from torchvision.models import alexnet
    net = alexnet(weights=None)
except ImportError:
    from net import Net
    net = Net()
net.load_state_dict(torch.load(sys.argv[2]), strict=True)
net.eval()
n = int(sys.argv[4])
px = torch.from_numpy(np.fromfile(sys.argv[3], dtype=np.uint8).reshape(n, 3, 256, 256).copy())
x = px[:, :, 16:240, 16:240].to(torch.float32).div(255)
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    logits = net((x - mean) / std)
logits.numpy().astype("<f4").tofile(sys.argv[5])
`;

let made: Promise<void> | null = null;

/** Runs PY_MAKE once for the whole file. */
function fixtures(): Promise<void> {
  made ??= (async () => {
    const python = requireTorch();
    await writeRandomAlexnet(dir);
    await Deno.writeTextFile(`${dir}/make.py`, PY_MAKE);
    const r = await run(python, [`${dir}/make.py`, TOOLS_DIR, dir]);
    assertStrictEquals(r.code, 0, r.stderr);
  })();
  return made;
}

/** PyTorch's float32 values of every tensor, in its state_dict's order. */
async function reference(name: string): Promise<[string, NamedTensor][]> {
  const file = decodeSafetensors(await Deno.readFile(`${dir}/${name}`), name);
  return file.metadata.order.split(",").map((k) => [k, file.tensors.get(k)!]);
}

/** Every tensor's name, order, shape and float32 bits equal. */
function assertBitwise(got: Map<string, NamedTensor>, want: [string, NamedTensor][], what: string): void {
  assertEquals([...got.keys()], want.map(([k]) => k), `${what}: names in order`);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    assertEquals(g.shape, w.shape, `${what}: ${name} shape`);
    const a = new Uint32Array(g.data.buffer, g.data.byteOffset, g.data.length);
    const b = new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length);
    assertStrictEquals(a.length, b.length, `${what}: ${name} length`);
    const first = a.findIndex((v, i) => v !== b[i]);
    assert(first < 0, `${what}: ${name}[${first}] is ${g.data[first]}, PyTorch's ${w.data[first]}`);
  }
}

Deno.test({
  name: "a full-size AlexNet saved by torch.save() in the zip and the legacy format reads bit for bit",
  ignore: leftOut("torch"),
  fn: async () => {
    await fixtures();
    const want = JSON.parse(await Deno.readTextFile(`${dir}/alexnet-ref.json`)) as [
      string,
      number[],
      string,
    ][];
    assertStrictEquals(want.length, 16);
    for (const name of ["alexnet-zip.pth", "alexnet-legacy.pth"]) {
      const sd = await readTorchStateDict(await readWholeFile(`${dir}/${name}`), name);
      const got: [string, number[], string][] = [];
      for (const [k, t] of sd.tensors) {
        const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
        got.push([k, t.shape, Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")]);
      }
      assertEquals(got, want, name);
      assertEquals(sd.dtypes, ["float32"]);
      assertEquals(sd.notes, []);
    }
  },
});

Deno.test({
  name: "model import of the legacy .pth with no Python on PATH; its logits equal PyTorch's on photos",
  ignore: leftOut("torch"),
  fn: async () => {
    const python = requireTorch();
    await fixtures();
    const photos = ["gnome_flower2.jpg", "opencv_butterfly.jpg", "opencv_home.jpg"].map((f) =>
      requireShared(`photos/${f}`)
    );
    // PATH holds deno alone: no python3, and ALEXNET_PYTHON names nothing.
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    await Deno.symlink(Deno.execPath(), `${bin}/deno`);
    const target = `${dir}/alexnet.checkpoint.safetensors`;
    const imported = await run(`${bin}/deno`, [
      "task",
      "--quiet",
      "model",
      "import",
      `${dir}/alexnet-legacy.pth`,
      "--from",
      "torchvision",
      "--out",
      target,
    ], { cwd: PROJECT_ROOT, env: { PATH: bin, ALEXNET_PYTHON: `${dir}/no-such-python` } });
    assertStrictEquals(imported.code, 0, imported.text);
    assert(imported.stdout.includes(`wrote ${target}: model torchvision-alexnet`), imported.text);

    const ckpt = await loadCheckpoint(target);
    assertEquals(ckpt.meta.preprocess, {
      resize: 256,
      crop: 224,
      scale: 1 / 255,
      mean: "channel",
      channels: 3,
      std: [0.229, 0.224, 0.225],
    });
    assertEquals(Array.from(ckpt.mean!), Array.from(Float32Array.of(0.485 * 255, 0.456 * 255, 0.406 * 255)));
    assertStrictEquals(ckpt.meta.provenance?.sourceFormat, "torch.save legacy");

    // PyTorch's logits from the same decoded pixels (run while our GPU classifies).
    const squares: Uint8Array[] = [];
    for (const p of photos) squares.push(storedPixels(await decodeImage(p), ckpt.meta.preprocess));
    const stored = new Uint8Array(photos.length * 3 * 256 * 256);
    squares.forEach((px, i) => stored.set(px, i * px.length));
    await Deno.writeFile(`${dir}/pixels.u8`, stored);
    await Deno.writeTextFile(`${dir}/logits.py`, PY_LOGITS);
    const torchRun = run(python, [
      `${dir}/logits.py`,
      dir,
      `${dir}/alexnet-legacy.pth`,
      `${dir}/pixels.u8`,
      String(photos.length),
      `${dir}/torch-logits.f32`,
    ]);
    // The classify command's path from decoded pixels on (its file reading is tested elsewhere).
    const classifier = new Classifier(await testGpu(), ckpt);
    let ours: Float32Array[];
    try {
      ours = (await classifier.runWithLogits(squares, false)).map((r) => r.logits[0]);
    } finally {
      classifier.dispose();
    }
    const torchDone = await torchRun;
    assertStrictEquals(torchDone.code, 0, torchDone.stderr);
    const theirs = new Float32Array((await Deno.readFile(`${dir}/torch-logits.f32`)).buffer);
    const diffs = ours.map((logits, i) => {
      assertStrictEquals(logits.length, 1000);
      return maxRelDiff(logits, theirs.subarray(i * 1000, (i + 1) * 1000));
    });
    console.log(
      `logits vs PyTorch, max relative difference per photo: ${diffs.map((d) => d.toExponential(2))}`,
    );
    for (const [i, d] of diffs.entries()) assert(d < 1e-4, `${photos[i]}: ${d}`);
  },
});

Deno.test({
  name:
    "torch.save() corners: float16, bfloat16, float64, strides, storage offsets, deflated zips, wrapped dicts",
  ignore: leftOut("torch"),
  fn: async () => {
    await fixtures();
    const want = await reference("corners-ref.safetensors");
    for (const name of ["corners-zip.pt", "corners-legacy.pt", "corners-deflated.pt"]) {
      const sd = await readTorchStateDict(await Deno.readFile(`${dir}/${name}`), name);
      assertBitwise(sd.tensors, want, name);
      assertEquals(sd.dtypes, ["bfloat16", "float16", "float32", "float64", "int64"]);
    }
    const wrapped = await readTorchStateDict(await Deno.readFile(`${dir}/wrapped.pt`), "wrapped.pt");
    assertBitwise(wrapped.tensors, want, "wrapped.pt");
    assertEquals(wrapped.notes, [
      'took the state_dict under "state_dict"',
      'removed the "module." prefix of DataParallel',
    ]);
  },
});

Deno.test({
  name: "refused in one line naming the file: truncated files, no data.pkl, no state_dict, unknown globals",
  ignore: leftOut("torch"),
  fn: async () => {
    await fixtures();
    const cases: [string, RegExp][] = [
      ["cut-corners-legacy.pt", /: the pickle is cut short at byte \d+ \(a truncated file\?\)$/],
      [
        "cut-end-corners-legacy.pt",
        /: storage "\d+" needs bytes \d+-\d+, the file ends at byte \d+ \(truncated\?\)$/,
      ],
      [
        "cut-corners-zip.pt",
        /: a damaged torch\.save\(\) zip archive: no end-of-central-directory record .*\(truncated\?\)$/,
      ],
      ["cut-end-corners-zip.pt", /: a damaged torch\.save\(\) zip archive: .*\(truncated\?\)$/],
      [
        "no-pkl.pt",
        /: a zip archive without data\.pkl, not a torch\.save\(\) file \(it holds archive\/version, archive\/data\/0\)$/,
      ],
      [
        "list.pt",
        /: holds a list, not a state_dict \(a dict of tensor names to tensors\); expected a file written by torch\.save\(model\.state_dict\(\), path\)$/,
      ],
      [
        "whole-model.pt",
        /: it refers to the Python object torch\.nn\.modules\.linear\.Linear, which is not part of a state_dict \(a pickled whole model: save its state_dict\(\) instead\); refused without running anything$/,
      ],
      ["whole-model-legacy.pt", /: it refers to the Python object torch\.nn\.modules\.linear\.Linear/],
      [
        "global.pth",
        /: it refers to the Python object (posix|os)\.system, which is not part of a state_dict; refused without running anything$/,
      ],
      ["mixed.pt", /: not a plain state_dict: 1 of its 2 entries are not named tensors \("steps": int\)/],
      [
        "plain.pkl",
        /: a Python pickle of a dict, not a torch\.save\(\) file \(which starts with torch's magic number\)$/,
      ],
    ];
    for (const [name, why] of cases) {
      const path = `${dir}/${name}`;
      const e = await assertRejectsWith(
        importCommand([path, "--from", "torchvision", "--out", `${dir}/refused.safetensors`], () => {}),
        why,
        name,
      );
      assert(e.message.startsWith(`${path}: `), e.message);
      assert(!e.message.includes("\n"), `${name}: more than one line: ${e.message}`);
    }
    // Nothing in global.pth ran.
    await assertRejectsWith(Deno.stat(`${dir}/ran`), Deno.errors.NotFound);
  },
});
