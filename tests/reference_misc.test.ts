// Hash, dropout, SGD, output sizes, top-k ties, mean subtraction, and layer identities of the CPU reference.
import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import {
  conv2dForward,
  convOutSize,
  dropoutBackward,
  dropoutForward,
  localForward,
  maxPoolBackward,
  maxPoolForward,
  maxRelError,
  meanSubtract,
  pcgHash,
  randomArray,
  sgdStep,
  softmaxCrossEntropy,
  uniform01,
} from "../src/reference/index.ts";

Deno.test("pcgHash known values", () => {
  // By hand (exact integer arithmetic mod 2^32):
  // v=0: state = 0*747796405 + 2891336453 = 2891336453; shift = (state >>> 28) + 4 = 10 + 4 = 14;
  //   (state >>> 14) ^ state = 176473 ^ 2891336453 = 2891250268; word = 2891250268 * 277803737 mod 2^32 = 129708028;
  //   (word >>> 22) ^ word = 30 ^ 129708028 = 129708002.
  assertStrictEquals(pcgHash(0), 129708002);
  // v=1: state = 747796405 + 2891336453 = 3639132858; shift = 13 + 4 = 17;
  //   (state >>> 17) ^ state = 27764 ^ 3639132858 = 3639127758; word = 3639127758 * 277803737 mod 2^32 = 2831083678;
  //   (word >>> 22) ^ word = 674 ^ 2831083678 = 2831084092 (>= 2^31: the result must stay unsigned).
  assertStrictEquals(pcgHash(1), 2831084092);
  // v=2^32-1 wraps: state = (2^32-1)*747796405 + 2891336453 mod 2^32 = 2143540048 -> 3861530882.
  assertStrictEquals(pcgHash(0xffffffff), 3861530882);
  assertStrictEquals(pcgHash(-1), 3861530882, "negative inputs are taken mod 2^32");
  // uniform01(42, 7, 123) = (pcg(123 ^ pcg(42 + pcg(7))) >>> 8) / 2^24 = 7421498 / 16777216.
  assertStrictEquals(uniform01(42, 7, 123), 7421498 / 16777216);
});

Deno.test("uniform01 range and mean", () => {
  let sum = 0, min = 1, max = 0;
  for (let i = 0; i < 100000; i++) {
    const u = uniform01(3, 1, i);
    sum += u;
    min = Math.min(min, u);
    max = Math.max(max, u);
  }
  assert(min >= 0 && max < 1);
  assert(Math.abs(sum / 100000 - 0.5) < 0.005, `mean ${sum / 100000}`);
});

Deno.test("dropout masks: deterministic, counter-dependent, keep rate 1-p", () => {
  const n = 100000, p = 0.5;
  const x = new Float64Array(n).fill(1);
  const a = dropoutForward(x, p, 1234, 0),
    b = dropoutForward(x, p, 1234, 0),
    c = dropoutForward(x, p, 1234, 1);
  const d = dropoutForward(x, p, 1235, 0);
  assertEquals(a.mask, b.mask);
  assertEquals(a.y, b.y);
  let kept = 0, sameC = 0, sameD = 0;
  for (let i = 0; i < n; i++) {
    kept += a.mask[i];
    if (a.mask[i] === c.mask[i]) sameC++;
    if (a.mask[i] === d.mask[i]) sameD++;
    assertStrictEquals(a.y[i], a.mask[i] ? 2 : 0);
  }
  // Binomial std of the keep rate is 0.0016 here; independent masks agree on about half the elements.
  assert(Math.abs(kept / n - (1 - p)) < 0.01, `keep rate ${kept / n}`);
  assert(Math.abs(sameC / n - 0.5) < 0.01, `mask agreement across counters ${sameC / n}`);
  assert(Math.abs(sameD / n - 0.5) < 0.01, `mask agreement across seeds ${sameD / n}`);
  const p2 = 0.2, e = dropoutForward(x, p2, 9, 3);
  const keep2 = e.mask.reduce((s, m) => s + m, 0) / n;
  assert(Math.abs(keep2 - 0.8) < 0.01, `keep rate ${keep2}`);
  const dx = dropoutBackward(new Float64Array(n).fill(2), e.mask, p2);
  for (let i = 0; i < 10; i++) assertStrictEquals(dx[i], e.mask[i] ? 2 / 0.8 : 0);
  // p = 0 keeps everything unscaled; p = 1 drops everything without NaN.
  assertEquals(dropoutForward(x, 0, 1, 1).y, x);
  assert(dropoutForward(x.subarray(0, 100), 1, 1, 1).y.every((v) => v === 0));
});

