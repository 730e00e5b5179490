// Command line of `deno task bench` (bench/main.ts): parsed before any GPU work, so that --help and mistakes
// answer at once. Mistakes throw UsageError; main.ts prints it, points at --help and exits 2.

import { parseCommandLine, UsageError } from "../src/util/args.ts";
import { ORT_INSTALL, ORT_VERSION } from "./ort_peer.ts";

/** The parts of the benchmark, in the order they run. */
export const PARTS = [
  "gemm",
  "alexnet",
  "infer",
  "cifar",
  "tfjs",
  "torch",
  "ort",
  "pipelines",
  "im2col",
] as const;
export type Part = (typeof PARTS)[number];

export const DEFAULT_PYTHON = "/usr/bin/python3";

export const USAGE = `Usage: deno task bench [options]

Times this engine on the machine's WebGPU adapter, with TensorFlow.js (same CIFAR net, same adapter), PyTorch
on the CPU (same nets, bench/torch_peer.py) and ONNX Runtime Web on WebGPU (the same nets exported to ONNX,
inference, bench/ort_peer.ts) as peers, and writes the results as JSON.

Options:
  --quick              1 timed repetition per workload instead of 5 (after one warm-up run, as always)
  --only LIST          comma-separated parts to run (default: all):
                         gemm     GEMM microbenchmark (1024^3, three layouts)
                         alexnet  paper AlexNet, two towers and one tower: forward batch 1 and 16, training
                                  step batch 16
                         infer    classification latency, one image, single crop and ten crops
                         cifar    CIFAR-10 net training step, batch 128, 32x32 and 24x24
                         tfjs     TensorFlow.js on the same adapter, beside cifar
                         torch    PyTorch (CPU) beside alexnet, cifar and pipelines, same shapes
                         ort      ONNX Runtime Web (WebGPU EP, same adapter), inference beside alexnet
                                  (one tower, batch 1 and 16) and cifar (forward, batch 128, which
                                  cifar then also times for us)
                         pipelines training steps of the nets the pipelines' cpu preset trains (alexnet-mini
                                  and its one-tower variant, fig1-four-layer, conv-local-13pct)
                         im2col   Winograd vs im2col side by side
  --skip-tfjs          leave TensorFlow.js out (same as dropping tfjs from --only)
  --skip-torch         leave PyTorch out (same as dropping torch from --only)
  --skip-ort           leave ONNX Runtime Web out (same as dropping ort from --only)
  --no-layers          skip the per-layer GPU-timestamp breakdowns (one run less per workload)
  --kernels            under each layer, its kernels' times (entry point and shape)
  --python PATH        the Python that has torch (default ${DEFAULT_PYTHON}: Debian's python3-torch); it
                       also exports the ORT peer's nets to ONNX (kept in .cache/bench-onnx/)
  --torch-threads N    torch.set_num_threads(N) (default: the cores, ${navigator.hardwareConcurrency})
  --out FILE           where to write the JSON (default bench/results/<date>.json)
  -h, --help           this text

PyTorch needs Debian's python3-torch, with OpenBLAS for its fully connected layers (apt-get install -y
python3-torch libopenblas0-pthread); without torch the bench says so and
carries on. The PyTorch peer at its shortest:
  deno task bench --quick --no-layers --skip-tfjs --only alexnet,cifar,torch --out /tmp/bench.json
ONNX Runtime Web is npm's onnxruntime-web ${ORT_VERSION}, pinned in deno.json (if it is missing:
\`${ORT_INSTALL}\`); the same PyTorch exports its nets. Without either the bench says
so and carries on. The ORT peer at its shortest:
  deno task bench --quick --no-layers --skip-tfjs --only alexnet,cifar,ort --out /tmp/bench.json`;

export interface BenchArgs {
  help: boolean;
  quick: boolean;
  /** Timed repetitions per workload (ours and PyTorch's alike), after one warm-up. */
  reps: number;
  only: Set<Part>;
  layers: boolean;
  /** Each layer's time split by kernel. */
  kernels: boolean;
  out?: string;
  python: string;
  torchThreads: number;
}

export function parseBenchArgs(args: string[]): BenchArgs {
  const { values } = parseCommandLine(args, {
    help: { type: "boolean", short: "h" },
    quick: { type: "boolean" },
    "skip-tfjs": { type: "boolean" },
    "skip-torch": { type: "boolean" },
    "skip-ort": { type: "boolean" },
    "no-layers": { type: "boolean" },
    kernels: { type: "boolean" },
    only: { type: "string" },
    out: { type: "string" },
    python: { type: "string" },
    "torch-threads": { type: "string" },
  });
  const only = new Set<Part>();
  for (const part of (values.only ?? PARTS.join(",")).split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!(PARTS as readonly string[]).includes(part)) {
      throw new UsageError(`--only: unknown part "${part}"; known: ${PARTS.join(", ")}`);
    }
    only.add(part as Part);
  }
  if (only.size === 0) throw new UsageError(`--only: no parts given; known: ${PARTS.join(", ")}`);
  if (values["skip-tfjs"]) only.delete("tfjs");
  if (values["skip-torch"]) only.delete("torch");
  if (values["skip-ort"]) only.delete("ort");
  let torchThreads = navigator.hardwareConcurrency;
  if (values["torch-threads"] !== undefined) {
    torchThreads = Number(values["torch-threads"]);
    if (!Number.isInteger(torchThreads) || torchThreads < 1) {
      throw new UsageError(`--torch-threads: "${values["torch-threads"]}" is not a positive integer`);
    }
  }
  if (values.out === "") throw new UsageError("--out: empty path");
  return {
    help: values.help ?? false,
    quick: values.quick ?? false,
    reps: values.quick ? 1 : 5,
    only,
    layers: !values["no-layers"],
    kernels: values.kernels ?? false,
    out: values.out,
    python: values.python ?? DEFAULT_PYTHON,
    torchThreads,
  };
}
