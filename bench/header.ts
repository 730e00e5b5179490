// The head of a bench report: when it ran, on what (the adapter, and the host's CPU and GPU models: a
// software rasteriser's numbers are the CPU's), with which code.

import { type AdapterReport, formatAdapter } from "../src/gpu/device.ts";
import { gitCommit } from "../src/pipeline/environment.ts";
import { describeHost, formatHost } from "../src/pipeline/host.ts";

export async function benchHeader(adapter: AdapterReport, projectRoot: string, reps: number) {
  return {
    date: new Date().toISOString(),
    adapterName: formatAdapter(adapter),
    adapter,
    host: await describeHost(),
    deno: Deno.version.deno,
    // "<hash> (modified)" when the code differs from HEAD, as the pipeline runner records it: results a run is
    // writing meanwhile do not count.
    commit: await gitCommit(projectRoot, "results"),
    repetitions: { warmup: 1, timed: reps },
  };
}

/** The header's lines for the terminal. */
export function describeHeader(header: Awaited<ReturnType<typeof benchHeader>>): string[] {
  return [
    `adapter: ${header.adapterName}`,
    `host: ${formatHost(header.host)}`,
    `deno ${header.deno}, commit ${header.commit}\n`,
  ];
}
