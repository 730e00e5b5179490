// `deno task model fetch torchvision-alexnet` against a real HTTP mirror on 127.0.0.1 (ALEXNET_DATA_MIRROR), with
// a test registry (ALEXNET_MODELS) whose expected sha-256 prefix is that of a full-size AlexNet state_dict PyTorch
// saved here with random weights (torchvision's names and shapes; torchvision itself is not installed), in the
// zip and the legacy torch.save() format. The fetch and conversion run with no Python on PATH; the converted
// model, used by name, gives PyTorch's logits on a real photo; the GUI lists it with 1000 classes and
// torchvision's numbers; a cut connection resumes. With the project's registry: a file with another digest is
// refused leaving nothing; an unreachable mirror is one line naming the address; a known name not fetched is one
// line naming the command. ALEXNET_TEST_WITHOUT=torch leaves out the tests that need PyTorch's files (data: the
// photo's logits).

import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { loadCheckpoint } from "../src/io/checkpoint.ts";
import { storedPixels } from "../src/classify/preprocess.ts";
import { decodeImage } from "../src/data/image_decode.ts";
import { PROJECT_ROOT, sha256File } from "../src/data/util.ts";
import { TORCHVISION_PREPROCESS } from "../src/io/torchvision.ts";
import { startGuiServer } from "../src/gui/server.ts";
import { whatTheModelKnows } from "../src/gui/model_card.ts";
import { digestProblem } from "../src/io/model_fetch.ts";
import {
  loadModelRegistry,
  MODEL_REGISTRY_FILE,
  requireFetchable,
  sizeNote,
} from "../src/io/model_registry.ts";
import { closedPort, type Mirror, serveMirror } from "./helpers/http_mirror.ts";
import { maxRelDiff } from "./helpers/gpu.ts";
import { leftOut, requireShared, requireTorch } from "./helpers/needs.ts";
import { writeRandomAlexnet } from "./helpers/torch_alexnet.ts";
import { run, type RunResult } from "./helpers/run.ts";

