// deno task gui [--port N] [--model FILE|NAME]: the classification GUI, served on 127.0.0.1. Inference runs in the
// browser on WebGPU with the project's kernels (or on this server when the browser has no WebGPU).

import { startGuiServer } from "../gui/server.ts";
import { DEFAULT_MODEL, defaultModelPath, readCheckpointMeta } from "../classify/files.ts";
import { describeCheckpoint } from "../classify/checkpoint.ts";
import { resolveModelArgument } from "../classify/model_name.ts";

const USAGE = `Usage: deno task gui [--port N] [--model FILE|NAME] [--host ADDR]

Serves a page for classifying images with a trained checkpoint: drop or pick JPEG/PNG images and see each
one's top-5 classes; pick the model among the checkpoints in models/ and results/; see conv1's learned kernels;
browse the reports under results/. The page runs the network in the browser on WebGPU, with the same WGSL
kernels and TypeScript as \`deno task classify\`; browsers without WebGPU send the images to this server.
Uploads over 32 MiB and images whose header declares over 40 megapixels are refused before decoding.

Options:
  --port N       port (default 8765; 0 picks a free one)
  --model FILE   checkpoint selected first, or the name of a fetched model (deno task model list);
                 default ${DEFAULT_MODEL}, else the first one found
  --host ADDR    address to listen on (default 127.0.0.1)
  -h, --help     this text`;

function parse(args: string[]): { port: number; model: string | null; host: string } | null {
  const o = { port: 8765, model: null as string | null, host: "127.0.0.1" };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].includes("=") ? args[i].split(/=(.*)/s, 2) : [args[i], undefined];
    const value = () => inline ?? args[++i];
    if (flag === "-h" || flag === "--help") return null;
    if (flag === "--port") {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port: bad port "${v}"`);
      o.port = n;
    } else if (flag === "--model") {
      o.model = value() ?? null;
      if (!o.model) throw new Error("--model needs a checkpoint file or a model name");
    } else if (flag === "--host") {
      o.host = value() ?? "";
      if (!o.host) throw new Error("--host needs an address");
    } else throw new Error(`unknown argument ${args[i]}`);
  }
  return o;
}

if (import.meta.main) {
  let o;
  try {
    o = parse(Deno.args);
  } catch (e) {
    console.error(`gui: ${(e as Error).message} (see --help)`);
    Deno.exit(2);
  }
  if (!o) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const asked = o.model;
  try {
    // A fetched model's name stands for its checkpoint in the cache (listed under that name).
    if (o.model) o.model = await resolveModelArgument(o.model);
    const meta = await readCheckpointMeta(o.model ?? defaultModelPath());
    console.error(`gui: ${asked ?? DEFAULT_MODEL}: ${describeCheckpoint(meta)}`);
  } catch (e) {
    // A model asked for must work; the default may not exist yet (the page lists what there is).
    if (asked) {
      console.error(`gui: cannot use the model: ${(e as Error).message}`);
      Deno.exit(1);
    }
    console.error(`gui: no default model yet (${(e as Error).message}); listing models/ and results/`);
  }
  const server = await startGuiServer({ port: o.port, hostname: o.host, model: o.model });
  console.log(`GUI: ${server.url}`);
}
