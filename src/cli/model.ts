// deno task model: a model's layers with output shapes, parameter counts and multiply-accumulates per image.

import { buildModel, type ModelOptions, MODELS, resolveModelName } from "../models/index.ts";
import { type LayerSpec, type ModelSpec, resolveModel } from "../nn/spec.ts";
import { choiceFlag, numberFlag, onOffFlag, parseCommandLine, runCommand, UsageError } from "../util/args.ts";

export const MODEL_USAGE = `Usage: deno task model NAME|FILE.json [options]
       deno task model --list

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

async function main(): Promise<number> {
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

if (import.meta.main) await runCommand(main, MODEL_USAGE);
