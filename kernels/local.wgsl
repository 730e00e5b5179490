// Locally connected (unshared) 2-D layer, as in cuda-convnet's CIFAR nets: every output position has its own
// filter bank. Weight [OH*OW][Cout][Cin*KH*KW], bias [Cout][OH][OW] (docs/conventions.md). Direct loops: the
// layer is small (cuda-convnet uses it at 8x8 with 32-64 filters) and each output reads a different filter.

// The batch size and whether a bias is bound; the geometry is compiled in below. Padded to 16 bytes.
struct Params {
  N: u32, hasBias: u32, pad0: u32, pad1: u32,
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

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }
fn K() -> u32 { return S_C * S_KH * S_KW; }

// The input value under filter tap k at output position (oh, ow) of image n, or 0 in the padding.
fn tap(n: u32, oh: u32, ow: u32, k: u32) -> f32 {
  let kw = k % S_KW;
  let kh = (k / S_KW) % S_KH;
  let c = k / (S_KW * S_KH);
  let ih = i32(oh * S_STRIDE + kh) - i32(S_PAD);
  let iw = i32(ow * S_STRIDE + kw) - i32(S_PAD);
  if (ih < 0 || iw < 0 || ih >= i32(S_H) || iw >= i32(S_W)) { return 0.0; }
  return x[((n * S_C + c) * S_H + u32(ih)) * S_W + u32(iw)];
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let P = S_OH * S_OW;
  if (i >= p.N * S_COUT * P) { return; }
  let n = i / (S_COUT * P);
  let co = (i / P) % S_COUT;
  let pos = i % P;
  let oh = pos / S_OW;
  let ow = pos % S_OW;
  let kk = K();
  let wrow = (pos * S_COUT + co) * kk;
  var acc = 0.0;
  if (p.hasBias != 0u) { acc = b[co * P + pos]; }
  for (var k = 0u; k < kk; k++) { acc += w[wrow + k] * tap(n, oh, ow, k); }
  y[i] = acc;
}

@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

// dw[pos][co][k] = sum_n dy[n][co][pos] * tap(n, pos, k)
@compute @workgroup_size(256)
fn backward_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let P = S_OH * S_OW;
  let kk = K();
  if (i >= P * S_COUT * kk) { return; }
  let pos = i / (S_COUT * kk);
  let co = (i / kk) % S_COUT;
  let k = i % kk;
  let oh = pos / S_OW;
  let ow = pos % S_OW;
  var acc = 0.0;
  for (var n = 0u; n < p.N; n++) { acc += dy[(n * S_COUT + co) * P + pos] * tap(n, oh, ow, k); }
  dw[i] = acc;
}

@group(0) @binding(1) var<storage, read> wb: array<f32>;
@group(0) @binding(2) var<storage, read> dyb: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// dx[n][c][ih][iw] = sum over (oh, ow, kh, kw) that read it, and co, of w[pos][co][k] * dy[n][co][pos]
@compute @workgroup_size(256)
fn backward_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.N * S_C * S_H * S_W) { return; }
  let n = i / (S_C * S_H * S_W);
  let c = (i / (S_H * S_W)) % S_C;
  let ih = (i / S_W) % S_H;
  let iw = i % S_W;
  let P = S_OH * S_OW;
  let kk = K();
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
      let pos = oh * S_OW + ow;
      let k = (c * S_KH + kh) * S_KW + kw;
      for (var co = 0u; co < S_COUT; co++) {
        acc += wb[(pos * S_COUT + co) * kk + k] * dyb[(n * S_COUT + co) * P + pos];
      }
    }
  }
  dx[i] = acc;
}
