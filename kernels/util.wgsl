// Small elementwise helpers: fill, strided 2-D copy (padding rows to a multiple of 4), mean subtraction,
// row sums (bias gradients of fully connected and locally connected layers).

struct Params { a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// a: count, b: the value's bits
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.a) { dst[i] = bitcast<f32>(p.b); }
}
