// ReLU, tanh and inverted dropout. Dropout draws u = uniform01(seed, counter, index) from a counter-based hash
// (the same PCG hash as src/reference/rng.ts), so backward recomputes the mask instead of storing it.

struct Params { count: u32, seed: u32, counter: u32, pad0: u32, prob: f32, scale: f32, pad1: f32, pad2: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn uniform01(i: u32) -> f32 {
  return f32(pcg(i ^ pcg(p.seed + pcg(p.counter))) >> 8u) / 16777216.0;
}

@compute @workgroup_size(256)
fn relu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.count) { y[i] = max(x[i], 0.0); }
}

@compute @workgroup_size(256)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.count) { y[i] = tanh(x[i]); }
}

@compute @workgroup_size(256)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.count) { y[i] = select(0.0, x[i] * p.scale, uniform01(i) >= p.prob); }
}

// Backward: x holds the forward output (relu, tanh) or nothing (dropout); g is dy; y is dx.
@group(0) @binding(3) var<storage, read> g: array<f32>;

@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.count) { y[i] = select(0.0, g[i], x[i] > 0.0); }
}

@compute @workgroup_size(256)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.count) { y[i] = g[i] * (1.0 - x[i] * x[i]); }
}

@group(0) @binding(1) var<storage, read> dropG: array<f32>;

@compute @workgroup_size(256)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < p.count) { y[i] = select(0.0, dropG[i] * p.scale, uniform01(i) >= p.prob); }
}
