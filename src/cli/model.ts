// deno task model: a model's layers with output shapes, parameter counts and multiply-accumulates per image;
// `deno task model import` / `export` move weights between PyTorch state_dicts and the project's checkpoints;
// `deno task model fetch` / `list` get the pretrained models of models/registry.yaml and say which are here.

import { buildModel, loadModelFile, type ModelOptions, MODELS, resolveModelName } from "../models/index.ts";
import { architectureKey, type LayerSpec, type ModelSpec, resolveModel } from "../nn/spec.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { runTorchTool } from "../io/python.ts";
import {
  exportForTorch,
  importTorchvisionFile,
  loadClassNames,
  torchModuleSource,
  torchParameterNames,
  TORCHVISION_ALEXNET_FILE,
} from "../io/torchvision.ts";
import { fetchModel } from "../io/model_fetch.ts";
import { fetchedPath, modelFetchCommand } from "../io/fetched_models.ts";
import { loadModelRegistry, type ModelRegistry, requireFetchable, sizeText } from "../io/model_registry.ts";
import { entryExists, PROJECT_ROOT } from "../data/util.ts";
import { choiceFlag, numberFlag, onOffFlag, parseCommandLine, runCommand, UsageError } from "../util/args.ts";

export const MODEL_USAGE = `Usage: deno task model NAME|FILE.json [options]
       deno task model --list
       deno task model list                  the pretrained models there are to fetch, and which are here
       deno task model fetch NAME... [--force]                                  (deno task model fetch -h)
       deno task model import FILE --from torchvision [--out X.safetensors]   (deno task model import -h)
       deno task model export CHECKPOINT --to torch [--out X.safetensors|X.pt]  (deno task model export -h)

Prints the layers of a zoo model (or a model .json file) with output shapes, parameter counts and
multiply-accumulates (MACs) per image.

  --list                 the zoo's model names with a line each
  --lrn on|off           local response normalisation
  --pooling overlap|non-overlap
  --activation relu|tanh
  --dropout on|off
  --shallower            remove a middle conv layer
  --classes N            output classes
  --input-size N         input side
  --channels N           input channels
  --json                 print the ModelSpec as JSON instead (e.g. to edit into a model file)
  -h, --help`;

