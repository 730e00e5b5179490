// `deno task reproduce`: regenerates the paper's tables, figures and ablations from pipelines/*.yaml
// (docs/pipelines.md). The default preset follows the adapter: `cpu` on a software rasteriser, `full` on a GPU.

import { defaultPresetForAdapter, runReproduceCli } from "../pipeline/cli.ts";
import { REPRODUCE_STAGE_KINDS } from "../experiments/stage_kinds.ts";
import { probeAdapter } from "../experiments/resources.ts";
import { writeIndex } from "../experiments/index_page.ts";
import { PAPER_CLAIM_IDS } from "../paper/claims.ts";
import { canonicalJson, hashTree, sha256 } from "../pipeline/hash.ts";
import { PROJECT_ROOT } from "../data/util.ts";

/** What the stages' numbers depend on besides their inputs: every file the engine loads, the runtime, the adapter. */
const CODE_PATHS = ["src", "kernels", "vendor", "deno.json", "deno.lock"];

async function codeIdentity(adapter: string): Promise<string> {
  const code = await hashTree(PROJECT_ROOT, CODE_PATHS);
  return sha256(canonicalJson({ code, runtime: Deno.version, adapter }));
}

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
    codeIdentity: async () => codeIdentity((await adapter()).description),
    resources,
  });
}

if (import.meta.main) Deno.exit(await reproduce(Deno.args));
