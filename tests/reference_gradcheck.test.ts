// Finite-difference checks of every CPU reference backward, for inputs and parameters, on awkward shapes.
// Loss = sum(y * r) for a fixed random r, so the analytic gradients come from backward(dy = r).
import { assert } from "@std/assert";
import {
  avgPoolBackward,
  avgPoolForward,
  conv2dBackward,
  conv2dForward,
  type Conv2dShape,
  dot,
  dropoutBackward,
  dropoutForward,
  linearBackward,
  linearForward,
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
  numericGradient,
  type PoolShape,
  randomArray,
  reluBackward,
  reluForward,
  softmaxCrossEntropy,
  tanhBackward,
  tanhForward,
} from "../src/reference/index.ts";

const TOL = 1e-6;

/**
 * Compares backward(inputs, r) against central differences of sum(forward(inputs) * r) for every input.
 * eps: large for functions linear in the checked input (only rounding matters), small for curved ones.
 */
function gradCheck(
  label: string,
  forward: (inputs: Float64Array[]) => Float64Array,
  backward: (inputs: Float64Array[], dy: Float64Array) => Float64Array[],
  inputs: Float64Array[],
  names: string[],
  eps: number,
  seed = 99,
): void {
  const y = forward(inputs);
  const r = randomArray(y.length, seed);
  const analytic = backward(inputs, r);
  for (let k = 0; k < inputs.length; k++) {
    const numeric = numericGradient(() => dot(forward(inputs), r), inputs[k], eps);
    const err = maxRelError(analytic[k], numeric);
    assert(err < TOL, `${label}: d${names[k]} max rel error ${err}`);
  }
}

/** Distinct values 0.01 apart in shuffled order: max pooling without ties, robust to eps = 1e-4. */
function distinctValues(n: number, seed: number): Float64Array {
  const keys = randomArray(n, seed);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b]);
  const v = new Float64Array(n);
  order.forEach((idx, rank) => v[idx] = (rank - n / 2) * 0.01);
  return v;
}

function conv(s: Partial<Conv2dShape> & Omit<Conv2dShape, "kw" | "groups">): Conv2dShape {
  return { kw: s.kh, groups: 1, ...s };
}

const convShapes: [string, Conv2dShape][] = [
  ["odd 7x9 batch 1, k3 pad 1", conv({ n: 1, cin: 3, h: 7, w: 9, cout: 4, kh: 3, stride: 1, pad: 1 })],
  [
    "batch 3, groups 2, stride 2",
    conv({ n: 3, cin: 4, h: 7, w: 9, cout: 6, kh: 3, stride: 2, pad: 1, groups: 2 }),
  ],
  [
    "groups 3, 2x3 kernel",
    conv({ n: 2, cin: 6, h: 5, w: 7, cout: 3, kh: 2, kw: 3, stride: 1, pad: 0, groups: 3 }),
  ],
  ["11x11 stride 4 pad 2", conv({ n: 1, cin: 2, h: 17, w: 19, cout: 3, kh: 11, stride: 4, pad: 2 })],
  ["k5 stride 3 pad 2", conv({ n: 2, cin: 2, h: 8, w: 7, cout: 2, kh: 5, stride: 3, pad: 2 })],
];

for (const [label, s] of convShapes) {
  Deno.test(`gradcheck conv2d: ${label}`, () => {
    const x = randomArray(s.n * s.cin * s.h * s.w, 1);
    const w = randomArray(s.cout * (s.cin / s.groups) * s.kh * s.kw, 2, 0.5);
    const b = randomArray(s.cout, 3);
    gradCheck(
      label,
      ([x, w, b]) => conv2dForward(x, w, b, s),
      ([x, w], dy) => {
        const g = conv2dBackward(x, w, dy, s);
        return [g.dx, g.dw, g.db];
      },
      [x, w, b],
      ["x", "w", "b"],
      1e-3,
    );
  });
}

