// The head of the bench JSON names the machine: the adapter, and beside it the host's CPU model (and GPU model
// where the OS names one), as the pipeline's provenance does.

import { assert, assertMatch, assertStrictEquals } from "@std/assert";
import { benchHeader, describeHeader } from "../bench/header.ts";
import { cpuModelOf } from "../src/pipeline/host.ts";
import type { AdapterReport } from "../src/gpu/device.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

Deno.test("bench JSON header: the adapter, the CPU model and cores, Deno and the commit", async () => {
  const adapter: AdapterReport = {
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "",
    architecture: "",
    backend: "vulkan",
    isFallback: false,
    isSoftware: true,
    limits: { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 },
  };
  const header = JSON.parse(JSON.stringify(await benchHeader(adapter, ROOT, 5)));
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = cpuModelOf(cpuinfo);
  if (model) assertStrictEquals(header.host.cpu, model);
  assert(header.host.cpu && header.host.cores >= 1, JSON.stringify(header.host));
  assert(header.adapterName.startsWith(adapter.description));
  assertMatch(header.commit, /^[0-9a-f]{40}( \(modified\))?$/);
  assertStrictEquals(header.repetitions.timed, 5);
  assertMatch(describeHeader(header).join("\n"), new RegExp(`^host: .*${header.host.cores} cores`, "m"));
});
