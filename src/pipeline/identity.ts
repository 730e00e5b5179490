// What a stage instance is keyed by. The input hash says "this instance, given these inputs" (its own record
// is reused while it holds); the run key says "this computation", wherever it is declared: equal run keys in
// two pipelines, arms or presets are one computation, so one run serves both.

import { canonicalJson, sha256 } from "./hash.ts";
import type { StageInstance } from "./plan.ts";
import type { DatasetChecksumContext, ParamValues, StageKind, StageResult } from "./types.ts";

export interface InputIdentity {
  inputHash: string;
  /** Upstream instance id -> its output hash. */
  upstream: Record<string, string>;
  datasets: Record<string, string>;
}

/** The key of everything a stage is given: kind, parameters, arm, seed, upstream outputs, datasets. */
export function inputHash(parts: {
  kind: string;
  params: unknown;
  matrix?: Record<string, string>;
  seed: number;
  upstream: Record<string, string>;
  datasets: Record<string, string>;
  pipelineText?: unknown;
}): string {
  const { kind, params, matrix, seed, upstream, datasets, pipelineText } = parts;
  // Only kinds that show the pipeline's text hash it, so every other kind's hash is what it always was.
  const text = pipelineText === undefined ? {} : { pipelineText };
  return sha256(canonicalJson({ kind, params, matrix: matrix ?? null, seed, upstream, datasets, ...text }));
}

/** `params` without the parameters added later (`ParamSpec.addedLater`) that are at their default. */
export function identityParams(params: ParamValues, kind: StageKind): ParamValues {
  const out = { ...params };
  for (const [name, spec] of Object.entries(kind.params)) {
    if (spec.addedLater && name in out && canonicalJson(out[name]) === canonicalJson(spec.default)) {
      delete out[name];
    }
  }
  return out;
}

/** The instance's input identity; `standIn` replaces its datasets' checksums when they are not on this machine. */
export async function computeIdentity(
  instance: StageInstance,
  completed: ReadonlyMap<string, StageResult>,
  context: DatasetChecksumContext,
  standIn?: Record<string, string>,
): Promise<InputIdentity> {
  const upstream: Record<string, string> = {};
  for (const id of instance.needs.flatMap((need) => need.ids)) upstream[id] = completed.get(id)!.outputHash;
  const datasets = standIn ?? await instance.kind.datasetChecksums?.(instance.params, context) ?? {};
  const hash = inputHash({
    kind: instance.kind.name,
    params: identityParams(instance.params, instance.kind),
    matrix: instance.matrix,
    // The instance's own seed; the matrix part stays the arm alone, so a seed adds no key of its own.
    seed: instance.seed,
    upstream,
    datasets,
    pipelineText: instance.pipelineText,
  });
  return { inputHash: hash, upstream, datasets };
}

/** Bumped when what enters the run key changes, so keys of two definitions never meet. */
const RUN_KEY_VERSION = 1;

/**
 * The run key, for kinds that declare what their outputs are a function of (`StageKind.resolvedConfig`): kind,
 * that resolved configuration (display-only parameters left out, defaults resolved), seed, upstream output
 * hashes by the name of the stage they come from (instance ids differ between pipelines) and dataset
 * checksums. Undefined for other kinds, and where the kind cannot resolve the configuration (no data): such an
 * instance reads more of its context (a page prints its pipeline, preset and provenance), so only its own
 * record is ever reused.
 */
export function runKey(
  instance: StageInstance,
  identity: InputIdentity,
  inputs: Record<string, StageResult | StageResult[]>,
): string | undefined {
  let config: unknown;
  try {
    config = instance.kind.resolvedConfig?.({
      params: structuredClone(instance.params),
      matrix: instance.matrix,
      seed: instance.seed,
      inputs,
    });
  } catch {
    // A configuration the kind cannot resolve (it will fail when run) is not shared.
  }
  if (config === undefined) return undefined;
  const upstream = Object.fromEntries(
    instance.needs.map((need) => [need.stage, need.ids.map((id) => identity.upstream[id])]),
  );
  return sha256(canonicalJson({
    version: RUN_KEY_VERSION,
    kind: instance.kind.name,
    config,
    seed: instance.seed,
    upstream,
    datasets: identity.datasets,
  }));
}
