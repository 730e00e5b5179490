// The machine a run is on, for provenance: the CPU model (what a software rasteriser's speed depends on) and
// the GPU model where there is one. Read from the OS, never from the adapter, which may be a software one.

export interface HostInfo {
  /** /proc/cpuinfo's "model name" (e.g. "AMD EPYC 7B13"), else the OS and architecture. */
  cpu: string;
  /** Logical cores this process may use. */
  cores?: number;
  /** The GPU model(s), where the machine has one the OS names (NVIDIA's driver in /proc). */
  gpu?: string;
}

/** The CPU model in a /proc/cpuinfo text: "model name" (x86), else "Hardware" or "Model" (ARM boards). */
export function cpuModelOf(cpuinfo: string): string | undefined {
  for (const key of ["model name", "Hardware", "Model"]) {
    const match = new RegExp(`^${key}\\s*:\\s*(.+)$`, "m").exec(cpuinfo);
    if (match && match[1].trim()) return match[1].trim().replace(/\s+/g, " ");
  }
  return undefined;
}

/** "NVIDIA H100 80GB HBM3", or "2x NVIDIA A100-SXM4-40GB" for several of one model. */
export function gpuModelsOf(models: string[]): string | undefined {
  if (models.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const model of models) counts.set(model, (counts.get(model) ?? 0) + 1);
  return [...counts].map(([model, n]) => (n > 1 ? `${n}x ${model}` : model)).join(", ");
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** The NVIDIA driver's model names (/proc/driver/nvidia/gpus/<bus id>/information, "Model:" lines). */
async function nvidiaModels(): Promise<string[]> {
  const root = "/proc/driver/nvidia/gpus";
  const models: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      const text = await readText(`${root}/${entry.name}/information`);
      const model = text && /^Model:\s*(.+)$/m.exec(text)?.[1].trim();
      if (model) models.push(model);
    }
  } catch {
    // No NVIDIA driver: no GPU this can name.
  }
  return models.sort();
}

function osDescription(): string {
  try {
    return `${Deno.build.os} ${Deno.osRelease()}, ${Deno.build.arch}`;
  } catch {
    return "unknown";
  }
}

let cached: Promise<HostInfo> | undefined;

/** This machine, read once per process. */
export function describeHost(): Promise<HostInfo> {
  cached ??= (async () => {
    const cpuinfo = await readText("/proc/cpuinfo");
    const gpu = gpuModelsOf(await nvidiaModels());
    return {
      cpu: (cpuinfo && cpuModelOf(cpuinfo)) ?? `unknown CPU (${osDescription()})`,
      cores: navigator.hardwareConcurrency,
      ...(gpu ? { gpu } : {}),
    };
  })();
  return cached;
}

/** "AMD EPYC, 2 cores" (and ", GPU NVIDIA H100 80GB HBM3"): the host in one phrase for pages and logs. */
export function formatHost(host: HostInfo): string {
  return [host.cpu, host.cores ? `${host.cores} cores` : "", host.gpu ? `GPU ${host.gpu}` : ""]
    .filter(Boolean).join(", ");
}
