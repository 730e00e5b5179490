// Cross-checks the CPU reference against PyTorch values (float64) from tools/make_torch_fixtures.py.
import { assert, assertStrictEquals } from "@std/assert";
import {
  avgPoolBackward,
  avgPoolForward,
  conv2dBackward,
  conv2dForward,
  type Conv2dShape,
  linearBackward,
  linearForward,
  type LinearShape,
  localBackward,
  localForward,
  lrnCrossMapBackward,
  lrnCrossMapForward,
  type LrnParams,
  type LrnShape,
  lrnWithinMapBackward,
  lrnWithinMapForward,
  maxPoolBackward,
  maxPoolForward,
  maxRelError,
  type PoolShape,
  reluBackward,
  reluForward,
  softmaxCrossEntropy,
  tanhBackward,
  tanhForward,
} from "../src/reference/index.ts";

// Both sides compute in float64; only summation order differs.
const TOL = 1e-10;

interface Entry {
  shape: number[];
  offset: number;
  length: number;
}
interface Case {
  params: Record<string, unknown>;
  arrays: Record<string, Entry>;
}

const dir = new URL("./fixtures/", import.meta.url);
const manifest = JSON.parse(await Deno.readTextFile(new URL("torch_reference.json", dir))) as {
  bin: string;
  cases: Record<string, Case>;
};
const bytes = await Deno.readFile(new URL(manifest.bin, dir));
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Reads one stored array; decoded explicitly as little-endian so host byte order does not matter. */
function arr(c: Case, name: string): Float64Array {
  const e = c.arrays[name];
  assert(e, `fixture array ${name} missing`);
  const a = new Float64Array(e.length);
  for (let i = 0; i < e.length; i++) a[i] = view.getFloat64(8 * (e.offset + i), true);
  return a;
}

function close(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = TOL): void {
  assertStrictEquals(got.length, want.length, `${label}: length`);
  const err = maxRelError(got, want);
  assert(err < tol, `${label}: max rel error ${err}`);
}

function casesWith(prefix: string): [string, Case][] {
  const list = Object.entries(manifest.cases).filter(([name]) => name.startsWith(prefix));
  assert(list.length > 0, `no fixtures named ${prefix}*`);
  return list;
}

Deno.test("torch fixtures: conv2d forward and backward", () => {
  for (const [name, c] of casesWith("conv_")) {
    const s = c.params as unknown as Conv2dShape;
    const x = arr(c, "x"), w = arr(c, "w"), b = arr(c, "b"), dy = arr(c, "dy");
    close(`${name} y`, conv2dForward(x, w, b, s), arr(c, "y"));
    const g = conv2dBackward(x, w, dy, s);
    close(`${name} dx`, g.dx, arr(c, "dx"));
    close(`${name} dw`, g.dw, arr(c, "dw"));
    close(`${name} db`, g.db, arr(c, "db"));
  }
});

Deno.test("torch fixtures: conv2d accepts float32 inputs", () => {
  const [name, c] = casesWith("conv_g2")[0];
  const s = c.params as unknown as Conv2dShape;
  const x32 = Float32Array.from(arr(c, "x")), w32 = Float32Array.from(arr(c, "w"));
  close(
    `${name} y (float32 inputs)`,
    conv2dForward(x32, w32, Float32Array.from(arr(c, "b")), s),
    arr(c, "y"),
    1e-5,
  );
});

Deno.test("torch fixtures: unshared local layer (unfold) forward and backward", () => {
  for (const [name, c] of casesWith("local_")) {
    const s = c.params as unknown as Conv2dShape;
    const x = arr(c, "x"), w = arr(c, "w"), b = arr(c, "b"), dy = arr(c, "dy");
    close(`${name} y`, localForward(x, w, b, s), arr(c, "y"));
    const g = localBackward(x, w, dy, s);
    close(`${name} dx`, g.dx, arr(c, "dx"));
    close(`${name} dw`, g.dw, arr(c, "dw"));
    close(`${name} db`, g.db, arr(c, "db"));
  }
});

Deno.test("torch fixtures: linear forward and backward", () => {
  const [, c] = casesWith("linear")[0];
  const s = c.params as unknown as LinearShape;
  const x = arr(c, "x"), w = arr(c, "w"), b = arr(c, "b");
  close("linear y", linearForward(x, w, b, s), arr(c, "y"));
  const g = linearBackward(x, w, arr(c, "dy"), s);
  close("linear dx", g.dx, arr(c, "dx"));
  close("linear dw", g.dw, arr(c, "dw"));
  close("linear db", g.db, arr(c, "db"));
});

Deno.test("torch fixtures: max pool (ceil, floor, padding, dropped last window)", () => {
  for (const [name, c] of casesWith("maxpool_")) {
    const s = c.params as unknown as PoolShape;
    const x = arr(c, "x");
    close(`${name} y`, maxPoolForward(x, s).y, arr(c, "y"));
    close(`${name} dx`, maxPoolBackward(arr(c, "dy"), x, s), arr(c, "dx"));
  }
});

Deno.test("torch fixtures: avg pool, count_include_pad=False", () => {
  for (const [name, c] of casesWith("avgpool_")) {
    const s = c.params as unknown as PoolShape;
    close(`${name} y`, avgPoolForward(arr(c, "x"), s), arr(c, "y"));
    close(`${name} dx`, avgPoolBackward(arr(c, "dy"), s), arr(c, "dx"));
  }
});

Deno.test("torch fixtures: cross-map and within-map LRN", () => {
  const kinds = [
    ["lrn_cross_", lrnCrossMapForward, lrnCrossMapBackward],
    ["lrn_within_", lrnWithinMapForward, lrnWithinMapBackward],
  ] as const;
  for (const [prefix, fwd, bwd] of kinds) {
    for (const [name, c] of casesWith(prefix)) {
      const { shape, lrn } = c.params as { shape: LrnShape; lrn: LrnParams };
      const x = arr(c, "x");
      close(`${name} y`, fwd(x, shape, lrn), arr(c, "y"));
      close(`${name} dx`, bwd(x, arr(c, "dy"), shape, lrn), arr(c, "dx"));
    }
  }
});

Deno.test("torch fixtures: softmax cross-entropy", () => {
  const [, c] = casesWith("softmax_xent")[0];
  const p = c.params as {
    n: number;
    classes: number;
    labels: number[];
    loss: number;
    top1: number;
    top5: number;
  };
  const r = softmaxCrossEntropy(arr(c, "logits"), Int32Array.from(p.labels), p.n, p.classes);
  close("softmax loss", [r.loss], [p.loss]);
  close("softmax dlogits", r.dlogits, arr(c, "dlogits"));
  assertStrictEquals(r.top1, p.top1);
  assertStrictEquals(r.top5, p.top5);
});

Deno.test("torch fixtures: relu and tanh", () => {
  const relu = manifest.cases["relu"], tanh = manifest.cases["tanh"];
  const rx = arr(relu, "x"), tx = arr(tanh, "x");
  close("relu y", reluForward(rx), arr(relu, "y"));
  close("relu dx", reluBackward(rx, arr(relu, "dy")), arr(relu, "dx"));
  const ty = tanhForward(tx);
  close("tanh y", ty, arr(tanh, "y"));
  close("tanh dx", tanhBackward(ty, arr(tanh, "dy")), arr(tanh, "dx"));
});
