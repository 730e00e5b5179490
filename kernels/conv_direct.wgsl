// Direct convolution forward for layers with few input channels (conv1: 3 channels, 5x5 or 11x11 stride 4),
// where im2col + GEMM spends as long building and permuting matrices as multiplying them. One thread computes
// TM output channels x TN consecutive outputs of one output row, writing NCHW directly (bias added):
//   for each input channel c and kernel row kh: load the SEG input values the TN windows span in that row
//   (once, reused by every kw), then TM x TN x KW multiply-adds against TM x KW weights.
// SEG = (TN - 1) * STRIDE + KW. Loads are clamped and masked, not branched, so padding costs no divergence;
// rows of a multiple of 4 values load and store as vec4s (LOAD_ROW, STORE_ROW).

// count: images (forward, weight_grad) or elements (weights_t); perSlice: weight_grad's images per slice;
// relu: forward applies the ReLU after the layer (the same max as its own kernel, one pass less).
struct Params {
  count: u32, hasBias: u32, perSlice: u32, relu: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The weights transposed to [KP][COUTP] (kernel weights_t), so a thread's TM channels are TM / 4 vec4 loads.
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const C: u32 = {{C}};
const H: u32 = {{H}};
const W: u32 = {{W}};
const KH: u32 = {{KH}};
const KW: u32 = {{KW}};
const STRIDE: u32 = {{STRIDE}};
const PAD: u32 = {{PAD}};
const OH: u32 = {{OH}};
const OW: u32 = {{OW}};
const COUT: u32 = {{COUT}};
const KP: u32 = {{KP}};
const TM: u32 = {{TM}};
const TN: u32 = {{TN}};
const SEG: u32 = {{SEG}};
const COUTP: u32 = {{COUTP}};
const TM4: u32 = {{TM4}};

// gid.x: (image * OH + output row) * OWB + block of TN outputs along the row, so that narrow rows still fill
// every lane; gid.y: block of TM channels.
const OWB: u32 = (OW + TN - 1u) / TN;
@compute @workgroup_size(64, 1, 1)
fn forward(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x / OWB;
  let ow0 = (gid.x % OWB) * TN;
  let co0 = gid.y * TM;
  if (row >= p.count * OH) { return; }
  let n = row / OH;
  let oh = row % OH;
  let x0 = i32(ow0 * STRIDE) - i32(PAD);
  var acc: array<array<f32, TN>, TM>;
  for (var c = 0u; c < C; c++) {
    for (var kh = 0u; kh < KH; kh++) {
      let ih = i32(oh * STRIDE + kh) - i32(PAD);
      let rowOk = ih >= 0 && ih < i32(H);
      let rowBase = ((n * C + c) * H + u32(clamp(ih, 0, i32(H) - 1))) * W;
      let seg = {{LOAD_ROW}}(rowOk, rowBase, x0);
      let k0 = (c * KH + kh) * KW;
      //#unroll kw KW
      {
        var wk: array<vec4f, TM4>;
        //#unroll q TM4
        wk[{q}] = wt[(k0 + {kw}u) * (COUTP / 4u) + co0 / 4u + {q}u];
        //#end
        //#unroll j TN
        {
          let v = seg[{j} * STRIDE + {kw}];
          //#unroll q TM4
          //#unroll r 4
          acc[{q} * 4 + {r}][{j}] = fma(wk[{q}][{r}], v, acc[{q} * 4 + {r}][{j}]);
          //#end
          //#end
        }
        //#end
      }
      //#end
    }
  }
  //#unroll i TM
  {
    let co = co0 + {i}u;
    if (co < COUT) {
      let b = select(0.0, bias[co], p.hasBias != 0u);
      var out: array<f32, TN>;
      //#unroll j TN
      out[{j}] = acc[{i}][{j}] + b;
      if (p.relu != 0u) { out[{j}] = max(out[{j}], 0.0); }
      //#end
      {{STORE_ROW}}(((n * COUT + co) * OH + oh) * OW + ow0, ow0, out);
    }
  }
  //#end
}

// The SEG input values x0 .. x0 + SEG - 1 of one input row (rowBase its first element), zero outside it.
fn loadRowScalar(rowOk: bool, rowBase: u32, x0: i32) -> array<f32, SEG> {
  var seg: array<f32, SEG>;
  //#unroll s SEG
  {
    let ix = x0 + {s};
    let v = x[rowBase + u32(clamp(ix, 0, i32(W) - 1))];
    seg[{s}] = select(0.0, v, rowOk && ix >= 0 && ix < i32(W));
  }
  //#end
  return seg;
}

// The same from vec4 loads, for rows of a multiple of 4 values whose threads start at a multiple of 4
// (x0 + PAD): a quarter of the load instructions, which bound this kernel on CPU adapters. The run starts
// ALIGN_SHIFT values before x0 at a vec4 boundary; a vec4 lies wholly inside or outside the row.
const ALIGN_SHIFT: u32 = {{ALIGN_SHIFT}};
const SEG4: u32 = {{SEG4}};
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
fn loadRowVec4(rowOk: bool, rowBase: u32, x0: i32) -> array<f32, SEG> {
  let q0 = (x0 - i32(ALIGN_SHIFT)) / 4;
  var v: array<vec4f, SEG4>;
  //#unroll t SEG4
  {
    let q = q0 + {t};
    let inside = rowOk && q >= 0 && q < i32(W / 4u);
    v[{t}] = select(vec4f(0.0), x4[rowBase / 4u + u32(clamp(q, 0, i32(W / 4u) - 1))], inside);
  }
  //#end
  var seg: array<f32, SEG>;
  //#unroll s SEG
  seg[{s}] = v[({s} + ALIGN_SHIFT) / 4u][({s} + ALIGN_SHIFT) % 4u];
  //#end
  return seg;
}

// TN outputs of one row from y[base] (output column ow0), those inside the row.
fn storeRowScalar(base: u32, ow0: u32, out: array<f32, TN>) {
  //#unroll j TN
  if (ow0 + {j}u < OW) { y[base + {j}u] = out[{j}]; }
  //#end
}

// The same as vec4 stores, for rows of a multiple of 4 outputs (base and ow0 are then multiples of 4).
const TN4: u32 = {{TN4}};
@group(0) @binding(4) var<storage, read_write> y4: array<vec4f>;
fn storeRowVec4(base: u32, ow0: u32, out: array<f32, TN>) {
  //#unroll j TN4
  if (ow0 + {j}u * 4u < OW) {
    y4[base / 4u + {j}u] = vec4f(out[{j} * 4], out[{j} * 4 + 1], out[{j} * 4 + 2], out[{j} * 4 + 3]);
  }
  //#end
}

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wtOut: array<f32>;

// src: the layer's weights [COUT][KP]; dst: [KP][COUTP], zero past COUT. One thread per element of dst.
@compute @workgroup_size(64)
fn weights_t(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.count) { return; }
  let k = i / COUTP;
  let co = i % COUTP;
  wtOut[i] = select(0.0, w[min(co, COUT - 1u) * KP + k], co < COUT);
}