const OPTIONS = {
  list: { type: "boolean" },
  lrn: { type: "string" },
  pooling: { type: "string" },
  activation: { type: "string" },
  dropout: { type: "string" },
  shallower: { type: "boolean" },
  classes: { type: "string" },
  "input-size": { type: "string" },
  channels: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const group = (n: number) => n.toLocaleString("en-US");

function describeLayer(s: LayerSpec): string {
  switch (s.type) {
    case "conv":
      return `${s.out} ${s.kernel}x${s.kernel}` + (s.stride && s.stride !== 1 ? ` stride ${s.stride}` : "") +
        (s.pad ? ` pad ${s.pad}` : "") + (s.groups && s.groups !== 1 ? ` groups ${s.groups}` : "");
    case "local":
      return `${s.out} ${s.kernel}x${s.kernel} unshared` +
        (s.stride && s.stride !== 1 ? ` stride ${s.stride}` : "") +
        (s.pad ? ` pad ${s.pad}` : "");
    case "fc":
      return `${s.out}`;
    case "maxpool":
    case "avgpool":
      return `${s.size}/${s.stride}` + (s.pad ? ` pad ${s.pad}` : "") + (s.ceil ? " ceil" : "");
    case "lrn":
    case "rnorm":
      return `n=${s.size} alpha=${s.alpha} beta=${s.beta} k=${s.k}`;
    case "dropout":
      return `p=${s.p}`;
    default:
      return "";
  }
}

/** The layer table as lines of text. */
export function modelTable(spec: ModelSpec): string[] {
  const layers = resolveModel(spec);
  const rows: string[][] = [["#", "layer", "type", "config", "output", "params", "MACs/image"]];
  let params = 0, macs = 0;
  for (const l of layers) {
    const n = l.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
    params += n;
    macs += l.macs;
    rows.push([
      String(l.index + 1),
      "name" in l.spec ? l.spec.name : "",
      l.spec.type,
      describeLayer(l.spec),
      l.outShape.join("x"),
      n ? group(n) : "",
      l.macs ? group(l.macs) : "",
    ]);
  }
  rows.push(["", "total", "", "", "", group(params), group(macs)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const right = new Set([0, 5, 6]);
  const fmt = (r: string[]) =>
    r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ")
      .trimEnd();
  return [
    `${spec.name}: ${spec.description}`,
    `input ${spec.input.join("x")}, ${spec.classes} classes`,
    "",
    fmt(rows[0]),
    ...rows.slice(1, -1).map(fmt),
    widths.map((w) => "-".repeat(w)).join("  "),
    fmt(rows[rows.length - 1]),
    "",
    `parameters: ${group(params)}; forward multiply-accumulates per image: ${group(macs)} (${
      (macs / 1e9).toFixed(3)
    } G)`,
  ];
}

export const IMPORT_USAGE = `Usage: deno task model import FILE --from torchvision [options]

Turns a PyTorch state_dict of torchvision's AlexNet (torchvision.models.alexnet().state_dict(), e.g. with
weights="IMAGENET1K_V1") into an alexnet-webgpu checkpoint that \`deno task classify --model\` and
\`deno task evaluate --checkpoint\` take. FILE is a .safetensors file (safetensors.torch.save_file) or a
torch.save() file (.pt/.pth, zip or legacy format, e.g. torchvision's alexnet-owt-7be5be79.pth), read without
Python. The checkpoint gets torchvision's preprocessing (resize 256, centre crop 224, ImageNet channel mean and
std (0.229, 0.224, 0.225)) and, for 1000 outputs, the ImageNet class names of models/imagenet-classes.json.

  --from torchvision     the layout of FILE's names (the only one: torchvision's features.N / classifier.N)
  --out FILE             the checkpoint to write (default: FILE without its extension + .checkpoint.safetensors)
  --arch NAME|FILE.json  the model the state_dict is for (default models/torchvision-alexnet.json); any zoo
                         model or model file, its parameters named as \`deno task model export\` names them
  --classes FILE         class names in output order: one a line, or JSON (an array, or {"classes": [...]})
  --force                overwrite --out if it exists
  -h, --help`;

export const EXPORT_USAGE = `Usage: deno task model export CHECKPOINT --to torch [options]

Writes a checkpoint's weights as a PyTorch state_dict (names features.N.weight / classifier.N.bias, as
docs/torchvision.md maps them) for the nn.Module that --module writes; a torchvision-alexnet checkpoint's
state_dict also loads into torchvision.models.alexnet().

  --to torch             the target (the only one)
  --out FILE             .safetensors (default: CHECKPOINT without .safetensors + .torch.safetensors; load it
                         with safetensors.torch.load_file) or .pt/.pth (torch.save of the state_dict, for
                         torch.load; writing it runs PyTorch: /usr/bin/python3 with python3-torch)
  --module FILE.py       also write the PyTorch module (class Net) whose load_state_dict(strict=True) takes it
  --force                overwrite existing files
  -h, --help`;

const IMPORT_OPTIONS = {
  from: { type: "string" },
  out: { type: "string" },
  arch: { type: "string" },
  classes: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const EXPORT_OPTIONS = {
  to: { type: "string" },
  out: { type: "string" },
  module: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function refuseOverwrite(path: string, force: boolean | undefined): Promise<void> {
  if (!force && await entryExists(path)) throw new Error(`${path} exists already (--force overwrites it)`);
}

const parameterCount = (spec: ModelSpec) =>
  resolveModel(spec).reduce(
    (a, l) => a + l.params.reduce((b, p) => b + p.shape.reduce((x, y) => x * y, 1), 0),
    0,
  );

/** deno task model import: a torchvision state_dict -> a checkpoint. Returns the exit status. */
export async function importCommand(
  args: string[],
  out: (line: string) => void = console.log,
): Promise<number> {
  const { values: v, positionals } = parseCommandLine(args, IMPORT_OPTIONS, true);
  if (v.help) {
    out(IMPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("name one state_dict file to import");
  if (v.from === undefined) {
    throw new UsageError("--from torchvision is required (the layout of the file's names)");
  }
  choiceFlag(v.from, "from", ["torchvision"] as const);
  const file = positionals[0];
  const target = v.out ?? `${file.replace(/\.(safetensors|pth?|bin)$/i, "")}.checkpoint.safetensors`;
  if (target === file) throw new UsageError(`--out ${target} is the file being imported`);
  if (!target.endsWith(".safetensors")) {
    throw new UsageError(`--out ${target}: a checkpoint is a .safetensors file`);
  }
  await refuseOverwrite(target, v.force);
  const spec = v.arch === undefined ? undefined : await resolveModelName(v.arch);
  const classes = v.classes === undefined ? undefined : await loadClassNames(v.classes);
  // refuseOverwrite has checked the target, with the --force hint.
  const ckpt = await importTorchvisionFile(file, target, {
    spec,
    classes,
    classesSource: v.classes,
    overwrite: true,
  });
  const m = ckpt.meta.model, p = ckpt.meta.preprocess;
  out(
    `wrote ${target}: model ${m.name} (${
      group(parameterCount(m))
    } parameters), ${ckpt.meta.classes.length} ` +
      `classes, input RGB ${p.resize}px -> ${p.crop}x${p.crop} with torchvision's normalisation`,
  );
  for (const note of (ckpt.meta.provenance?.notes as string[] | undefined) ?? []) out(`note: ${note}`);
  out(`use it: deno task classify --model ${target} IMAGE...`);
  return 0;
}

/** deno task model export: a checkpoint -> a PyTorch state_dict (.safetensors or .pt). Returns the exit status. */
export async function exportCommand(
  args: string[],
  out: (line: string) => void = console.log,
): Promise<number> {
  const { values: v, positionals } = parseCommandLine(args, EXPORT_OPTIONS, true);
  if (v.help) {
    out(EXPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("name one checkpoint to export");
  if (v.to === undefined) throw new UsageError("--to torch is required");
  choiceFlag(v.to, "to", ["torch"] as const);
  const file = positionals[0];
  const target = v.out ?? `${file.replace(/\.safetensors$/i, "")}.torch.safetensors`;
  const pt = /\.pth?$/i.test(target);
  if (!pt && !target.endsWith(".safetensors")) {
    throw new UsageError(`--out ${target}: expected a .safetensors, .pt or .pth file`);
  }
  if (target === file) throw new UsageError(`--out ${target} is the checkpoint being exported`);
  if (v.module !== undefined && !v.module.endsWith(".py")) {
    throw new UsageError(`--module ${v.module}: expected a .py file`);
  }
  await refuseOverwrite(target, v.force);
  if (v.module !== undefined) await refuseOverwrite(v.module, v.force);
  const ckpt = await loadCheckpoint(file);
  const spec = ckpt.meta.model;
  // Before writing anything: a model PyTorch has no modules for fails here, naming the layer.
  const source = torchModuleSource(spec, "Net");
  const bytes = exportForTorch(ckpt);
  if (pt) {
    const dir = await Deno.makeTempDir({ prefix: "torch-export-" });
    try {
      await Deno.writeFile(`${dir}/sd.safetensors`, bytes);
      await runTorchTool(
        "torch_state_dict.py",
        ["write", `${dir}/sd.safetensors`, target],
        `writing ${target}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } else {
    await Deno.writeFile(target, bytes);
  }
  if (v.module !== undefined) await Deno.writeTextFile(v.module, source);
  const tensors = torchParameterNames(spec).size;
  out(
    `wrote ${target}: the state_dict of model ${spec.name} (${tensors} tensors, ${
      group(parameterCount(spec))
    } parameters)`,
  );
  if (v.module !== undefined) out(`wrote ${v.module}: class Net, the nn.Module it loads into`);
  const load = pt ? `torch.load("${target}")` : `safetensors.torch.load_file("${target}")`;
  const torchvision =
    architectureKey(spec) === architectureKey(await loadModelFile(TORCHVISION_ALEXNET_FILE));
  const into = torchvision
    ? "torchvision.models.alexnet()"
    : v.module !== undefined
    ? "Net()"
    : "Net() (--module writes it)";
  out(`load it in PyTorch: ${into}.load_state_dict(${load})`);
  const p = ckpt.meta.preprocess;
  out(
    `its input: ${
      p.channels === 1 ? "grey" : "RGB"
    } ${p.resize}px, centre ${p.crop}x${p.crop}, (pixel - mean) x ${p.scale}${
      p.std ? ` / std [${p.std.join(", ")}] per channel` : ""
    } in 0-255 units, ` +
      (p.mean === "none"
        ? "no mean"
        : p.mean === "channel" && ckpt.mean
        ? `channel mean [${Array.from(ckpt.mean, (x) => Number(x.toPrecision(6))).join(", ")}]`
        : `the mean image in ${file} (tensor preprocess.mean)`),
  );
  return 0;
}

export const FETCH_USAGE = `Usage: deno task model fetch NAME... [--force]

Downloads a pretrained model named in models/registry.yaml, accepts the file only when its sha-256 is the
registry's (for torchvision's weights: starts with the hex in the file name, the check torchvision makes),
and converts it without Python into a checkpoint at <cache>/models/NAME.safetensors, with the class names and
torchvision's preprocessing. From then on the name is enough: deno task classify --model NAME,
deno task evaluate --checkpoint NAME, and the GUI's model list.

Progress shows MB/s and the ETA; the download goes to a partial file under <cache>/downloads that an
interrupted fetch resumes. A file with another sha-256 is refused, naming the expected and actual digests,
and nothing is kept. With ALEXNET_DATA_MIRROR=<base URL or folder> the file is fetched from <base>/<file name>
instead, and only from there. The cache is <project>/.cache, or $ALEXNET_CACHE_DIR.

  --force      fetch again although the model is here (the old checkpoint stays until the new one is written)
  -h, --help`;

const FETCH_OPTIONS = {
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A path as the user reads it: relative to the project when inside it. */
function shown(path: string): string {
  return path.startsWith(`${PROJECT_ROOT}/`) ? path.slice(PROJECT_ROOT.length + 1) : path;
}

/** The fetchable models as table lines: name, here or how to fetch it, size, what it is. */
async function fetchableTable(registry: ModelRegistry): Promise<string[]> {
  const rows = [["model", "status", "size", "what"]];
  for (const entry of registry.models) {
    const path = await fetchedPath(entry);
    rows.push([
      entry.name,
      path ? `here: ${shown(path)}` : `absent (${modelFetchCommand(entry)})`,
      sizeText(entry) ?? "-",
      entry.title,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

/** deno task model list: the registry's models and which are here. Returns the exit status. */
export async function listFetchableCommand(
  args: string[],
  out: (line: string) => void = console.log,
): Promise<number> {
  const { values: v, positionals } = parseCommandLine(args, { help: { type: "boolean", short: "h" } }, true);
  if (v.help) {
    out("Usage: deno task model list\n\nThe pretrained models of models/registry.yaml: here or not, size.");
    return 0;
  }
  if (positionals.length) throw new UsageError("list takes no names");
  const registry = await loadModelRegistry();
  for (const line of await fetchableTable(registry)) out(line);
  return 0;
}

/** deno task model fetch NAME...: download, check, convert. Returns the exit status. */
export async function fetchCommand(
  args: string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  const { values: v, positionals } = parseCommandLine(args, FETCH_OPTIONS, true);
  const registry = await loadModelRegistry();
  if (v.help) {
    out(FETCH_USAGE);
    out("");
    for (const line of await fetchableTable(registry)) out(line);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError(`name the models to fetch: ${registry.models.map((m) => m.name).join(", ")}`);
  }
  const entries = positionals.map((name) => requireFetchable(registry, name));
  let failed = 0;
  for (const entry of entries) {
    try {
      const got = await fetchModel(entry, { force: v.force, log: err });
      if (got.present) {
        out(`${entry.name}: here already at ${shown(got.path)} (--force fetches it again)`);
        continue;
      }
      const ckpt = got.checkpoint!, m = ckpt.meta.model, p = ckpt.meta.preprocess;
      out(
        `${entry.name}: wrote ${shown(got.path)}: model ${m.name} (${
          group(parameterCount(m))
        } parameters), ` +
          `${ckpt.meta.classes.length} classes, input RGB ${p.resize}px -> ${p.crop}x${p.crop} with ` +
          `torchvision's normalisation`,
      );
      out(`use it: deno task classify --model ${entry.name} IMAGE...`);
    } catch (e) {
      err(`error: ${entry.name}: ${e instanceof Error ? e.message : String(e)}`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

async function main(): Promise<number> {
  if (Deno.args[0] === "import") return await importCommand(Deno.args.slice(1));
  if (Deno.args[0] === "export") return await exportCommand(Deno.args.slice(1));
  if (Deno.args[0] === "fetch") return await fetchCommand(Deno.args.slice(1));
  if (Deno.args[0] === "list") return await listFetchableCommand(Deno.args.slice(1));
  const { values: v, positionals } = parseCommandLine(Deno.args, OPTIONS, true);
  if (v.help) {
    console.log(MODEL_USAGE);
    return 0;
  }
  if (v.list) {
    const width = Math.max(...Object.keys(MODELS).map((k) => k.length));
    for (const [name, entry] of Object.entries(MODELS)) {
      const spec = buildModel(name);
      const params = resolveModel(spec).reduce(
        (a, l) => a + l.params.reduce((b, p) => b + p.shape.reduce((x, y) => x * y, 1), 0),
        0,
      );
      console.log(`${name.padEnd(width)}  ${group(params).padStart(11)} params  ${entry.description}`);
    }
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("name one model (deno task model --list shows them)");
  const options: ModelOptions = {
    lrn: onOffFlag(v.lrn, "lrn"),
    pooling: choiceFlag(v.pooling, "pooling", ["overlap", "non-overlap"] as const),
    activation: choiceFlag(v.activation, "activation", ["relu", "tanh"] as const),
    dropout: onOffFlag(v.dropout, "dropout"),
    shallower: v.shallower,
    classes: numberFlag(v.classes, "classes", { int: true, min: 1 }),
    inputSize: numberFlag(v["input-size"], "input-size", { int: true, min: 1 }),
    channels: numberFlag(v.channels, "channels", { int: true, min: 1 }),
  };
  const spec = await resolveModelName(positionals[0], options);
  if (v.json) console.log(JSON.stringify(spec, null, 2));
  else for (const line of modelTable(spec)) console.log(line);
  return 0;
}

if (import.meta.main) {
  const usage = Deno.args[0] === "import"
    ? IMPORT_USAGE
    : Deno.args[0] === "export"
    ? EXPORT_USAGE
    : Deno.args[0] === "fetch"
    ? FETCH_USAGE
    : MODEL_USAGE;
  await runCommand(main, usage);
}
