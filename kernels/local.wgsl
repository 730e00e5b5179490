// Locally connected (unshared) 2-D layer, as in cuda-convnet's CIFAR nets: every output position has its own
// filter bank. Weight [OH*OW][Cout][Cin*KH*KW], bias [Cout][OH][OW] (docs/conventions.md). Direct loops: the
// layer is small (cuda-convnet uses it at 8x8 with 32-64 filters) and each output reads a different filter.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  Cout: u32, KH: u32, KW: u32, stride: u32,
  pad: u32, OH: u32, OW: u32, hasBias: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }
fn K() -> u32 { return p.C * p.KH * p.KW; }

// The input value under filter tap k at output position (oh, ow) of image n, or 0 in the padding.
fn tap(n: u32, oh: u32, ow: u32, k: u32) -> f32 {
  let kw = k % p.KW;
  let kh = (k / p.KW) % p.KH;
  let c = k / (p.KW * p.KH);
  let ih = i32(oh * p.stride + kh) - i32(p.pad);
  let iw = i32(ow * p.stride + kw) - i32(p.pad);
  if (ih < 0 || iw < 0 || ih >= i32(p.H) || iw >= i32(p.W)) { return 0.0; }
  return x[((n * p.C + c) * p.H + u32(ih)) * p.W + u32(iw)];
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let P = p.OH * p.OW;
  if (i >= p.N * p.Cout * P) { return; }
  let n = i / (p.Cout * P);
  let co = (i / P) % p.Cout;
  let pos = i % P;
  let oh = pos / p.OW;
  let ow = pos % p.OW;
  let kk = K();
  let wrow = (pos * p.Cout + co) * kk;
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
  let P = p.OH * p.OW;
  let kk = K();
  if (i >= P * p.Cout * kk) { return; }
  let pos = i / (p.Cout * kk);
  let co = (i / kk) % p.Cout;
  let k = i % kk;
  let oh = pos / p.OW;
  let ow = pos % p.OW;
  var acc = 0.0;
  for (var n = 0u; n < p.N; n++) { acc += dy[(n * p.Cout + co) * P + pos] * tap(n, oh, ow, k); }
  dw[i] = acc;
}

@group(0) @binding(1) var<storage, read> wb: array<f32>;
@group(0) @binding(2) var<storage, read> dyb: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// dx[n][c][ih][iw] = sum over (oh, ow, kh, kw) that read it, and co, of w[pos][co][k] * dy[n][co][pos]
@compute @workgroup_size(256)
fn backward_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.N * p.C * p.H * p.W) { return; }
  let n = i / (p.C * p.H * p.W);
  let c = (i / (p.H * p.W)) % p.C;
  let ih = (i / p.W) % p.H;
  let iw = i % p.W;
  let P = p.OH * p.OW;
  let kk = K();
  var acc = 0.0;
  for (var kh = 0u; kh < p.KH; kh++) {
    let t = i32(ih + p.pad) - i32(kh);
    if (t < 0 || u32(t) % p.stride != 0u) { continue; }
    let oh = u32(t) / p.stride;
    if (oh >= p.OH) { continue; }
    for (var kw = 0u; kw < p.KW; kw++) {
      let s = i32(iw + p.pad) - i32(kw);
      if (s < 0 || u32(s) % p.stride != 0u) { continue; }
      let ow = u32(s) / p.stride;
      if (ow >= p.OW) { continue; }
      let pos = oh * p.OW + ow;
      let k = (c * p.KH + kh) * p.KW + kw;
      for (var co = 0u; co < p.Cout; co++) {
        acc += wb[(pos * p.Cout + co) * kk + k] * dyb[(n * p.Cout + co) * P + pos];
      }
    }
  }
  dx[i] = acc;
}
