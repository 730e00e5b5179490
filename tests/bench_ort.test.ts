// The ONNX Runtime Web peer of `deno task bench` (bench/ort_peer.ts): its column in the side-by-side table and
// the JSON comparison rows, the cache key of the exported nets, and the ways it can be missing (package,
// Python/torch for the export), each an {ok: false} with the install line instead of a crash. Nothing here
// times anything or opens a session.
import { assert, assertEquals, assertMatch, assertNotEquals, assertStrictEquals } from "@std/assert";
import { parseBenchArgs, PARTS } from "../bench/cli.ts";
import { comparisonRows, formatComparison, TORCH_INSTALL, type Workload } from "../bench/peers.ts";
import {
  bestSetup,
  describeOrtFailure,
  lastJsonLine,
  loadOrt,
  onnxCachePath,
  ORT_INSTALL,
  ORT_VERSION,
  runOrtPeer,
} from "../bench/ort_peer.ts";
import { cifarAlexnet } from "../src/models/cifar.ts";

const cifar = cifarAlexnet({ inputSize: 32 });
const W = (id: string, mode: "forward" | "train" = "forward"): Workload => ({
  id,
  label: `label of ${id}`,
  spec: cifar,
  batch: 2,
  mode,
});

Deno.test("bench ORT: comparison rows carry ORT's images/s and ours / ORT, null where it did not run", () => {
  const ws = [W("a"), W("b"), W("c")];
  const ours = new Map([["a", 10], ["b", 30]]); // c not timed by us: no row
  const rows = comparisonRows(ws, ours, new Map(), new Map([["b", 60]]), new Map([["a", 4], ["c", 1]]));
  assertEquals(rows.map((r) => r.id), ["a", "b"]);
  assertStrictEquals(rows[0].ortImagesPerSec, 4);
  assertStrictEquals(rows[0].oursOverOrt, 2.5);
  assertStrictEquals(rows[0].pytorchImagesPerSec, null);
  assertStrictEquals(rows[1].ortImagesPerSec, null);
  assertStrictEquals(rows[1].oursOverOrt, null);
  assertStrictEquals(rows[1].oursOverPytorch, 0.5);
  // Callers that pass no ORT map get the ORT cells null, not missing.
  const old = comparisonRows(ws, ours, new Map(), new Map());
  assertEquals(old.map((r) => [r.ortImagesPerSec, r.oursOverOrt]), [[null, null], [null, null]]);
});

Deno.test("bench ORT: the table has an ORT column beside TF.js and PyTorch", () => {
  const rows = comparisonRows(
    [W("a"), W("b")],
    new Map([["a", 10], ["b", 30]]),
    new Map(),
    new Map([["b", 60]]),
    new Map([["a", 4]]),
  );
  const table = formatComparison(rows, { tfjs: "(not run)", pytorch: "torch CPU", ort: "1.30.0, WebGPU EP" });
  const lines = table.split("\n");
  assertStrictEquals(lines.length, 4);
  assertMatch(
    lines[0],
    /workload\s+ours images\/s\s+TF\.js \(not run\)\s+PyTorch torch CPU\s+ORT Web 1\.30\.0, WebGPU EP$/,
  );
  assertMatch(lines[2], /^ {2}label of a\s+10\.00\s+-\s+-\s+4\.00 \(ours 2\.50x\)$/);
  assertMatch(lines[3], /^ {2}label of b\s+30\.00\s+-\s+60\.00 \(ours 0\.50x\)\s+-$/);
  assertMatch(formatComparison(rows, { tfjs: "x", pytorch: "y" }).split("\n")[0], /ORT Web \(not run\)$/);
});

Deno.test("bench ORT: an exported net's cache file is keyed by what the export depends on, not the batch", async () => {
  const base = {
    name: "cifar-alexnet",
    module: "class Net: ...",
    input: [3, 32, 32],
    opset: 13,
    exporter: "v1",
  };
  const dir = "/cache/bench-onnx";
  const p = await onnxCachePath({ ...base, dir });
  assertMatch(p, /^\/cache\/bench-onnx\/cifar-alexnet-[0-9a-f]{16}\.onnx$/);
  assertStrictEquals(await onnxCachePath({ ...base, dir }), p, "the same net gives the same file");
  for (
    const changed of [
      { module: "class Net: pass" },
      { input: [3, 24, 24] },
      { opset: 17 },
      { exporter: "v2" },
    ]
  ) {
    assertNotEquals(await onnxCachePath({ ...base, ...changed, dir }), p, JSON.stringify(changed));
  }
  assertMatch(await onnxCachePath({ ...base, name: "a/b c", dir }), /\/a_b_c-[0-9a-f]{16}\.onnx$/);
});

