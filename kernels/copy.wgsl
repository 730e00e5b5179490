// dst[offD + r*ldd + c] = src[offS + r*lds + c] for r < rows, c < cols; zeros in dst columns cols..padTo-1.
// Used to pad a flattened activation's row length to a multiple of 4 for the vec4 GEMM, and back.

struct Params { rows: u32, cols: u32, lds: u32, ldd: u32, offS: u32, offD: u32, padTo: u32, pad0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn copy2d(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let width = max(p.cols, p.padTo);
  if (i >= p.rows * width) { return; }
  let r = i / width;
  let c = i % width;
  var v = 0.0;
  if (c < p.cols) { v = src[p.offS + r * p.lds + c]; }
  dst[p.offD + r * p.ldd + c] = v;
}

// Mean image subtraction: dst[n*D + i] = src[n*D + i] - mean[i] with D = cols (rows = batch).
@group(0) @binding(3) var<storage, read> mean: array<f32>;

@compute @workgroup_size(256)
fn subtract_mean(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.rows * p.cols) { return; }
  dst[i] = src[i] - mean[i % p.cols];
}
