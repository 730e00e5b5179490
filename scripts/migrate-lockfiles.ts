// One-off migration of results/*/pipeline.lock.json from version 1 (stages keyed by hashes of source files)
// to version 2 (keyed by numerics fingerprints, docs/caching.md). Run it on the code that produced the
// committed results: it recomputes each entry's input hash without the code hash, records the fingerprint the
// current code's probe measures, and brings the publish stage's outputs to the form the current code writes
// (the published file hashed into its outputs, the card naming the published file's sha-256). Nothing trains.

import { join } from "@std/path";
import { inputHash, runPipeline } from "../src/pipeline/runner.ts";
import { hashOutputs, OUTPUTS_FILE } from "../src/pipeline/outputs.ts";
import { LOCKFILE_VERSION, writeJsonAtomic } from "../src/pipeline/lockfile.ts";
import { loadPipelineFile } from "../src/pipeline/parse.ts";
import { planPipeline } from "../src/pipeline/plan.ts";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { collectEnvironment } from "../src/pipeline/environment.ts";
import { serializeOutputs } from "../src/pipeline/outputs.ts";
import { sha256 } from "../src/pipeline/hash.ts";
import { REPRODUCE_STAGE_KINDS } from "../src/experiments/stage_kinds.ts";
import { probeAdapter } from "../src/experiments/resources.ts";
import { PAPER_CLAIM_IDS } from "../src/paper/claims.ts";

const root = Deno.cwd();
const resultsDir = join(root, "results");
const registry = new StageKindRegistry(REPRODUCE_STAGE_KINDS);
const resources = new Map<string, unknown>();
const names = Deno.args.length ? Deno.args : [...Deno.readDirSync(resultsDir)].filter((e) => e.isDirectory)
  .map((e) => e.name).sort();

for (const name of names) {
  const lockPath = join(resultsDir, name, "pipeline.lock.json");
  const lock = JSON.parse(await Deno.readTextFile(lockPath));
  if (lock.version !== 1) {
    console.log(`${name}: lockfile version ${lock.version}, nothing to migrate`);
    continue;
  }
  for (const entry of Object.values(lock.stages) as Record<string, unknown>[]) {
    delete entry.codeHash;
    if (entry.kind === "publish-model" && entry.status === "done") {
      await migratePublish(join(resultsDir, name, String(entry.outDir)), entry);
    }
  }
  // Dependants of the publish stage keep its old output hash as upstream, so they rerun (its report page).
  for (const entry of Object.values(lock.stages) as Record<string, unknown>[]) {
    entry.inputHash = inputHash(entry as unknown as Parameters<typeof inputHash>[0]);
  }
  lock.version = LOCKFILE_VERSION;
  await writeJsonAtomic(lockPath, lock);

  const definition = await loadPipelineFile(join(root, "pipelines", `${name}.yaml`), registry, {
    displayName: `pipelines/${name}.yaml`,
    knownClaimIds: PAPER_CLAIM_IDS,
  });
  const sets = Object.entries(lock.overrides ?? {}).map(([key, value]) => ({
    key,
    value,
    raw: `${key}=${JSON.stringify(value)}`,
  }));
  const plan = planPipeline(definition, registry, { preset: lock.preset, sets });
  const adapter = (await probeAdapter(resources)).description;
  const summary = await runPipeline(plan, {
    resultsDir,
    projectRoot: root,
    resources,
    environment: await collectEnvironment(root, adapter),
    recordMissingFingerprints: true,
  });
  if (!summary.ok) Deno.exit(1);
  if (summary.ran.some((id) => plan.instances.find((i) => i.id === id)?.kind.name === "train")) {
    throw new Error(`${name}: a train stage ran during the migration`);
  }
}

/** Rewrites a publish stage's outputs and card as the current publish-model code writes them. */
async function migratePublish(outDir: string, entry: Record<string, unknown>) {
  const outputsPath = join(outDir, OUTPUTS_FILE);
  const old = JSON.parse(await Deno.readTextFile(outputsPath));
  const to = String(old.path);
  const bytes = await Deno.readFile(join(root, to));
  const { checkpoint_sha256, path: _path, ...rest } = old;
  const card = {
    model: rest.model,
    description: rest.description,
    parameters: rest.parameters,
    bytes: bytes.length,
    sha256: sha256(bytes),
    classes: rest.classes,
    test_top1_error: rest.test_top1_error,
    test_top5_error: rest.test_top5_error,
    epochs: rest.epochs,
    images_seen: rest.images_seen,
    training_seconds: rest.training_seconds,
    scale: rest.scale,
    training_checkpoint_sha256: checkpoint_sha256,
    dataset_checksum: rest.dataset_checksum,
    trained_by: rest.trained_by,
    pipeline_file: rest.pipeline_file,
    preset: rest.preset,
    seed: rest.seed,
    adapter: rest.adapter,
    deno: rest.deno,
    git_commit: rest.git_commit,
    date: rest.date,
  };
  const cardPath = to.replace(/\.safetensors$/, ".json");
  await Deno.writeTextFile(join(root, cardPath), JSON.stringify(card, null, 2) + "\n");
  const outputs = { path: to, ...card, published: { model: to, card: cardPath } };
  const text = serializeOutputs(outputs);
  await Deno.writeTextFile(outputsPath, text);
  entry.outputHash = await hashOutputs(outDir, text, outputs, root);
}
