/** Validation problems carry where they are (file:line:col or a command-line argument) and which key. */

export interface PipelineIssue {
  /** `pipelines/lrn.yaml:12:5`, or `--set train.epochs=x` for command-line problems. */
  where: string;
  /** Dotted key path the problem is about, e.g. `stages.train.params.epochs`. */
  key: string;
  message: string;
}

export function formatIssue(issue: PipelineIssue): string {
  return issue.key ? `${issue.where}: ${issue.key}: ${issue.message}` : `${issue.where}: ${issue.message}`;
}

/** Thrown when a pipeline (or the command line) is invalid; lists every problem found, not just the first. */
export class PipelineValidationError extends Error {
  constructor(readonly issues: PipelineIssue[]) {
    super(
      `${issues.length} problem${issues.length === 1 ? "" : "s"} found:\n` +
        issues.map((issue) => "  " + formatIssue(issue)).join("\n"),
    );
    this.name = "PipelineValidationError";
  }
}

/** Joins a key path for messages: `stages.train.params.sizes[2]`. */
export function keyPath(path: readonly (string | number)[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text ? `.${part}` : part;
  }
  return text;
}
