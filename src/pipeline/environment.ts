/** Facts about the machine and checkout that go into provenance blocks. */

import { isAbsolute, relative } from "@std/path";
import { describeHost, type HostInfo } from "./host.ts";

export interface RunEnvironment {
  adapter: string;
  /** The machine beside the adapter: its CPU model (and GPU model where there is one). */
  host: HostInfo;
  denoVersion: string;
  gitCommit: string;
}

async function git(projectRoot: string, args: string[]): Promise<string | undefined> {
  try {
    const output = await new Deno.Command("git", { args, cwd: projectRoot, stdout: "piped", stderr: "null" })
      .output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `abc123...` or `abc123... (modified)`; results from uncommitted code should say so. Changes under
 * `outputs` (the results folder, which runs write while others are in progress) do not count.
 */
export async function gitCommit(projectRoot: string, outputs?: string): Promise<string> {
  const commit = await git(projectRoot, ["rev-parse", "HEAD"]);
  if (!commit) return "unknown (no commit)";
  const exclude = outputs === undefined ? [] : ["--", ".", `:(exclude)${outputs}`];
  const status = await git(projectRoot, ["status", "--porcelain", "--untracked-files=no", ...exclude]);
  return status ? `${commit} (modified)` : commit;
}

export async function collectEnvironment(
  projectRoot: string,
  adapter: string,
  resultsDir?: string,
): Promise<RunEnvironment> {
  const outputs = resultsDir === undefined ? undefined : relative(projectRoot, resultsDir);
  const inside = outputs !== undefined && outputs !== "" && !outputs.startsWith("..") && !isAbsolute(outputs);
  return {
    adapter,
    host: await describeHost(),
    denoVersion: Deno.version.deno,
    gitCommit: await gitCommit(projectRoot, inside ? outputs : undefined),
  };
}
