// The ImageNet path end to end, on a folder in ImageNet's layout made here (helpers/imagenet_layout.ts: the
// 1000 WordNet-id class folders of datasets/imagenet-wnids.txt, one tiny JPEG per class in train/ and val/,
// its colour naming its class), since no test machine has ImageNet:
// - the image-folder loader takes the 1000 wnids in torchvision's (sorted) order as its classes (named as
//   torchvision names them), labels every image by its folder and decodes it to 256x256 with its own colours where they belong;
// - without data or a checkpoint, the tables page has the paper's rows and says how to get the measured ones;
// - a random torchvision AlexNet saved by PyTorch and imported with `deno task model import --from torchvision`
//   gives PyTorch's errors and losses on the same decoded pixels (resize 256, centre crop 224, per-channel mean
//   and std) in `deno task evaluate`, and PyTorch's logits image by image in the evaluation behind it;
// - `deno task reproduce tables --preset smoke --set data.path=<it> --set pretrained.checkpoint=<that>` gains
//   the reproduced rows, with the trained net's class k wnid k, and the torchvision rows,
//   which are PyTorch's 1- and 10-patch numbers. The trained net is alexnet-mini on 55 px crops of the 256 px
//   images (1000 classes, the paper's recipe otherwise): the paper's AlexNet takes 5.5 minutes here, mostly
//   its 10-view evaluation.
// The last test needs PyTorch (Debian's python3-torch); ALEXNET_TEST_WITHOUT=torch leaves it out.

import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { dirname, join } from "@std/path";
import { type ImageFolderDataset, loadImageFolder } from "../src/data/image_folder.ts";
import { balancedSubset, expandMean } from "../src/train/data.ts";
import { evaluateSet } from "../src/train/evaluate.ts";
import { type Checkpoint, loadCheckpoint, preprocessStd } from "../src/io/checkpoint.ts";
import type { ImageSet } from "../src/data/types.ts";
import { Network } from "../src/nn/network.ts";
import { PROJECT_ROOT } from "../src/data/util.ts";
import { classColour, imagenetWnids, writeImageNetLayout } from "./helpers/imagenet_layout.ts";
import { maxRelDiff, testGpu } from "./helpers/gpu.ts";
import { leftOut, requireTorch } from "./helpers/needs.ts";
import { writeRandomAlexnet } from "./helpers/torch_alexnet.ts";
import { run, runDeno } from "./helpers/run.ts";