const dir = await Deno.makeTempDir({ prefix: "model-fetch-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** A folder whose only program is deno: no python3 to find on a PATH that is this folder alone. */
const BIN = `${dir}/bin`;
await Deno.mkdir(BIN);
await Deno.symlink(Deno.execPath(), `${BIN}/deno`);

const PHOTOS = ["darknet_dog.jpg"];
const NAME = "torchvision-alexnet";
const withData = !leftOut("data");

// torchvision.models.alexnet(weights=None) when torchvision is installed; otherwise the module our code writes
// for models/torchvision-alexnet.json (same names and shapes). Saved in both torch.save() formats, and PyTorch's
// logits for the decoded photos: torchvision's CenterCrop(224) of the stored 256x256 squares
// (offset 16), ToTensor and Normalize, in float32.
const PY_MAKE = `
import sys
import numpy as np
import torch
out, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, out)
from random_alexnet import random_alexnet
net = random_alexnet(0)
sd = net.state_dict()
torch.save(sd, out + "/alexnet-zip.pth")
torch.save(sd, out + "/alexnet-legacy.pth", _use_new_zipfile_serialization=False)
if n:
    net.eval()
    px = torch.from_numpy(np.fromfile(out + "/pixels.u8", dtype=np.uint8).reshape(n, 3, 256, 256).copy())
    x = px[:, :, 16:240, 16:240].to(torch.float32).div(255)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        net((x - mean) / std).numpy().astype("<f4").tofile(out + "/torch-logits.f32")
`;

interface Fixture {
  sha256: { zip: string; legacy: string };
  photos: string[];
  /** PyTorch's logits, 1000 per photo (empty when the photos are left out). */
  torchLogits: Float32Array;
}

let made: Promise<Fixture> | null = null;

/** Runs PY_MAKE once for the whole file. */
function fixture(): Promise<Fixture> {
  made ??= (async () => {
    const python = requireTorch();
    const photos = withData ? PHOTOS.map((f) => requireShared(`photos/${f}`)) : [];
    const squares: Uint8Array[] = [];
    for (const p of photos) {
      squares.push(storedPixels(await decodeImage(p), TORCHVISION_PREPROCESS.preprocess));
    }
    const stored = new Uint8Array(squares.reduce((a, s) => a + s.length, 0));
    squares.forEach((px, i) => stored.set(px, i * px.length));
    await Deno.writeFile(`${dir}/pixels.u8`, stored);
    await writeRandomAlexnet(dir);
    await Deno.writeTextFile(`${dir}/make.py`, PY_MAKE);
    const r = await run(python, [`${dir}/make.py`, dir, String(photos.length)]);
    assertStrictEquals(r.code, 0, r.stderr);
    const sha256 = {
      zip: await sha256File(`${dir}/alexnet-zip.pth`),
      legacy: await sha256File(`${dir}/alexnet-legacy.pth`),
    };
    const torchLogits = photos.length
      ? new Float32Array((await Deno.readFile(`${dir}/torch-logits.f32`)).buffer)
      : new Float32Array(0);
    return { sha256, photos, torchLogits };
  })();
  return made;
}

const prefix = (sha256: string) => sha256.slice(0, 8);
const pthName = (sha256: string) => `alexnet-owt-${prefix(sha256)}.pth`;

/** A registry like models/registry.yaml's entry, expecting `sha256`'s prefix (paths absolute: it lives in dir). */
async function testRegistry(sha256: string): Promise<string> {
  const path = `${dir}/registry-${prefix(sha256)}.yaml`;
  await Deno.writeTextFile(
    path,
    `${NAME}:
  title: a random AlexNet with torchvision's names (test)
  url: https://download.pytorch.org/models/${pthName(sha256)}
  sha256: ${prefix(sha256)}
  format: torchvision
  architecture: ${PROJECT_ROOT}/models/torchvision-alexnet.json
  classes: ${PROJECT_ROOT}/models/imagenet-classes.json
  licence: test
  homepage: https://example.org/
`,
  );
  return path;
}

/** A mirror folder serving `file` under `name`. */
async function mirrorOf(file: string, name: string, opts: { cutOnce?: boolean } = {}): Promise<Mirror> {
  const folder = await Deno.makeTempDir({ dir, prefix: "mirror-" });
  await Deno.symlink(`${dir}/${file}`, `${folder}/${name}`);
  return serveMirror(folder, opts.cutOnce ? { cutOnce: name } : {});
}

/** `deno task ARGS` in the project with deno alone on PATH and ALEXNET_PYTHON naming nothing. */
async function task(args: string[], env: Record<string, string>): Promise<RunResult> {
  return await run(`${BIN}/deno`, ["task", "--quiet", ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: BIN, ALEXNET_PYTHON: "/nonexistent", ...env },
  });
}

/** Every file below `path`, relative to it. */
async function filesUnder(path: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(path, "").catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return out.sort();
}

/** Starts `deno task gui --model MODEL --port 0` and hands back the model its page selects first. */
async function guiDefaultModel(model: string, cache: string, registry: string): Promise<string | null> {
  const child = new Deno.Command(`${BIN}/deno`, {
    args: ["task", "--quiet", "gui", "--model", model, "--port", "0"],
    cwd: PROJECT_ROOT,
    env: { PATH: BIN, ALEXNET_PYTHON: "/nonexistent", ALEXNET_CACHE_DIR: cache, ALEXNET_MODELS: registry },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const url = text.match(/GUI: (http:\S+)\n/)?.[1];
      if (url) return (await (await fetch(new URL("/api/models", url))).json()).default;
    }
    throw new Error(`the GUI ended without serving: ${text}`);
  } finally {
    child.kill();
    await child.status;
  }
}

const errorLines = (r: RunResult) => r.stderr.split("\n").filter((l) => l.startsWith("error:"));

/** The caches the fetches of the two formats filled, for the tests after them. */
const legacyCache = `${dir}/cache-legacy`;
const zipCache = `${dir}/cache-zip`;
const CHECKPOINT = "models/torchvision-alexnet.safetensors";

Deno.test({
  name: "fetch of both torch.save() formats without Python, one over a cut connection: the same checkpoint",
  ignore: leftOut("torch"),
  fn: async () => {
    const f = await fixture();
    const which = await run("/bin/sh", ["-c", "command -v python3 || echo none"], { env: { PATH: BIN } });
    assertStrictEquals(which.stdout.trim(), "none", "python3 must not be on the test's PATH");
    const legacyName = pthName(f.sha256.legacy);
    const legacyMirror = await mirrorOf("alexnet-legacy.pth", legacyName, { cutOnce: true });
    const zipMirror = await mirrorOf("alexnet-zip.pth", pthName(f.sha256.zip));
    const legacyEnv = {
      ALEXNET_CACHE_DIR: legacyCache,
      ALEXNET_DATA_MIRROR: legacyMirror.url,
      ALEXNET_MODELS: await testRegistry(f.sha256.legacy),
    };
    try {
      const [legacy, zip] = await Promise.all([
        task(["model", "fetch", NAME], legacyEnv),
        task(["model", "fetch", NAME], {
          ALEXNET_CACHE_DIR: zipCache,
          ALEXNET_DATA_MIRROR: zipMirror.url,
          ALEXNET_MODELS: await testRegistry(f.sha256.zip),
        }),
      ]);
      assertStrictEquals(legacy.code, 0, legacy.text);
      assertStrictEquals(zip.code, 0, zip.text);
      // The first answer was cut halfway; the fetch asked for the rest and got it.
      assertEquals(legacyMirror.requests.map((r) => [r.path, r.status]), [[legacyName, 200], [
        legacyName,
        206,
      ]]);
      assertMatch(legacyMirror.requests[1].range!, /^bytes=\d+-$/);
      assertMatch(legacy.stderr, /connection lost at .*; resuming \(retry 1 of 5\)/);
      assertMatch(legacy.stderr, new RegExp(`sha-256 ${f.sha256.legacy} verified`));
      assertMatch(
        legacy.stdout,
        /wrote .*models\/torchvision-alexnet\.safetensors: model torchvision-alexnet/,
      );
      // The checkpoint and nothing else: no partial file, no .pth.
      assertEquals(await filesUnder(legacyCache), [CHECKPOINT]);
      assertEquals(await filesUnder(zipCache), [CHECKPOINT]);

      const fromLegacy = await loadCheckpoint(`${legacyCache}/${CHECKPOINT}`);
      assertStrictEquals(fromLegacy.meta.classes.length, 1000);
      assertStrictEquals(fromLegacy.meta.classes[0], "tench");
      assertEquals(fromLegacy.meta.preprocess.std, [0.229, 0.224, 0.225]);
      assertEquals(fromLegacy.meta.provenance?.source, `${legacyMirror.url}/${legacyName}`);
      assertEquals(fromLegacy.meta.provenance?.sha256, f.sha256.legacy);
      assertEquals(fromLegacy.meta.provenance?.sourceFormat, "torch.save legacy");
      const fromZip = await loadCheckpoint(`${zipCache}/${CHECKPOINT}`);
      assertStrictEquals(fromZip.meta.provenance?.sourceFormat, "torch.save zip");
      assertEquals([...fromZip.weights.keys()], [...fromLegacy.weights.keys()]);
      for (const [k, w] of fromZip.weights) {
        const other = fromLegacy.weights.get(k)!;
        assert(w.every((v, i) => v === other[i]), `${k} differs between the two formats`);
      }

      // Here now: the list says so, and a second fetch asks nothing.
      const [list, again] = await Promise.all([
        task(["model", "list"], legacyEnv),
        task(["model", "fetch", NAME], legacyEnv),
      ]);
      assertMatch(
        list.stdout,
        /torchvision-alexnet +here: .*cache-legacy\/models\/torchvision-alexnet\.safetensors/,
      );
      assertStrictEquals(again.code, 0, again.text);
      assertMatch(again.stdout, /here already/);
      assertStrictEquals(legacyMirror.requests.length, 2);
    } finally {
      await legacyMirror.close();
      await zipMirror.close();
    }
  },
});

Deno.test({
  name: "classify --model torchvision-alexnet gives PyTorch's logits; the GUI lists it with 1000 classes",
  ignore: leftOut("torch"),
  fn: async () => {
    const f = await fixture();
    // The GUI's bundle builds while the photo is classified.
    const root = await Deno.makeTempDir({ dir, prefix: "root-" });
    const starting = startGuiServer({ port: 0, root, cacheDir: zipCache, log: () => {} });
    const classifying = withData
      ? task(["classify", "--model", NAME, "--json", "--logits", ...f.photos], {
        ALEXNET_CACHE_DIR: legacyCache,
        ALEXNET_MODELS: await testRegistry(f.sha256.legacy),
      })
      : null;
    const server = await starting;
    try {
      // The GUI's model list: fetched models by name, with the project registry's card.
      const list = await (await fetch(new URL("/api/models", server.url))).json();
      const entry = list.models.find((m: { id: string }) => m.id === NAME);
      assert(entry, JSON.stringify(list.models.map((m: { id: string }) => m.id)));
      assertStrictEquals(entry.meta.classes.length, 1000);
      assertStrictEquals(entry.meta.model.name, NAME);
      assertMatch(entry.label, /^torchvision-alexnet \(233\.\d MiB\)$/);
      assertStrictEquals(entry.card.reported_by, "torchvision");
      const knows = whatTheModelKnows(entry.meta, entry.card);
      assertMatch(knows, /This model knows 1000 classes: tench, goldfish/);
      assertMatch(
        knows,
        /Torchvision reports that it names the right class for 56\.522% of the ImageNet-1K validation images and has it among its top 5 for 79\.066%: torchvision's number, not measured here\./,
      );
      const served = await fetch(new URL(`/api/checkpoint?id=${NAME}`, server.url));
      assertStrictEquals(served.status, 200);
      await served.body?.cancel();
    } finally {
      await server.close();
    }
    // `deno task gui --model NAME`: the fetched model by its name, selected first.
    assertStrictEquals(await guiDefaultModel(NAME, zipCache, await testRegistry(f.sha256.zip)), NAME);

    if (!classifying) return;
    const classified = await classifying;
    assertStrictEquals(classified.code, 0, classified.text);
    const lines = classified.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertStrictEquals(lines.length, f.photos.length, classified.text);
    const diffs = lines.map((l, i) => {
      assertStrictEquals(l.logits.length, 1000);
      return maxRelDiff(l.logits, f.torchLogits.subarray(i * 1000, (i + 1) * 1000));
    });
    console.log(`logits vs PyTorch, max relative difference: ${diffs.map((d) => d.toExponential(2))}`);
    for (const [i, d] of diffs.entries()) assert(d < 1e-4, `${f.photos[i]}: ${d}`);
  },
});

Deno.test({
  name: "a file whose sha-256 does not start with the expected prefix is refused and nothing is kept",
  fn: async () => {
    // The project's registry, and a mirror holding a MiB of something else under torchvision's file name.
    const name = "alexnet-owt-7be5be79.pth";
    const folder = await Deno.makeTempDir({ dir, prefix: "mirror-" });
    const wrong = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
    await Deno.writeFile(`${folder}/${name}`, wrong);
    const sha256 = await sha256File(`${folder}/${name}`);
    const mirror = serveMirror(folder);
    const cache = `${dir}/cache-refused`;
    try {
      const r = await task(["model", "fetch", NAME], {
        ALEXNET_CACHE_DIR: cache,
        ALEXNET_DATA_MIRROR: mirror.url,
      });
      assertStrictEquals(r.code, 1, r.text);
      assertEquals(errorLines(r), [
        `error: ${NAME}: ${mirror.url}/${name}: expected a sha-256 starting with 7be5be79, got ${sha256}; ` +
        "refused, nothing kept",
      ]);
      assertStrictEquals(r.stdout, "");
      assertEquals(mirror.requests.map((q) => q.status), [200]);
    } finally {
      await mirror.close();
    }
    assertEquals(await filesUnder(cache), []);
  },
});

Deno.test({
  name:
    "unreachable mirror: one line naming the address; a known name not fetched: one line naming the command",
  fn: async () => {
    // The project's own registry: its file name under the mirror, its size in the lines.
    const cache = `${dir}/cache-offline`;
    const base = `http://127.0.0.1:${closedPort()}`;
    const [offline, classify, evaluate, gui, help] = await Promise.all([
      task(["model", "fetch", NAME], { ALEXNET_CACHE_DIR: cache, ALEXNET_DATA_MIRROR: base }),
      task(["classify", "--model", NAME, `${PROJECT_ROOT}/tests/fixtures/data/none.jpg`], {
        ALEXNET_CACHE_DIR: cache,
      }),
      task(["evaluate", "--checkpoint", NAME], { ALEXNET_CACHE_DIR: cache }),
      task(["gui", "--model", NAME, "--port", "0"], { ALEXNET_CACHE_DIR: cache }),
      task(["model", "fetch", "--help"], { ALEXNET_CACHE_DIR: cache }),
    ]);
    assertStrictEquals(offline.code, 1, offline.text);
    const url = `${base}/alexnet-owt-7be5be79.pth`;
    const errors = errorLines(offline);
    assertStrictEquals(errors.length, 1, offline.text);
    assert(errors[0].startsWith(`error: ${NAME}: cannot reach ${url}: `), errors[0]);
    assertEquals(await filesUnder(cache), []);

    const command = "`deno task model fetch torchvision-alexnet` (244.4 MB)";
    assertStrictEquals(classify.code, 1, classify.text);
    assertEquals(classify.stderr.trim().split("\n"), [
      `classify: cannot use the model: ${NAME} is not on this machine: fetch it with ${command}`,
    ]);
    assertStrictEquals(evaluate.code, 1, evaluate.text);
    assertEquals(evaluate.stderr.trim().split("\n"), [
      `error: ${NAME} is not on this machine: fetch it with ${command}`,
    ]);
    assertStrictEquals(gui.code, 1, gui.text);
    assertEquals(gui.stderr.trim().split("\n"), [
      `gui: cannot use the model: ${NAME} is not on this machine: fetch it with ${command}`,
    ]);
    assertStrictEquals(help.code, 0, help.text);
    assertMatch(help.stdout, /^Usage: deno task model fetch NAME\.\.\. \[--force\]/);
    assertMatch(
      help.stdout,
      /\ntorchvision-alexnet +absent \(deno task model fetch torchvision-alexnet\) +244\.4 MB +torchvision's AlexNet/,
    );
  },
});

Deno.test("the model registry: the project's entry, and every mistake named by file and field", async () => {
  const registry = await loadModelRegistry(MODEL_REGISTRY_FILE);
  const entry = requireFetchable(registry, NAME);
  assertEquals(
    [entry.url, entry.file, entry.sha256, entry.sizeMib, entry.bytes],
    [
      "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
      "alexnet-owt-7be5be79.pth",
      "7be5be79",
      233.087,
      undefined,
    ],
  );
  assertStrictEquals(sizeNote(entry), " (244.4 MB)");
  assertEquals(entry.card, {
    about: entry.card.about,
    evaluatedOn: "the ImageNet-1K validation images",
    top1Accuracy: 56.522,
    top5Accuracy: 79.066,
    reportedBy: "torchvision",
  });
  assertStrictEquals(await Deno.stat(entry.architecture).then((s) => s.isFile), true);
  assertStrictEquals(await Deno.stat(entry.classes).then((s) => s.isFile), true);

  // A prefix is what torchvision checks; a full digest must be equal; an exact size is checked first.
  const full = "7be5be79".padEnd(64, "0");
  assertStrictEquals(digestProblem(entry, full, 1), null);
  assertMatch(
    digestProblem(entry, "0".repeat(64), 1)!,
    /^expected a sha-256 starting with 7be5be79, got 0{64}$/,
  );
  assertMatch(
    digestProblem({ ...entry, sha256: full }, "7be5be79".padEnd(64, "1"), 1)!,
    /^expected sha-256 7be5be790+, got/,
  );
  assertMatch(digestProblem({ ...entry, bytes: 10 }, full, 9)!, /^9 bytes, expected 10/);

  const bad = `${dir}/bad-registry.yaml`;
  const cases: [string, RegExp][] = [
    [`${NAME}:\n  title: x\n  colour: red\n`, /bad-registry\.yaml: torchvision-alexnet\.colour: unknown key/],
    [
      `${NAME}:\n  title: x\n  url: ftp://x/y.pth\n`,
      /torchvision-alexnet\.url: expected an http\(s\) address/,
    ],
    [`Bad_Name:\n  title: x\n`, /"Bad_Name": a model name is lower-case letters, digits and -/],
    [
      `${NAME}:\n  title: x\n  url: https://x/y.pth\n  sha256: 7be5\n`,
      /torchvision-alexnet\.sha256: expected the sha-256 in hex, or its first 8 or more hex digits/,
    ],
    [`- a list\n`, /bad-registry\.yaml: expected a mapping of model names/],
  ];
  for (const [text, want] of cases) {
    await Deno.writeTextFile(bad, text);
    const error = await loadModelRegistry(bad).then(() => null, (e: Error) => e);
    assert(error, `accepted: ${text}`);
    assertMatch(error.message, want);
  }
  // Digests that YAML would read as numbers stay as written, leading zero and all.
  const numeric = `${dir}/numeric-registry.yaml`;
  for (const digest of ["46307845", "01234567", "1234e567"]) {
    await Deno.writeTextFile(
      numeric,
      (await Deno.readTextFile(MODEL_REGISTRY_FILE)).replace("7be5be79\n", `${digest}\n`),
    );
    assertStrictEquals(requireFetchable(await loadModelRegistry(numeric), NAME).sha256, digest);
  }
  assertMatch(
    (() => {
      try {
        requireFetchable(registry, "resnet-9000");
        return "";
      } catch (e) {
        return (e as Error).message;
      }
    })(),
    /unknown model "resnet-9000": .*registry\.yaml names torchvision-alexnet/,
  );
});