Deno.test("sgd: one step by hand", () => {
  const w = Float64Array.of(1, -2), v = Float64Array.of(0.5, 0), g = Float64Array.of(0.25, -1);
  sgdStep(w, v, g, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  // v0 = 0.9*0.5 - 0.01*0.1*1 - 0.1*0.25 = 0.45 - 0.001 - 0.025 = 0.424; w0 = 1.424
  // v1 = 0 - 0.01*0.1*(-2) - 0.1*(-1) = 0.002 + 0.1 = 0.102; w1 = -1.898
  assert(maxRelError(v, [0.424, 0.102], 1e-12) < 1e-14);
  assert(maxRelError(w, [1.424, -1.898], 1e-12) < 1e-14);
  const w32 = Float32Array.of(1), v32 = Float32Array.of(0);
  sgdStep(w32, v32, Float32Array.of(1), { lr: 0.5, momentum: 0.9, weightDecay: 0 });
  assertEquals([w32[0], v32[0]], [0.5, -0.5]);
});

Deno.test("convOutSize: floor, ceil and the dropped last window", () => {
  // AlexNet: 227 -> conv1 55 -> pool 27 -> pool 13 -> pool 6; 224 with pad 2 also gives 55.
  assertStrictEquals(convOutSize(227, 11, 4, 0), 55);
  assertStrictEquals(convOutSize(224, 11, 4, 2), 55);
  assertStrictEquals(convOutSize(55, 3, 2, 0, true), 27);
  assertStrictEquals(convOutSize(27, 3, 2, 0, true), 13);
  assertStrictEquals(convOutSize(13, 3, 2, 0, true), 6);
  assertStrictEquals(convOutSize(8, 3, 2, 0, false), 3);
  assertStrictEquals(convOutSize(8, 3, 2, 0, true), 4);
  // ceil gives 4, but the 4th window would start at 6 - 1 = 5 = past the input: dropped.
  assertStrictEquals(convOutSize(5, 2, 2, 1, true), 3);
  assertThrows(() => convOutSize(2, 5, 1, 1));
});

Deno.test("max pool ties: the first maximum in row-major window order gets the gradient", () => {
  const s = { n: 1, c: 1, h: 3, w: 3, k: 2, stride: 1, pad: 0, ceil: false };
  const x = Float64Array.of(0, 5, 5, 5, 5, 1, 2, 2, 2);
  const { y, argmax } = maxPoolForward(x, s);
  assertEquals([...y], [5, 5, 5, 5]);
  assertEquals([...argmax], [1, 1, 3, 4]);
  assertEquals([...maxPoolBackward(Float64Array.of(1, 2, 3, 4), x, s)], [0, 3, 0, 3, 4, 0, 0, 0, 0]);
});

Deno.test("softmax cross-entropy: known values and top-k ties", () => {
  // Equal logits: loss = log(classes), gradient 1/classes - onehot, averaged over the batch.
  const r = softmaxCrossEntropy(new Float64Array(8), Int32Array.of(0, 3), 2, 4);
  assert(Math.abs(r.loss - Math.log(4)) < 1e-15);
  assertEquals([...r.dlogits], [-0.375, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, -0.375]);
  // Ties with the label's logit count as correct (only strictly greater logits count against it).
  assertStrictEquals(r.top1, 2);
  assertStrictEquals(r.top5, 2);
  // Label logit 2 with 5 strictly greater -> top5 wrong; with 4 greater -> top5 right, top1 wrong.
  const z = Float64Array.of(3, 3, 3, 3, 3, 2, 2, 1, 3, 3, 3, 3, 2, 2, 2, 1);
  const t = softmaxCrossEntropy(z, Uint32Array.of(5, 4), 2, 8);
  assertStrictEquals(t.top1, 0);
  assertStrictEquals(t.top5, 1);
  // Huge logits must not overflow.
  const big = softmaxCrossEntropy(Float64Array.of(1000, 0), Int32Array.of(1), 1, 2);
  assert(Math.abs(big.loss - 1000) < 1e-9);
});

Deno.test("meanSubtract: per-image mean and per-channel mean", () => {
  const x = Float64Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
  const img = meanSubtract(x, Float64Array.from({ length: 6 }, (_, i) => i), 2, true);
  assertEquals([...img], [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6]);
  const ch = meanSubtract(x, Float32Array.of(1, 10), 2, false);
  assertEquals([...ch], [-1, 0, 1, -7, -6, -5, 5, 6, 7, -1, 0, 1]);
  assertThrows(() => meanSubtract(x, new Float64Array(5), 2, true));
});

Deno.test("local layer with identical filters at every position equals conv2d", () => {
  const s = { n: 2, cin: 3, h: 7, w: 6, cout: 4, kh: 3, kw: 2, stride: 2, pad: 1, groups: 1 };
  const oh = convOutSize(s.h, s.kh, s.stride, s.pad), ow = convOutSize(s.w, s.kw, s.stride, s.pad);
  const x = randomArray(s.n * s.cin * s.h * s.w, 1), w = randomArray(s.cout * s.cin * s.kh * s.kw, 2);
  const b = randomArray(s.cout, 3);
  const wl = new Float64Array(oh * ow * w.length), bl = new Float64Array(s.cout * oh * ow);
  for (let p = 0; p < oh * ow; p++) wl.set(w, p * w.length);
  for (let c = 0; c < s.cout; c++) bl.fill(b[c], c * oh * ow, (c + 1) * oh * ow);
  assert(maxRelError(localForward(x, wl, bl, s), conv2dForward(x, w, b, s)) < 1e-14);
  assertThrows(() => localForward(x, wl, bl, { ...s, groups: 2 }));
});
