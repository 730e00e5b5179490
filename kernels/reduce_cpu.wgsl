// Bias gradients on CPU adapters: reduce.wgsl's channel_sum and channel_sum4, bit for bit, in another order of
// reads. A CPU adapter runs a workgroup's lanes one SIMD group of 8 after another, so there each group walks the
// whole channel, reading every image's plane 128 bytes at a time far apart. Here one group of 8 lanes holds all
// 256 lanes' sums (lane t those of lanes t, t + 8, ...) and reads each stretch of 256 values in order. Every sum
// gets the same values in the same order and the tree is the same. {{V}} is 1 (f32, src) or 4 (vec4f, src4:
// planes of a multiple of 4 values).

struct Params { n: u32, c: u32, s: u32, accumulate: u32, ld: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn lane_total1(v: f32) -> f32 { return v; }
fn lane_total4(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }

@compute @workgroup_size(8)
fn channel_sum(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wid.x;
  let sv = p.s / {{V}};
  let total = p.n * sv;
  var acc: array<{{ELEM}}, 32>;
  // (image, position) of element base + t, stepped rather than divided
  var n = t / sv;
  var j = t % sv;
  for (var base = 0u; base < total; base += 256u) {
    var ln = n;
    var lj = j;
    for (var m = 0u; m < 32u; m++) {
      if (ln < p.n) { acc[m] += {{SRC}}[(ln * p.c + c) * sv + lj]; }
      lj += 8u;
      while (lj >= sv) { lj -= sv; ln += 1u; }
    }
    j += 256u % sv;
    n += 256u / sv;
    if (j >= sv) { j -= sv; n += 1u; }
  }
  for (var m = 0u; m < 32u; m++) { partial[t + 8u * m] = lane_total{{V}}(acc[m]); }
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    for (var l = t; l < stride; l += 8u) { partial[l] += partial[l + stride]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    var v = partial[0];
    if (p.accumulate != 0u) { v += dst[c]; }
    dst[c] = v;
  }
}