// Weight gradient of a first layer (no dx): dw[co][(c*KH + kh)*KW + kw] = sum over images, oh, ow of
// dy[n][co][oh][ow] * x[n][c][oh*STRIDE + kh - PAD][ow*STRIDE + kw - PAD]. One thread owns TMW channels x
// KHB kernel rows x KW taps of one input channel and sums over one slice of the batch (p.perSlice images); partial[slice][COUT][KP] is then summed over slices (reduce.wgsl's sum_slices). Per TNW outputs it
// loads TMW x TNW gradients and KHB input rows and does TMW x KHB x KW x TNW multiply-adds. The rows come from
// the forward's LOAD_ROW: SEG values, enough for max(TN, TNW) outputs.
const TMW: u32 = {{TMW}};
const TNW: u32 = {{TNW}};
const TNW4: u32 = {{TNW4}};
const KHB: u32 = {{KHB}};
const NKHB: u32 = KH / KHB;
const NCOB: u32 = (COUT + TMW - 1u) / TMW;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn weight_grad(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  let slice = gid.y;
  if (t >= NCOB * C * NKHB) { return; }
  let co0 = (t / (C * NKHB)) * TMW;
  let c = (t / NKHB) % C;
  let kh0 = (t % NKHB) * KHB;
  let n0 = slice * p.perSlice;
  let n1 = min(n0 + p.perSlice, p.count);
  var acc: array<array<f32, {{KHB_KW}}>, TMW>;
  for (var n = n0; n < n1; n++) {
    for (var oh = 0u; oh < OH; oh++) {
      for (var ow0 = 0u; ow0 < OW; ow0 += TNW) {
        let d = {{LOAD_DY}}(((n * COUT + co0) * OH + oh) * OW + ow0, ow0, co0);
        let x0 = i32(ow0 * STRIDE) - i32(PAD);
        //#unroll r KHB
        {
          let ih = i32(oh * STRIDE + kh0 + {r}u) - i32(PAD);
          let rowOk = ih >= 0 && ih < i32(H);
          let seg = {{LOAD_ROW}}(rowOk, ((n * C + c) * H + u32(clamp(ih, 0, i32(H) - 1))) * W, x0);
          //#unroll kw KW
          //#unroll j TNW
          //#unroll i TMW
          acc[{i}][{r} * KW + {kw}] = fma(d[{i}][{j}], seg[{j} * STRIDE + {kw}], acc[{i}][{r} * KW + {kw}]);
          //#end
          //#end
          //#end
        }
        //#end
      }
    }
  }
  let base = slice * ((COUT * KP + 3u) / 4u * 4u);
  //#unroll i TMW
  if (co0 + {i}u < COUT) {
    //#unroll r KHB
    //#unroll kw KW
    partial[base + (co0 + {i}u) * KP + (c * KH + kh0 + {r}u) * KW + {kw}u] = acc[{i}][{r} * KW + {kw}];
    //#end
    //#end
  }
  //#end
}

// TMW channels x TNW outputs of dy from `at` (channel co0, output column ow0); zero past the row or channels.
fn loadDyScalar(at: u32, ow0: u32, co0: u32) -> array<array<f32, TNW>, TMW> {
  var d: array<array<f32, TNW>, TMW>;
  //#unroll i TMW
  //#unroll j TNW
  {
    let ok = ow0 + {j}u < OW && co0 + {i}u < COUT;
    d[{i}][{j}] = select(0.0, dy[select(0u, at + {i}u * OH * OW + {j}u, ok)], ok);
  }
  //#end
  //#end
  return d;
}

// The same as vec4 loads, for rows of a multiple of 4 outputs.
fn loadDyVec4(at: u32, ow0: u32, co0: u32) -> array<array<f32, TNW>, TMW> {
  var d: array<array<f32, TNW>, TMW>;
  //#unroll i TMW
  //#unroll j TNW4
  {
    let ok = ow0 + {j}u * 4u < OW && co0 + {i}u < COUT;
    let v = select(vec4f(0.0), dy4[select(0u, at / 4u + {i}u * (OH * OW / 4u) + {j}u, ok)], ok);
    d[{i}][{j} * 4] = v.x;
    d[{i}][{j} * 4 + 1] = v.y;
    d[{i}][{j} * 4 + 2] = v.z;
    d[{i}][{j} * 4 + 3] = v.w;
  }
  //#end
  //#end
  return d;
}
