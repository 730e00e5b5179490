// Bias gradients. Sums run in a fixed order, so results are deterministic.

struct Params { n: u32, c: u32, s: u32, accumulate: u32, ld: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> partial: array<f32, 256>;

// src is NCHW with s = H*W: dst[c] (+)= sum over n and s. One workgroup per channel.
@compute @workgroup_size(256)
fn channel_sum(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let total = p.n * p.s;
  var acc = 0.0;
  for (var i = lid; i < total; i += 256u) {
    let n = i / p.s;
    acc += src[(n * p.c + c) * p.s + i % p.s];
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var v = partial[0];
    if (p.accumulate != 0u) { v += dst[c]; }
    dst[c] = v;
  }
}

// The same for planes of a multiple of 4 values (s4 = s / 4 vec4s): vec4 loads, and the lane's (image, vec4)
// position stepped instead of divided, since a load and an integer division per element bound it on CPUs.
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@compute @workgroup_size(256)
fn channel_sum4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let s4 = p.s / 4u;
  var n = lid / s4;
  var j = lid % s4;
  let stepN = 256u / s4;
  let stepJ = 256u % s4;
  var acc = vec4f(0.0);
  while (n < p.n) {
    acc += src4[(n * p.c + c) * s4 + j];
    j += stepJ;
    n += stepN;
    let wrap = j >= s4;
    j = select(j, j - s4, wrap);
    n = select(n, n + 1u, wrap);
  }
  partial[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var v = partial[0];
    if (p.accumulate != 0u) { v += dst[c]; }
    dst[c] = v;
  }
}

// src is [n][ld]: dst[j] (+)= sum over rows of src[row*ld + j] for j < c.
@compute @workgroup_size(256)
fn row_sum(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= p.c) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.n; r++) { acc += src[r * p.ld + j]; }
  if (p.accumulate != 0u) { acc += dst[j]; }
  dst[j] = acc;
}

// Split-K GEMM epilogue: dst[offC + m*ldc + j] (+)= sum over slices s of partial s at [m][j] (+ the GEMM's
// bias: biasMode 1 one value per row, 2 per column, from offBias), for m < M (rows), j < N (columns), over
// `slices` partial products each padded to a multiple of 4 elements.
struct SliceParams { M: u32, N: u32, slices: u32, accumulate: u32, ldc: u32, offC: u32, biasMode: u32, offBias: u32 }
@group(0) @binding(0) var<uniform> q: SliceParams;
@group(0) @binding(3) var<storage, read> sliceBias: array<f32>;

@compute @workgroup_size(256)
fn sum_slices(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= q.M * q.N) { return; }
  let m = i / q.N;
  let j = i % q.N;
  var acc = 0.0;
  for (var s = 0u; s < q.slices; s++) { acc += src[s * ((q.M * q.N + 3u) / 4u * 4u) + i]; }
  let o = q.offC + m * q.ldc + j;
  if (q.accumulate != 0u) { acc += dst[o]; }
  if (q.biasMode == 1u) { acc += sliceBias[q.offBias + m]; }
  if (q.biasMode == 2u) { acc += sliceBias[q.offBias + j]; }
  dst[o] = acc;
}
