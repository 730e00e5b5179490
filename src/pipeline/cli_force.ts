// `--force` on the command line: bare (every stage), or naming stages (`stage`, `stage[arm]`, `pipeline/stage`).

import { PipelineValidationError } from "./errors.ts";
import type { PipelineIssue } from "./errors.ts";
import type { PipelinePlan, StageInstance } from "./plan.ts";
import { didYouMean } from "../util/suggest.ts";

/** What a bare `--force` becomes. */
export const FORCE_ALL = "*";

/** Turns `--force` (bare) and `--force stage` into `--force=...` so parseArgs can read both forms. */
export function normaliseForceArgs(args: string[], pipelineNames: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== "--force") {
      out.push(args[i]);
      continue;
    }
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith("-") && !pipelineNames.includes(next)) {
      out.push(`--force=${next}`);
      i++;
    } else out.push(`--force=${FORCE_ALL}`);
  }
  return out;
}

/** `--force` names: stage, stage[arm] or pipeline/stage(/arm id); `*` is everything. */
function forceMatches(name: string, pipeline: string, instance: StageInstance): boolean {
  if (name === FORCE_ALL) return true;
  const slash = name.indexOf("/");
  const target = slash >= 0 ? name.slice(slash + 1) : name;
  if (slash >= 0 && name.slice(0, slash) !== pipeline) return false;
  return target === instance.stage || target === instance.id;
}

export function makeForcePredicate(names: string[]) {
  return (pipeline: string, instance: StageInstance) =>
    names.some((name) => forceMatches(name, pipeline, instance));
}

/** Every `--force` name must match some instance: a typo must not silently force nothing. */
export function checkForceNames(names: string[], plans: PipelinePlan[]): void {
  const issues: PipelineIssue[] = [];
  for (const name of names) {
    const matched = plans.some((plan) =>
      plan.instances.some((instance) => forceMatches(name, plan.definition.name, instance))
    );
    if (!matched) {
      const candidates = [
        ...new Set(plans.flatMap((plan) => plan.instances.flatMap((i) => [i.stage, i.id]))),
      ];
      issues.push({
        where: `--force ${name}`,
        key: "",
        message: `no stage "${name}"${didYouMean(name, candidates)}`,
      });
    }
  }
  if (issues.length) throw new PipelineValidationError(issues);
}
