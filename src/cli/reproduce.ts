// `deno task reproduce`: regenerates the paper's tables, figures and ablations from pipelines/*.yaml
// (docs/pipelines.md). The default preset follows the adapter: `cpu` on a software rasteriser, `full` on a GPU.

import { defaultPresetForAdapter, runReproduceCli } from "../pipeline/cli.ts";
import { REPRODUCE_STAGE_KINDS } from "../experiments/stage_kinds.ts";
import { probeAdapter } from "../experiments/resources.ts";
import { writeIndex } from "../experiments/index_page.ts";
import { PAPER_CLAIM_IDS } from "../paper/claims.ts";

/** Runs the CLI; `resources` is shared with the stages, so the adapter probe reuses their GPU when there is one. */
export function reproduce(args: string[], resources = new Map<string, unknown>()): Promise<number> {
  let probe: ReturnType<typeof probeAdapter> | undefined;
  const adapter = () => (probe ??= probeAdapter(resources));
  return runReproduceCli(args, {
    stageKinds: REPRODUCE_STAGE_KINDS,
    knownClaimIds: PAPER_CLAIM_IDS,
    writeIndex: (resultsDir, pipelines) => writeIndex(resultsDir, { pipelines }),
    chooseDefaultPreset: async () => defaultPresetForAdapter((await adapter()).isSoftware),
    describeAdapter: async () => (await adapter()).description,
    resources,
  });
}

if (import.meta.main) Deno.exit(await reproduce(Deno.args));