const dir = await Deno.makeTempDir({ prefix: "imagenet-layout-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const root = join(dir, "imagenet");
const cacheDir = join(dir, "cache");
const results = join(dir, "results");
/** Validation images the torchvision checkpoint is evaluated on (the first of classes 0..N-1). */
const EVALUATED = 5;
/** The subprocesses decode into (and then read) this test's own cache, never the project's. */
const env = { ALEXNET_CACHE_DIR: cacheDir, XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" };
const wnids = await imagenetWnids();

let loaded: Promise<ImageFolderDataset> | null = null;
/** The folder, written and decoded once for the file (decoding 2000 images takes seconds). */
function dataset(): Promise<ImageFolderDataset> {
  loaded ??= (async () => {
    await writeImageNetLayout(root);
    return await loadImageFolder(root, { cacheDir, log: () => {} });
  })();
  return loaded;
}

/** Awaits `work`, logging how long it took (the suite's time budget is tight on 2 cores). */
async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    console.log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

/** `deno task reproduce tables` into this test's results; the pipeline's records folder. */
async function reproduceTables(sets: string[], preset = "smoke"): Promise<string> {
  const t0 = performance.now();
  const out = await runDeno([
    "task",
    "--quiet",
    "reproduce",
    "tables",
    "--preset",
    preset,
    ...sets.flatMap((set) => ["--set", set]),
    "--results",
    results,
    "--pipelines",
    join(PROJECT_ROOT, "pipelines"),
  ], { cwd: PROJECT_ROOT, env });
  assertStrictEquals(out.code, 0, out.text);
  console.log(
    `reproduce tables --preset ${[preset, ...sets].join(" ")}: ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  // --set runs get a folder of their own (src/pipeline/variants.ts): take the one the report names.
  const page = out.text.match(/\[tables\] report: wrote (\S+index\.html)/)?.[1];
  assert(page, `no report page named:\n${out.text}`);
  return dirname(dirname(page));
}

/** The numbers of a table row on the page, by its first cell. */
function pageRow(html: string, label: string): number[] {
  const row = html.match(new RegExp(`<tr>\\s*<td>${label}</td>(.*?)</tr>`, "s"));
  assert(row, `no row "${label}" on the page`);
  return [...row[1].matchAll(/data-value="([^"]+)"/g)].map((m) => Number(m[1]));
}

Deno.test("the image-folder loader reads ImageNet's layout: wnids in torchvision's order, labels by folder", async () => {
  const ds = await dataset();
  // torchvision's class order is the sorted wnids; the file lists them in that order, models/imagenet-classes.json
  // names them in that order.
  assertEquals(wnids.length, 1000);
  assertEquals([...wnids].sort(), wnids);
  const names = (await readJson(join(PROJECT_ROOT, "models/imagenet-classes.json"))).classes;
  assertStrictEquals(names.length, 1000);
  // The folders are the wnids in order; the classes are their readable names (models/imagenet-classes.json).
  assertEquals(ds.train.classIds, wnids);
  assertEquals(ds.train.classes, names);
  assertEquals(ds.test.classes, names);
  assertEquals([ds.train.count, ds.test.count], [1000, 1000]);
  // Training photos are 40x30 and validation photos 30x40: short side to 256 (341 long), the central 256, so
  // the centre of the lower right quarter lands at (214, 192) and (192, 214).
  const splits = [[ds.train, ds.trainFiles, [214, 192]], [ds.test, ds.testFiles, [192, 214]]] as const;
  for (const [set, files, [qx, qy]] of splits) {
    assertEquals([set.channels, set.height, set.width], [3, 256, 256]);
    const plane = 256 * 256;
    files.forEach((file, i) => {
      const label = set.labels[i];
      assertStrictEquals(wnids[label], file.split("/")[1], file);
      // The class colour in three corners and its complement in the quarter, channel by channel (JPEG and the
      // resize move them by a few levels; classes are 25 levels apart).
      const colour = classColour(label);
      const points = [[8, 8, colour], [247, 8, colour], [8, 247, colour], [
        qx,
        qy,
        colour.map((v) => 255 - v),
      ]];
      for (const [x, y, want] of points as [number, number, number[]][]) {
        const rgb = [0, 1, 2].map((c) => set.pixels[i * 3 * plane + c * plane + y * 256 + x]);
        assert(
          rgb.every((v, c) => Math.abs(v - want[c]) <= 6),
          `${file} at (${x}, ${y}): ${rgb}, want ${want}`,
        );
      }
    });
  }
});

Deno.test("without data or a checkpoint, tables shows the paper's rows and says how to get the measured ones", async () => {
  const tables = await reproduceTables([], "cpu");
  const table = await readJson(join(tables, "table/outputs.json"));
  assertStrictEquals(table.available, false);
  assertStrictEquals(table.pretrained.available, false);
  assertMatch(
    table.pretrained_note,
    /no checkpoint given.*model fetch torchvision-alexnet.*pretrained\.checkpoint=/s,
  );
  const html = await Deno.readTextFile(join(tables, "report/index.html"));
  assertEquals(pageRow(html, "1 CNN"), [40.7, 18.2]);
  assertEquals(pageRow(html, "torchvision AlexNet \\(pretrained\\), published figure"), [43.48, 20.93]);
  for (
    const row of ["This reproduction, 1 CNN", "torchvision AlexNet \\(pretrained\\), this code, 10 patches"]
  ) {
    assertEquals(pageRow(html, row), [], `${row}: no numbers without data`);
  }
});

// A random torchvision AlexNet (torchvision's module when installed, else ours for models/torchvision-alexnet.json,
// which has its names and shapes) with its last layer's weights scaled up, so that the logits spread over
// several units and errors and losses depend on which label each image has; then PyTorch's own evaluation of the
// stored squares: centre crop 224 (offset int(round(16.0)) = 16), ToTensor, Normalize, and torchvision's
// TenCrop, with the labels read from the folder names and datasets/imagenet-wnids.txt (not from our loader).
const PY_TORCHVISION = `
import json, sys
import numpy as np
import torch
out, wnids_file, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, out)
from random_alexnet import random_alexnet
net = random_alexnet(0)
with torch.no_grad():
    net.classifier[6].weight.mul_(200)
torch.save(net.state_dict(), out + "/alexnet.pth")
net.eval()

wnids = [w for w in open(wnids_file).read().split() if w]
files = json.load(open(out + "/files.json"))
labels = torch.tensor([wnids.index(f.split("/")[1]) for f in files])
px = torch.from_numpy(np.fromfile(out + "/pixels.u8", dtype=np.uint8).reshape(n, 3, 256, 256).copy())
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
def logits(x):
    with torch.no_grad():
        return net((x.to(torch.float32).div(255) - mean) / std)
def scores(probs):
    p = probs[torch.arange(n), labels]
    higher = (probs > p[:, None]).sum(1)
    return {"top1": float((higher >= 1).double().mean()), "top5": float((higher >= 5).double().mean()),
            "loss": float(-p.clamp_min(1e-30).log().mean())}
centre = logits(px[:, :, 16:240, 16:240])
centre.numpy().astype("<f4").tofile(out + "/torch-logits.f32")
views = [px[:, :, y:y + 224, x:x + 224] for x, y in [(0, 0), (32, 0), (0, 32), (32, 32), (16, 16)]]
views += [v.flip(3) for v in views]
ten = sum(torch.softmax(logits(v).double(), 1) for v in views) / 10
json.dump({"labels": labels.tolist(), "centre": scores(torch.softmax(centre.double(), 1)), "ten": scores(ten)},
          open(out + "/torch.json", "w"))
`;

const close = (got: number, want: number, what: string) =>
  assert(Math.abs(got - want) <= 1e-4 * Math.abs(want), `${what}: ${got}, PyTorch ${want}`);

Deno.test({
  name: "ImageNet layout: a torchvision checkpoint evaluates as in PyTorch; reproduce tables gains every row",
  ignore: leftOut("torch"),
  async fn() {
    const python = requireTorch();
    const ds = await dataset();
    // The first validation image of classes 0..N-1: what --limit-test N and limit: N evaluate.
    const images = balancedSubset(ds.test, EVALUATED);
    const files = [...images.labels].map((label) =>
      ds.testFiles.find((f) => f.split("/")[1] === wnids[label])!
    );
    await Deno.writeFile(join(dir, "pixels.u8"), images.pixels);
    await Deno.writeTextFile(join(dir, "files.json"), JSON.stringify(files));
    await writeRandomAlexnet(dir);
    await Deno.writeTextFile(join(dir, "torchvision.py"), PY_TORCHVISION);
    const wnidFile = join(PROJECT_ROOT, "datasets/imagenet-wnids.txt");
    const torchRun = await timed(
      "PyTorch: random weights, torch.save, logits",
      () => run(python, [join(dir, "torchvision.py"), dir, wnidFile, String(EVALUATED)]),
    );
    assertStrictEquals(torchRun.code, 0, torchRun.text);
    const torch = await readJson(join(dir, "torch.json"));
    assertEquals(torch.labels, [...images.labels], "our labels are the wnid file's indices of the folders");

    const target = join(dir, "alexnet.checkpoint.safetensors");
    const imported = await timed("model import", () =>
      runDeno(
        [
          "task",
          "--quiet",
          "model",
          "import",
          join(dir, "alexnet.pth"),
          "--from",
          "torchvision",
          "--out",
          target,
        ],
        { cwd: PROJECT_ROOT, env },
      ));
    assertStrictEquals(imported.code, 0, imported.text);
    const ckpt = await loadCheckpoint(target);
    assertEquals(ckpt.meta.preprocess.std, [0.229, 0.224, 0.225]);

    // Three independent runs on 2 cores: much of each is single-threaded loading.
    const [evaluated, ours, tables] = await Promise.all([
      timed("deno task evaluate", () =>
        runDeno([
          "task",
          "--quiet",
          "evaluate",
          "--checkpoint",
          target,
          "--data",
          "image-folder",
          "--data-path",
          root,
          "--size",
          "256",
          "--limit-test",
          String(EVALUATED),
          "--json",
        ], { cwd: PROJECT_ROOT, env })),
      timed("evaluateSet in this process", () => logProbabilities(ckpt, target, images)),
      reproduceTables([
        `data.path=${root}`,
        "train.model=alexnet-mini",
        "train.crop=55",
        `pretrained.checkpoint=${target}`,
        `pretrained.limit=${EVALUATED}`,
      ]),
    ]);

    // deno task evaluate: its errors and loss are PyTorch's.
    assertStrictEquals(evaluated.code, 0, evaluated.text);
    const cli = JSON.parse(evaluated.stdout);
    assertStrictEquals(cli.images, EVALUATED);
    assertEquals([cli.top1Error, cli.top5Error], [torch.centre.top1, torch.centre.top5]);
    close(cli.loss, torch.centre.loss, "evaluate --json loss");

    // The evaluation behind it (and behind the pipeline's evaluate stages), image by image: the logits are
    // PyTorch's (up to the softmax's shift: compared centred) and so is the predicted class.
    const theirs = new Float32Array((await Deno.readFile(join(dir, "torch-logits.f32"))).buffer);
    const diffs = ours.map((logProbs, i) => {
      const want = theirs.subarray(i * 1000, (i + 1) * 1000);
      assertStrictEquals(argmax(logProbs), argmax(want), `${files[i]}: predicted class`);
      return maxRelDiff(centred(logProbs), centred(want));
    });
    console.log(`logits vs PyTorch, largest relative difference: ${Math.max(...diffs).toExponential(2)}`);
    for (const [i, d] of diffs.entries()) assert(d < 1e-4, `${files[i]}: ${d}`);

    // The pipeline's data and the trained net: class k is wnid k, named as torchvision names it.
    const names = (await readJson(join(PROJECT_ROOT, "models/imagenet-classes.json"))).classes;
    const data = await readJson(join(tables, "data/outputs.json"));
    assertStrictEquals(data.available, true);
    assertEquals(data.classes, names);
    assertEquals(data.image, [3, 256, 256]);
    const train = await readJson(join(tables, "train/outputs.json"));
    assertEquals(train.classes, names);
    assertEquals(train.input, [3, 55, 55]);
    const trained = await loadCheckpoint(join(tables, "train", train.checkpoint));
    assertEquals(trained.meta.classes, names);
    assertStrictEquals(trained.meta.model.classes, 1000);

    // The reproduced rows, in the table stage's outputs and on the page.
    const evaluate = await readJson(join(tables, "evaluate/outputs.json"));
    const table = await readJson(join(tables, "table/outputs.json"));
    assertStrictEquals(table.available, true);
    assertEquals(table.reproduced, {
      top1: 100 * evaluate.ten_top1_error,
      top5: 100 * evaluate.ten_top5_error,
      single_top1: 100 * evaluate.single_top1_error,
      single_top5: 100 * evaluate.single_top5_error,
    });
    const html = await Deno.readTextFile(join(tables, "report/index.html"));
    const pair = (
      top1: number,
      top5: number,
    ) => [Number((100 * top1).toFixed(2)), Number((100 * top5).toFixed(2))];
    const ten = pair(evaluate.ten_top1_error, evaluate.ten_top5_error);
    assertEquals(pageRow(html, "This reproduction, 10 patches"), ten);
    assertEquals(pageRow(html, "This reproduction, 1 CNN"), ten);
    assertEquals(
      pageRow(html, "This reproduction, single patch"),
      pair(evaluate.single_top1_error, evaluate.single_top5_error),
    );

    // The pretrained stage on the same images as deno task evaluate: PyTorch's numbers, 1 and 10 patches.
    const pretrained = await readJson(join(tables, "pretrained/outputs.json"));
    assertStrictEquals(pretrained.images, EVALUATED);
    assertEquals([pretrained.single_top1_error, pretrained.single_top5_error], [
      cli.top1Error,
      cli.top5Error,
    ]);
    close(pretrained.single_loss, torch.centre.loss, "pipeline centre-crop loss");
    assertEquals([pretrained.ten_top1_error, pretrained.ten_top5_error], [torch.ten.top1, torch.ten.top5]);
    close(pretrained.ten_loss, torch.ten.loss, "pipeline 10-view loss");
    assertStrictEquals(table.pretrained.available, true);
    assertEquals(
      pageRow(html, "torchvision AlexNet \\(pretrained\\), this code, 1 patch"),
      pair(torch.centre.top1, torch.centre.top5),
    );
    assertEquals(
      pageRow(html, "torchvision AlexNet \\(pretrained\\), this code, 10 patches"),
      pair(torch.ten.top1, torch.ten.top5),
    );
    assertMatch(table.pretrained_note, /torchvision-alexnet from /);
  },
});

/** The log-probabilities evaluateSet (deno task evaluate's and the pipeline's evaluation) gives each image. */
async function logProbabilities(ckpt: Checkpoint, path: string, images: ImageSet): Promise<Float64Array[]> {
  const rows: Float64Array[] = [];
  const net = new Network(await testGpu(), ckpt.meta.model, ckpt.meta.seed);
  try {
    net.loadWeights(ckpt.weights);
    const pre = ckpt.meta.preprocess;
    await evaluateSet(net, images, {
      crop: pre.crop,
      scale: pre.scale,
      std: preprocessStd(pre, path),
      meanImage: expandMean(ckpt.mean, pre.mean, images),
      tenCrop: false,
      observe: (probs) => rows.push(Float64Array.from(probs, Math.log)),
    });
  } finally {
    net.destroy();
  }
  return rows;
}

const centred = (v: ArrayLike<number>) => {
  const mean = Array.from(v).reduce((a, b) => a + b, 0) / v.length;
  return Array.from(v, (x) => x - mean);
};

const argmax = (v: ArrayLike<number>) => Array.from(v).reduce((best, x, i, a) => (x > a[best] ? i : best), 0);