Deno.test("bench ORT: a peer's answer is the JSON object on its last stdout line", () => {
  assertEquals(lastJsonLine('chatter\n{"ok":true,"x":1}\n'), { ok: true, x: 1 });
  assertStrictEquals(lastJsonLine('{"ok":true}\nsome trailing chatter'), undefined);
  assertStrictEquals(lastJsonLine(""), undefined);
  assertStrictEquals(lastJsonLine("[1,2]"), undefined);
});

Deno.test("bench ORT: a package that will not load is {ok: false} with the install line", async () => {
  const r = await loadOrt(() => import(`file:///nonexistent-${crypto.randomUUID()}/ort.webgpu.mjs`));
  assertStrictEquals(r.ok, false);
  if (r.ok) return;
  assertStrictEquals(r.missing, "onnxruntime-web");
  assertStrictEquals(r.install, ORT_INSTALL);
  assertStrictEquals(ORT_INSTALL, `deno add npm:onnxruntime-web@${ORT_VERSION}`);
  assertMatch(
    describeOrtFailure(r),
    /^ONNX Runtime Web is not available \(onnxruntime-web: .+\); to time it beside ours, install with `deno add npm:onnxruntime-web@1\.30\.0`$/,
  );
  assertStrictEquals(
    describeOrtFailure({ ok: false, reason: "WebGPU EP failed" }),
    "ONNX Runtime Web could not run: WebGPU EP failed",
  );
});

Deno.test("bench ORT: the package deno.json pins is the version the peer names, and it loads", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assertStrictEquals(config.imports["onnxruntime-web"], `npm:onnxruntime-web@${ORT_VERSION}`);
  const r = await loadOrt();
  assert(r.ok, JSON.stringify(r));
  assertStrictEquals(r.ort.env.versions.web, ORT_VERSION);
  assertStrictEquals(typeof r.ort.InferenceSession.create, "function");
});

Deno.test("bench ORT: without the Python that exports the nets, the peer says how to install it", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "bench-ort-test-" });
  try {
    const r = await runOrtPeer([W("cifar32-forward2")], {
      python: `${cacheDir}/no-such-python3`,
      reps: 1,
      cacheDir,
    });
    assertStrictEquals(r.ok, false);
    if (r.ok) return;
    assertStrictEquals(r.missing, "torch");
    assertStrictEquals(r.install, TORCH_INSTALL);
    assertMatch(r.reason, /no-such-python3: not found/);
    assertMatch(
      describeOrtFailure(r),
      /install with `apt-get install -y python3-torch libopenblas0-pthread`/,
    );
    assertEquals([...Deno.readDirSync(cacheDir)], [], "nothing half-exported is left in the cache");
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("bench ORT: training steps are not the ORT peer's, and leave Python unstarted", async () => {
  const r = await runOrtPeer([W("cifar32-train2", "train")], { python: "/nonexistent/python3", reps: 1 });
  assertStrictEquals(r.ok, false);
  if (r.ok) return;
  assertMatch(r.reason, /inference only/);
  assertStrictEquals(r.install, undefined);
});

Deno.test("bench ORT: the ort part in --only and --skip-ort", () => {
  assert((PARTS as readonly string[]).includes("ort"));
  assert(parseBenchArgs([]).only.has("ort"));
  assert(!parseBenchArgs(["--skip-ort"]).only.has("ort"));
  assertEquals([...parseBenchArgs(["--only", "cifar,ort"]).only], ["cifar", "ort"]);
  assert(!parseBenchArgs(["--only", "cifar,ort", "--skip-ort"]).only.has("ort"));
});

Deno.test("bench ORT: the headline is the faster setup that ran, named, with every setup's result kept", () => {
  const ok = (ips: number) => ({ ok: true, imagesPerSec: ips, msMedian: 1000 / ips, batch: 1 });
  const both = bestSetup({ default: ok(2), "graph capture": ok(3) });
  assertStrictEquals(both.imagesPerSec, 3);
  assertStrictEquals(both.setup, "graph capture");
  assertEquals(both.setups, {
    default: { imagesPerSec: 2, msMedian: 500 },
    "graph capture": { imagesPerSec: 3, msMedian: 1000 / 3 },
  });
  // A setup that failed (graph capture refuses some nets) leaves the other as the headline, its reason kept.
  const one = bestSetup({ default: ok(2), "graph capture": { ok: false, reason: "unsupported op" } });
  assertStrictEquals(one.setup, "default");
  assertStrictEquals(one.imagesPerSec, 2);
  assertEquals(one.setups?.["graph capture" as never], { reason: "unsupported op" });
  // Neither ran: a failure naming both reasons, never a number.
  const none = bestSetup({
    default: { ok: false, reason: "a" },
    "graph capture": { ok: false, reason: "b" },
  });
  assertStrictEquals(none.ok, false);
  assertStrictEquals(none.imagesPerSec, undefined);
  assertMatch(none.reason!, /default: a; graph capture: b/);
});
