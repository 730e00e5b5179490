// Locally connected (unshared) 2-D layer, as in cuda-convnet's CIFAR nets: every output position has its own
// filter bank. Weight [OH*OW][Cout][Cin*KH*KW], bias [Cout][OH][OW] (docs/conventions.md).
// The layer runs as one GEMM per output position (src/nn/ops/local.ts, batched over positions): these kernels
// move data in and out of the position-major layouts the GEMMs read, with rows padded to a multiple of 4
// (vec4 loads) and zeros in the padding:
//   cols  [P][KP][NP]: cols[pos][k][j] = input under tap k at position pos, image n0 + j (im2col per position)
//   ypos  [P][COUT][NP]: the GEMM's output (forward) or dy gathered (backward)
//   wpad  [P][COUT][KP]: the weights with rows padded to KP (only when K is not a multiple of 4)
// One thread per element written; a thread that gathers (col2im) sums in a fixed order: deterministic.

// n0, count: the chunk of images (n0 .. n0 + count - 1) of a batch of N; NP = count rounded up to 4.
struct Params {
  N: u32, hasBias: u32, n0: u32, count: u32, NP: u32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

// Geometry compiled in (one pipeline per layer): divisions by constants become multiplies on CPU adapters.
const S_C: u32 = {{C}};
const S_H: u32 = {{H}};
const S_W: u32 = {{W}};
const S_COUT: u32 = {{COUT}};
const S_KH: u32 = {{KH}};
const S_KW: u32 = {{KW}};
const S_STRIDE: u32 = {{STRIDE}};
const S_PAD: u32 = {{PAD}};
const S_OH: u32 = {{OH}};
const S_OW: u32 = {{OW}};
const S_K: u32 = S_C * S_KH * S_KW;
const S_KP: u32 = (S_K + 3u) / 4u * 4u;
const S_P: u32 = S_OH * S_OW;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

// cols[pos][k][j] for j < NP: x under tap k at pos for image n0 + j; 0 in the padding (image, tap or pixel).
@compute @workgroup_size(256)
fn columns(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= S_P * S_KP * p.NP) { return; }
  let j = i % p.NP;
  let k = (i / p.NP) % S_KP;
  let pos = i / (p.NP * S_KP);
  let kw = k % S_KW;
  let kh = (k / S_KW) % S_KH;
  let c = k / (S_KW * S_KH);
  let ih = i32((pos / S_OW) * S_STRIDE + kh) - i32(S_PAD);
  let iw = i32((pos % S_OW) * S_STRIDE + kw) - i32(S_PAD);
  let inside = j < p.count && k < S_K && ih >= 0 && iw >= 0 && ih < i32(S_H) && iw < i32(S_W);
  let n = p.n0 + min(j, p.count - 1u);
  let src = ((n * S_C + min(c, S_C - 1u)) * S_H + u32(clamp(ih, 0, i32(S_H) - 1))) * S_W +
    u32(clamp(iw, 0, i32(S_W) - 1));
  cols[i] = select(0.0, x[src], inside);
}

@group(0) @binding(1) var<storage, read> ypos: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// y[n][co][pos] = ypos[pos][co][n - n0] + bias[co][pos], for the chunk's images.
@compute @workgroup_size(256)
fn to_nchw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.count * S_COUT * S_P) { return; }
  let pos = i % S_P;
  let co = (i / S_P) % S_COUT;
  let j = i / (S_P * S_COUT);
  var v = ypos[(pos * S_COUT + co) * p.NP + j];
  if (p.hasBias != 0u) { v += bias[co * S_P + pos]; }
  y[(p.n0 + j) * S_COUT * S_P + co * S_P + pos] = v;
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dypos: array<f32>;

// dypos[pos][co][j] = dy[n0 + j][co][pos]; 0 for j >= count.
@compute @workgroup_size(256)
fn from_nchw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= S_P * S_COUT * p.NP) { return; }
  let j = i % p.NP;
  let co = (i / p.NP) % S_COUT;
  let pos = i / (p.NP * S_COUT);
  let n = p.n0 + min(j, p.count - 1u);
  dypos[i] = select(0.0, dy[(n * S_COUT + co) * S_P + pos], j < p.count);
}

@group(0) @binding(1) var<storage, read> dcols: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// dx[n][c][ih][iw] = sum over the (pos, kh, kw) whose tap reads it of dcols[pos][k][n - n0], for the chunk.
@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.count * S_C * S_H * S_W) { return; }
  let j = i / (S_C * S_H * S_W);
  let c = (i / (S_H * S_W)) % S_C;
  let ih = (i / S_W) % S_H;
  let iw = i % S_W;
  var acc = 0.0;
  for (var kh = 0u; kh < S_KH; kh++) {
    let t = i32(ih + S_PAD) - i32(kh);
    if (t < 0 || u32(t) % S_STRIDE != 0u) { continue; }
    let oh = u32(t) / S_STRIDE;
    if (oh >= S_OH) { continue; }
    for (var kw = 0u; kw < S_KW; kw++) {
      let s = i32(iw + S_PAD) - i32(kw);
      if (s < 0 || u32(s) % S_STRIDE != 0u) { continue; }
      let ow = u32(s) / S_STRIDE;
      if (ow >= S_OW) { continue; }
      let k = (c * S_KH + kh) * S_KW + kw;
      acc += dcols[((oh * S_OW + ow) * S_KP + k) * p.NP + j];
    }
  }
  dx[p.n0 * S_C * S_H * S_W + i] = acc;
}

@group(0) @binding(1) var<storage, read> wsrc: array<f32>;
@group(0) @binding(2) var<storage, read_write> wdst: array<f32>;

// wdst[row][k] for rows of KP from wsrc's rows of K (0 past K): the weights padded for the GEMMs. p.N: the
// elements of wdst.
@compute @workgroup_size(256)
fn pad_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.N) { return; }
  let k = i % S_KP;
  let row = i / S_KP;
  wdst[i] = select(0.0, wsrc[row * S_K + min(k, S_K - 1u)], k < S_K);
}

// wdst[row][k] for rows of K from wsrc's rows of KP: a padded weight gradient back to the weights' layout.
// p.N: the elements of wdst.
@compute @workgroup_size(256)
fn unpad_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.N) { return; }
  wdst[i] = wsrc[(i / S_K) * S_KP + i % S_K];
}
