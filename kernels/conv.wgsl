// Convolution as im2col + GEMM (kernels/matmul.wgsl), for a sub-batch of images [n0, n0 + nb).
//
// Column matrix, one per group: col[g][k][j] with k = (c*KH + kh)*KW + kw over the group's input channels
// (rows K..Kp-1 are zero so K is a multiple of 4) and j = n*OH*OW + oh*OW + ow (columns NC..NCp-1 zero).
// GEMM output is "channel-major" ycn[co][j]; permutes move it to and from NCHW.

struct Params {
  nb: u32, C: u32, H: u32, W: u32,
  Cg: u32, KH: u32, KW: u32, stride: u32,
  pad: u32, OH: u32, OW: u32, K: u32,
  Kp: u32, NCp: u32, n0: u32, G: u32,
  Cout: u32, pad1: u32, pad2: u32, pad3: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// src: x (NCHW, whole batch); dst: col [G][Kp][NCp].
@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let per = p.Kp * p.NCp;
  if (i >= per * p.G) { return; }
  let g = i / per;
  let k = (i % per) / p.NCp;
  let j = i % p.NCp;
  let ohw = p.OH * p.OW;
  var v = 0.0;
  if (k < p.K && j < p.nb * ohw) {
    let kw = k % p.KW;
    let kh = (k / p.KW) % p.KH;
    let c = g * p.Cg + k / (p.KW * p.KH);
    let n = p.n0 + j / ohw;
    let oh = (j % ohw) / p.OW;
    let ow = j % p.OW;
    let ih = i32(oh * p.stride + kh) - i32(p.pad);
    let iw = i32(ow * p.stride + kw) - i32(p.pad);
    if (ih >= 0 && iw >= 0 && ih < i32(p.H) && iw < i32(p.W)) {
      v = src[((n * p.C + c) * p.H + u32(ih)) * p.W + u32(iw)];
    }
  }
  dst[i] = v;
}

// src: dcol [G][Kp][NCp]; dst: dx (NCHW, whole batch), images n0..n0+nb-1. Gathers, so no atomics.
@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let chw = p.C * p.H * p.W;
  if (i >= p.nb * chw) { return; }
  let nl = i / chw;
  let c = (i / (p.H * p.W)) % p.C;
  let ih = (i / p.W) % p.H;
  let iw = i % p.W;
  let g = c / p.Cg;
  let cg = c % p.Cg;
  let ohw = p.OH * p.OW;
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
      let k = (cg * p.KH + kh) * p.KW + kw;
      acc += src[(g * p.Kp + k) * p.NCp + nl * ohw + oh * p.OW + ow];
    }
  }
  dst[(p.n0 + nl) * chw + (i % chw)] = acc;
}

// src: ycn [Cout][NCp]; dst: y NCHW (images n0..). H/W here are the output's OH/OW.
@compute @workgroup_size(256)
fn cn_to_nchw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let ohw = p.OH * p.OW;
  if (i >= p.nb * p.Cout * ohw) { return; }
  let nl = i / (p.Cout * ohw);
  let co = (i / ohw) % p.Cout;
  let s = i % ohw;
  dst[p.n0 * p.Cout * ohw + i] = src[co * p.NCp + nl * ohw + s];
}

// src: dy NCHW; dst: dycn [Cout][NCp] with zero padding columns.
@compute @workgroup_size(256)
fn nchw_to_cn(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.Cout * p.NCp) { return; }
  let co = i / p.NCp;
  let j = i % p.NCp;
  let ohw = p.OH * p.OW;
  var v = 0.0;
  if (j < p.nb * ohw) {
    let nl = j / ohw;
    v = src[((p.n0 + nl) * p.Cout + co) * ohw + j % ohw];
  }
  dst[i] = v;
}
