// Acquires a WebGPU adapter and device with the adapter's own maximum limits, and describes what it found.

/** What describeAdapter found out about a WebGPU adapter. */
export interface AdapterReport {
  /** The driver's description, else the device or vendor name, else "unknown adapter". */
  description: string;
  /** GPUAdapterInfo.vendor ("" when not reported). */
  vendor: string;
  /** GPUAdapterInfo.architecture ("" when not reported). */
  architecture: string;
  /** DENO_WEBGPU_BACKEND ("default (vulkan when present, else gl)" when unset), or "browser". */
  backend: string;
  /** The runtime flagged it a fallback adapter (isFallbackAdapter); it then counts as software too. */
  isFallback: boolean;
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader): picks the kernel variants tuned for CPUs. */
  isSoftware: boolean;
  /** Every numeric limit the adapter offers (GPUSupportedLimits), by name. */
  limits: Record<string, number>;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|warp|cpu/i;

export const NO_ADAPTER_HELP = [
  "No WebGPU adapter was found.",
  "On a machine without a GPU install Mesa's software drivers and retry:",
  "  apt-get install -y mesa-vulkan-drivers libegl-mesa0 libgl1-mesa-dri",
  "Deno then finds llvmpipe (Vulkan lavapipe, or GL via EGL with DENO_WEBGPU_BACKEND=gl).",
  "With a GPU, check that its Vulkan driver (ICD) is installed: vulkaninfo --summary.",
].join("\n");

/** Reads an adapter's name, backend and limits, and decides from its name whether it is a CPU rasteriser. */
export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, number>)[key];
    if (typeof value === "number") limits[key] = value;
  }
  const description = info.description || info.device || info.vendor || "unknown adapter";
  const backend = typeof Deno !== "undefined"
    ? (Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default (vulkan when present, else gl)")
    : "browser";
  // deno-lint-ignore no-explicit-any
  const isFallback = Boolean((info as any).isFallbackAdapter ?? (adapter as any).isFallbackAdapter);
  return {
    description,
    vendor: String(info.vendor ?? ""),
    architecture: String(info.architecture ?? ""),
    backend,
    isFallback,
    isSoftware: isFallback || SOFTWARE_NAMES.test(`${description} ${info.vendor} ${info.architecture}`),
    limits,
  };
}

/** Requests every limit the adapter offers: the defaults (128 MiB bindings, 16 KiB shared memory) are too small. */
export async function acquireDevice(
  options: { powerPreference?: GPUPowerPreference } = {},
): Promise<{ adapter: GPUAdapter; device: GPUDevice; report: AdapterReport }> {
  if (typeof navigator === "undefined" || !navigator.gpu) {
    throw new Error(`WebGPU is not available in this runtime.\n${NO_ADAPTER_HELP}`);
  }
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  const report = describeAdapter(adapter);
  const requiredLimits: Record<string, number> = {};
  for (
    const key of [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupSizeY",
      "maxComputeWorkgroupSizeZ",
      "maxStorageBuffersPerShaderStage",
      "maxComputeWorkgroupsPerDimension",
    ]
  ) {
    if (key in report.limits) requiredLimits[key] = report.limits[key];
  }
  // Timestamps let the benchmark time each kernel on the GPU itself.
  const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return { adapter, device, report };
}

/** One log line: name, backend, fallback/software flags, binding and buffer limits, workgroup storage. */
export function formatAdapter(report: AdapterReport): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  return `${report.description} [backend ${report.backend}${report.isFallback ? ", fallback" : ""}${
    report.isSoftware ? ", software" : ""
  }] maxStorageBufferBindingSize ${mib(report.limits.maxStorageBufferBindingSize ?? 0)}, maxBufferSize ${
    mib(report.limits.maxBufferSize ?? 0)
  }, workgroup storage ${report.limits.maxComputeWorkgroupStorageSize ?? "?"} B`;
}