const localShapes: [string, Conv2dShape][] = [
  ["7x9 k3 stride 2 pad 1", conv({ n: 1, cin: 2, h: 7, w: 9, cout: 3, kh: 3, stride: 2, pad: 1 })],
  ["batch 3, 2x3 kernel", conv({ n: 3, cin: 2, h: 6, w: 5, cout: 2, kh: 2, kw: 3, stride: 1, pad: 0 })],
  ["k5 stride 3 pad 2", conv({ n: 2, cin: 2, h: 8, w: 7, cout: 2, kh: 5, stride: 3, pad: 2 })],
];

for (const [label, s] of localShapes) {
  Deno.test(`gradcheck local: ${label}`, () => {
    const oh = Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1;
    const ow = Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1;
    const x = randomArray(s.n * s.cin * s.h * s.w, 4);
    const w = randomArray(oh * ow * s.cout * s.cin * s.kh * s.kw, 5, 0.5);
    const b = randomArray(s.cout * oh * ow, 6);
    gradCheck(
      label,
      ([x, w, b]) => localForward(x, w, b, s),
      ([x, w], dy) => {
        const g = localBackward(x, w, dy, s);
        return [g.dx, g.dw, g.db];
      },
      [x, w, b],
      ["x", "w", "b"],
      1e-3,
    );
  });
}

for (const s of [{ n: 1, inF: 5, outF: 3 }, { n: 3, inF: 7, outF: 4 }]) {
  Deno.test(`gradcheck linear: batch ${s.n}, ${s.inF} -> ${s.outF}`, () => {
    const x = randomArray(s.n * s.inF, 7), w = randomArray(s.outF * s.inF, 8), b = randomArray(s.outF, 9);
    gradCheck(
      "linear",
      ([x, w, b]) => linearForward(x, w, b, s),
      ([x, w], dy) => {
        const g = linearBackward(x, w, dy, s);
        return [g.dx, g.dw, g.db];
      },
      [x, w, b],
      ["x", "w", "b"],
      1e-3,
    );
  });
}

const poolShapes: [string, PoolShape][] = [
  ["k3 s2 floor, odd 7x9", { n: 1, c: 2, h: 7, w: 9, k: 3, stride: 2, pad: 0, ceil: false }],
  ["k3 s2 ceil, 8x10 batch 3", { n: 3, c: 2, h: 8, w: 10, k: 3, stride: 2, pad: 0, ceil: true }],
  ["k3 s2 floor, 8x10", { n: 1, c: 2, h: 8, w: 10, k: 3, stride: 2, pad: 0, ceil: false }],
  ["k3 s2 pad 1 ceil, 7x8", { n: 2, c: 1, h: 7, w: 8, k: 3, stride: 2, pad: 1, ceil: true }],
  ["k2 s2 pad 1 ceil, last window dropped", { n: 1, c: 2, h: 5, w: 5, k: 2, stride: 2, pad: 1, ceil: true }],
  ["k3 s3 floor, 8x8", { n: 1, c: 1, h: 8, w: 8, k: 3, stride: 3, pad: 0, ceil: false }],
  ["k3 s1 pad 1", { n: 1, c: 2, h: 5, w: 6, k: 3, stride: 1, pad: 1, ceil: false }],
];

for (const [label, s] of poolShapes) {
  Deno.test(`gradcheck max pool: ${label}`, () => {
    const x = distinctValues(s.n * s.c * s.h * s.w, 10);
    gradCheck(
      label,
      ([x]) => maxPoolForward(x, s).y,
      ([x], dy) => [maxPoolBackward(dy, x, s)],
      [x],
      ["x"],
      1e-4,
    );
  });
  Deno.test(`gradcheck avg pool: ${label}`, () => {
    const x = randomArray(s.n * s.c * s.h * s.w, 11);
    gradCheck(label, ([x]) => avgPoolForward(x, s), (_, dy) => [avgPoolBackward(dy, s)], [x], ["x"], 1e-3);
  });
}

