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
