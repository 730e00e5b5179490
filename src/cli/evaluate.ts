// deno task evaluate: top-1/top-5 error of a checkpoint on a dataset split (src/train/evaluate.ts).

import { formatAdapter } from "../gpu/device.ts";
import { Gpu } from "../gpu/runtime.ts";
import { evaluate } from "../train/evaluate.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { resolveModelArgument } from "../classify/model_name.ts";
import { ensureDefaultData } from "../data/open.ts";
import type { DataConfig } from "../train/types.ts";
import { choiceFlag, numberFlag, parseCommandLine, runCommand, UsageError } from "../util/args.ts";

export const EVALUATE_USAGE = `Usage: deno task evaluate --checkpoint FILE|NAME [options]

Measures a trained checkpoint's top-1 and top-5 error, preprocessing images as its training run did.

  --checkpoint FILE      an alexnet-webgpu checkpoint (e.g. results/runs/x/checkpoint.safetensors), or the
                         name of a fetched model (deno task model list), e.g. torchvision-alexnet
  --data KIND            cifar10 | fashion-mnist | imagenette | image-folder (default: the run's dataset)
  --data-path PATH       dataset folder or archive (default: the standard location of KIND)
  --size S               image folders: stored side (default: the run's)
  --split test|val       test (default) or the validation split (the last N training images)
  --validation N         size of the validation split (default: the run's)
  --limit-test N         use a fixed, class-balanced subset of N test images
  --allow-unknown-data   use CIFAR-10 files that match no known build (refused otherwise)
  --fetch                fetch the dataset first when it is not on this machine (deno task data fetch KIND)
  --ten-crop             average the softmax over 10 views (corners, centre, mirrors)
  --batch N              network inputs per forward pass (default 128)
  --json                 print the result as JSON on stdout
  -h, --help`;

const OPTIONS = {
  checkpoint: { type: "string" },
  data: { type: "string" },
  "data-path": { type: "string" },
  size: { type: "string" },
  split: { type: "string" },
  validation: { type: "string" },
  "limit-test": { type: "string" },
  "allow-unknown-data": { type: "boolean" },
  fetch: { type: "boolean" },
  "ten-crop": { type: "boolean" },
  batch: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<number> {
  const { values: v } = parseCommandLine(Deno.args, OPTIONS);
  if (v.help) {
    console.log(EVALUATE_USAGE);
    return 0;
  }
  if (!v.checkpoint) throw new UsageError("--checkpoint FILE|NAME is required");
  const kind = choiceFlag(
    v.data,
    "data",
    ["cifar10", "fashion-mnist", "imagenette", "image-folder"] as const,
  );
  const split = choiceFlag(v.split, "split", ["test", "val"] as const) ?? "test";
  const batchSize = numberFlag(v.batch, "batch", { int: true, min: 1 });
  // Without --data, the dataset the run trained on (from the checkpoint's training state).
  const checkpoint = await resolveModelArgument(v.checkpoint);
  const ckpt = await loadCheckpoint(checkpoint);
  const trained = (ckpt.meta.trainState?.config as { data?: DataConfig } | undefined)?.data;
  if (!kind && !trained) {
    throw new UsageError(`${v.checkpoint} does not say which data it was trained on: pass --data`);
  }
  const data: DataConfig = kind && kind !== trained?.kind
    ? { kind }
    : { kind: trained!.kind, path: trained!.path, size: trained!.size, validation: trained!.validation };
  if (v["data-path"] !== undefined) data.path = v["data-path"];
  data.size = numberFlag(v.size, "size", { int: true, min: 1 }) ?? data.size;
  data.validation = numberFlag(v.validation, "validation", { int: true, min: 1 }) ?? data.validation;
  data.limitTest = numberFlag(v["limit-test"], "limit-test", { int: true, min: 1 });
  if (v["allow-unknown-data"]) data.allowUnknownData = true;
  await ensureDefaultData(data.kind, data.path, v.fetch ?? false);
  const gpu = await Gpu.create();
  console.error(`adapter: ${formatAdapter(gpu.adapter)}`);
  const t0 = performance.now();
  const r = await evaluate(gpu, checkpoint, data, {
    tenCrop: v["ten-crop"] ?? false,
    split,
    batchSize,
    loaded: ckpt,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (v.json) console.log(JSON.stringify({ ...r, seconds, adapter: gpu.adapter.description }));
  else {
    console.log(
      `${r.model} on ${r.dataset} ${split} (${r.images} images, ${
        r.tenCrop ? "10 views" : "centre crop"
      }): ` +
        `top-1 error ${(100 * r.top1Error).toFixed(2)}% (accuracy ${
          (100 * (1 - r.top1Error)).toFixed(2)
        }%), ` +
        `top-5 error ${(100 * r.top5Error).toFixed(2)}%, loss ${r.loss.toFixed(4)} [${seconds.toFixed(1)} s]`,
    );
  }
  return 0;
}

if (import.meta.main) await runCommand(main, EVALUATE_USAGE);