const lrnCases: [string, LrnShape, LrnParams][] = [
  ["n5 paper k,beta, strong alpha", { n: 1, c: 7, h: 3, w: 4 }, { k: 2, n: 5, alpha: 0.05, beta: 0.75 }],
  ["n4 even window, batch 3", { n: 3, c: 6, h: 2, w: 3 }, { k: 1, n: 4, alpha: 0.1, beta: 0.5 }],
  ["n7 wider than 3 channels", { n: 1, c: 3, h: 3, w: 3 }, { k: 1.5, n: 7, alpha: 0.2, beta: 0.75 }],
  ["n1", { n: 2, c: 2, h: 2, w: 3 }, { k: 1, n: 1, alpha: 0.3, beta: 0.6 }],
];

for (const [label, sh, p] of lrnCases) {
  Deno.test(`gradcheck cross-map LRN: ${label}`, () => {
    const x = randomArray(sh.n * sh.c * sh.h * sh.w, 12, 2);
    gradCheck(
      label,
      ([x]) => lrnCrossMapForward(x, sh, p),
      ([x], dy) => [lrnCrossMapBackward(x, dy, sh, p)],
      [
        x,
      ],
      ["x"],
      1e-5,
    );
  });
}

const withinCases: [string, LrnShape, LrnParams][] = [
  ["n3 on 5x7", { n: 1, c: 2, h: 5, w: 7 }, { k: 1, n: 3, alpha: 0.05, beta: 0.75 }],
  ["n4 even window, batch 3", { n: 3, c: 1, h: 4, w: 5 }, { k: 2, n: 4, alpha: 0.1, beta: 0.5 }],
  ["n5 wider than 3x4", { n: 1, c: 2, h: 3, w: 4 }, { k: 1, n: 5, alpha: 0.1, beta: 0.75 }],
];

for (const [label, sh, p] of withinCases) {
  Deno.test(`gradcheck within-map LRN: ${label}`, () => {
    const x = randomArray(sh.n * sh.c * sh.h * sh.w, 13, 2);
    gradCheck(
      label,
      ([x]) => lrnWithinMapForward(x, sh, p),
      ([x], dy) => [lrnWithinMapBackward(x, dy, sh, p)],
      [
        x,
      ],
      ["x"],
      1e-5,
    );
  });
}

Deno.test("gradcheck relu and tanh", () => {
  // Keep relu inputs away from the kink at 0, where the derivative is undefined.
  const x = randomArray(50, 14, 2).map((v) => v + (v >= 0 ? 0.01 : -0.01));
  gradCheck("relu", ([x]) => reluForward(x), ([x], dy) => [reluBackward(x, dy)], [x], ["x"], 1e-4);
  gradCheck("relu from y", ([x]) => reluForward(x), ([x], dy) => [reluBackward(reluForward(x), dy)], [x], [
    "x",
  ], 1e-4);
  const t = randomArray(50, 15, 3);
  gradCheck(
    "tanh",
    ([x]) => tanhForward(x),
    ([x], dy) => [tanhBackward(tanhForward(x), dy)],
    [t],
    ["x"],
    1e-5,
  );
});

Deno.test("gradcheck dropout", () => {
  const p = 0.3, seed = 5, counter = 17;
  const x = randomArray(200, 16);
  const { mask } = dropoutForward(x, p, seed, counter);
  gradCheck(
    "dropout",
    ([x]) => dropoutForward(x, p, seed, counter).y,
    (_, dy) => [dropoutBackward(dy, mask, p)],
    [
      x,
    ],
    ["x"],
    1e-3,
  );
});

Deno.test("gradcheck softmax cross-entropy", () => {
  for (const [n, classes] of [[1, 5], [3, 11]]) {
    const z = randomArray(n * classes, 17, 3);
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + 2) % classes);
    const numeric = numericGradient((z) => softmaxCrossEntropy(z, labels, n, classes).loss, z, 1e-5);
    const err = maxRelError(softmaxCrossEntropy(z, labels, n, classes).dlogits, numeric);
    assert(err < TOL, `softmax n=${n}: max rel error ${err}`);
  }
});
