// `kind: publish-model`: copies a trained checkpoint to a path in the repository (models/default-cifar10.*),
// with a JSON card beside it (metrics and provenance), so `deno task classify` works on a fresh clone with a
// model this project's own pipeline trained.

import { basename, dirname, join } from "@std/path";
import { defineStageKind, type Fingerprint } from "../pipeline/types.ts";
import { upstreamTrain } from "./train.ts";
import { type Checkpoint, encodeCheckpoint, loadCheckpoint } from "../io/checkpoint.ts";
import { sha256 } from "../pipeline/hash.ts";
import { standInRun } from "./inference.ts";
import { fileSha256 } from "./util.ts";

export interface PublishParams {
  to: string;
  train: string;
}

export const publishModelStageKind = defineStageKind<PublishParams>({
  name: "publish-model",
  description: "Copies the upstream train stage's checkpoint into the repository, with a model card",
  // One published file: with several seeds it is the first seed's net (ctx.seed), not one per seed.
  seeds: "all",
  params: {
    to: {
      type: "string",
      required: true,
      doc: "repository-relative .safetensors path (the card gets .json)",
    },
    train: {
      type: "string",
      default: "",
      doc: "the train stage to publish (default: the only one in needs)",
    },
  },
  validateParams(params) {
    return params.to.endsWith(".safetensors") ? [] : [{ path: ["to"], message: "must end in .safetensors" }];
  },
  async fingerprint(ctx): Promise<Fingerprint> {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined, ctx.seed);
    if (trained.outputs.skipped) return { exact: { skipped: "yes" }, measures: {} };
    // What publishing writes, from the initial weights (bit-exact everywhere): the stripped file's bytes.
    const run = await standInRun(ctx, trained, { limitTrain: 1, limitTest: 1 });
    return { exact: { published: sha256(publishedBytes(run.ckpt)) }, measures: {} };
  },
  async run(ctx) {
    const trained = upstreamTrain(ctx.inputs, ctx.params.train || undefined, ctx.seed);
    const out = trained.outputs as Record<string, unknown>;
    if (out.skipped) return { skipped: true, reason: out.reason, scale: "not run" };
    // Smoke runs (tests) never write outside their results folder.
    const smoke = ctx.preset === "smoke";
    const to = smoke ? ctx.params.to.split("/").pop()! : ctx.params.to;
    const target = join(smoke ? ctx.outDir : ctx.projectRoot, to);
    const cardPath = to.replace(/\.safetensors$/, ".json");
    await Deno.mkdir(dirname(target), { recursive: true });
    const checkpoint = join(trained.outDir, String(out.checkpoint));
    if ((await fileSha256(checkpoint)) !== out.checkpoint_sha256) {
      // Checkpoints are not committed: a fresh clone has the training's outputs but not its weights.
      throw new Error(
        `${checkpoint} is missing or changed, so ${ctx.params.to} cannot be written again: rerun the training ` +
          `with --force ${trained.stage}`,
      );
    }
    const bytes = publishedBytes(await loadCheckpoint(checkpoint));
    const tmp = `${target}.tmp-${Deno.pid}`;
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, target);
    const card = {
      model: out.model,
      description: out.model_description,
      parameters: out.parameters,
      bytes: bytes.length,
      // The published file itself, so a changed byte in it is noticed (the pipeline hashes it too).
      sha256: sha256(bytes),
      classes: out.classes,
      test_top1_error: out.top1_error,
      test_top5_error: out.top5_error,
      epochs: out.epochs_completed,
      images_seen: out.images_seen,
      training_seconds: out.seconds,
      scale: out.scale,
      training_checkpoint_sha256: out.checkpoint_sha256,
      dataset_checksum: out.dataset_checksum,
      trained_by: `deno task reproduce ${ctx.run.pipeline.name} --preset ${ctx.preset}`,
      pipeline_file: ctx.run.pipeline.file,
      preset: ctx.preset,
      seed: ctx.seed,
      adapter: out.adapter,
      deno: ctx.run.denoVersion,
      git_commit: ctx.run.gitCommit,
      date: new Date().toISOString(),
    };
    await Deno.writeTextFile(join(dirname(target), basename(cardPath)), JSON.stringify(card, null, 2) + "\n");
    ctx.log(`published ${target} (test top-1 error ${(Number(out.top1_error) * 100).toFixed(2)}%)`);
    const where = smoke ? "files" : "published";
    return { path: to, ...card, [where]: { model: to, card: cardPath } };
  },
});

/**
 * Only what classification needs: the weights, the preprocessing mean and the metadata (no momentum or resume
 * state), which halves the file.
 */
export function publishedBytes(ckpt: Checkpoint): Uint8Array {
  const { trainState: _dropped, ...meta } = ckpt.meta;
  return encodeCheckpoint({ meta, weights: ckpt.weights, mean: ckpt.mean });
}
