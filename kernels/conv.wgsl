// Convolution as im2col + GEMM (kernels/matmul.wgsl), for a sub-batch of images [n0, n0 + nb).
//
// Column matrix, one per group: col[g][k][j] with k = (c*KH + kh)*KW + kw over the group's input channels
// (rows K..Kp-1 are zero so K is a multiple of 4) and j = n*OH*OW + oh*OW + ow (columns NC..NCp-1 zero).
// GEMM output is "channel-major" ycn[co][j]; permutes move it to and from NCHW.

// The chunk: nb images from image n0, NCp columns; relu: cn_to_nchw applies the ReLU after the layer.
struct Params {
  nb: u32, n0: u32, NCp: u32, relu: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

// The layer's geometry is compiled in (one pipeline per conv layer): integer division by a constant becomes a
// multiply, which matters on CPU adapters where these gather kernels are bound by index arithmetic. Only the
// chunk comes from the uniform block.
const S_C: u32 = {{C}};
const S_H: u32 = {{H}};
const S_W: u32 = {{W}};
const S_CG: u32 = {{CG}};
const S_KH: u32 = {{KH}};
const S_KW: u32 = {{KW}};
const S_STRIDE: u32 = {{STRIDE}};
const S_PAD: u32 = {{PAD}};
const S_OH: u32 = {{OH}};
const S_OW: u32 = {{OW}};
const S_K: u32 = {{K}};
const S_KP: u32 = {{KP}};
const S_G: u32 = {{G}};
const S_COUT: u32 = {{COUT}};
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// src: x (NCHW, whole batch); dst: col [G][Kp][NCp]. One thread writes four consecutive columns of one row k
// (a vec4): the row's (channel, kh, kw) and the first column's (image, oh, ow) are decoded once, the rest by
// stepping, since integer division dominates a gather kernel on CPU adapters.
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

@compute @workgroup_size(64, 4)
fn im2col(@builtin(global_invocation_id) gid: vec3u) {
  let nc4 = p.NCp / 4u;
  let j4 = gid.x;
  let k = gid.y;
  let g = gid.z;
  if (j4 >= nc4 || k >= S_KP) { return; }
  let out = (g * S_KP + k) * nc4 + j4;
  if (k >= S_K) {
    dst4[out] = vec4f(0.0);
    return;
  }
  let kw = k % S_KW;
  let kh = (k / S_KW) % S_KH;
  let c = g * S_CG + k / (S_KW * S_KH);
  let ohw = S_OH * S_OW;
  let total = p.nb * ohw;
  let j = j4 * 4u;
  var n = j / ohw;
  var oh = (j % ohw) / S_OW;
  var ow = j % S_OW;
  var v = vec4f(0.0);
  //#unroll t 4
  if (j + {t}u < total) {
    let ih = i32(oh * S_STRIDE + kh) - i32(S_PAD);
    let iw = i32(ow * S_STRIDE + kw) - i32(S_PAD);
    if (ih >= 0 && iw >= 0 && ih < i32(S_H) && iw < i32(S_W)) {
      v[{t}] = src[(((p.n0 + n) * S_C + c) * S_H + u32(ih)) * S_W + u32(iw)];
    }
  }
  ow++;
  if (ow == S_OW) {
    ow = 0u;
    oh++;
    if (oh == S_OH) {
      oh = 0u;
      n++;
    }
  }
  //#end
  dst4[out] = v;
}

// src: dcol [G][Kp][NCp]; dst: dx (NCHW, whole batch), images n0..n0+nb-1. Gathers, so no atomics.
@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let chw = S_C * S_H * S_W;
  if (i >= p.nb * chw) { return; }
  let nl = i / chw;
  let c = (i / (S_H * S_W)) % S_C;
  let ih = (i / S_W) % S_H;
  let iw = i % S_W;
  let g = c / S_CG;
  let cg = c % S_CG;
  let ohw = S_OH * S_OW;
  // Output rows whose window covers ih: oh in [ceil((ih + pad - KH + 1) / stride), floor((ih + pad) / stride)];
  // kh = ih + pad - oh*stride. Ranges instead of a test per (kh, kw) avoid a modulo per tap.
  let th = i32(ih + S_PAD);
  let tw = i32(iw + S_PAD);
  let s = i32(S_STRIDE);
  let ohLo = max(0, (th - i32(S_KH) + s) / s);
  let ohHi = min(i32(S_OH) - 1, th / s);
  let owLo = max(0, (tw - i32(S_KW) + s) / s);
  let owHi = min(i32(S_OW) - 1, tw / s);
  let colBase = g * S_KP * p.NCp + nl * ohw;
  var acc = 0.0;
  for (var oh = ohLo; oh <= ohHi; oh++) {
    let kh = u32(th - oh * s);
    for (var ow = owLo; ow <= owHi; ow++) {
      let kw = u32(tw - ow * s);
      let k = (cg * S_KH + kh) * S_KW + kw;
      acc += src[colBase + k * p.NCp + u32(oh) * S_OW + u32(ow)];
    }
  }
  dst[(p.n0 + nl) * chw + (i % chw)] = acc;
}

// src: ycn [Cout][NCp]; dst: y NCHW (images n0..); relu = 1 applies the ReLU after the layer (fused: the same
// max as its own kernel, one pass less).
@compute @workgroup_size(256)
fn cn_to_nchw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let ohw = S_OH * S_OW;
  if (i >= p.nb * S_COUT * ohw) { return; }
  let nl = i / (S_COUT * ohw);
  let co = (i / ohw) % S_COUT;
  let s = i % ohw;
  var v = src[co * p.NCp + nl * ohw + s];
  if (p.relu != 0u) { v = max(v, 0.0); }
  dst[p.n0 * S_COUT * ohw + i] = v;
}

// src: dy NCHW; dst: dycn [Cout][NCp] with zero padding columns.
@compute @workgroup_size(256)
fn nchw_to_cn(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= S_COUT * p.NCp) { return; }
  let co = i / p.NCp;
  let j = i % p.NCp;
  let ohw = S_OH * S_OW;
  var v = 0.0;
  if (j < p.nb * ohw) {
    let nl = j / ohw;
    v = src[((p.n0 + nl) * S_COUT + co) * ohw + j % ohw];
  }
  dst[i] = v;
}
