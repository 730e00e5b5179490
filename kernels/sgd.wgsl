// The paper's update (section 5): v <- m*v - wd*lr*w - lr*g; w <- w + v. lr and wd arrive already multiplied
// by the parameter's multipliers.

struct Params { count: u32, pad0: u32, pad1: u32, pad2: u32, lr: f32, momentum: f32, wd: f32, pad3: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.count) { return; }
  let vi = p.momentum * v[i] - p.wd * p.lr * w[i] - p.lr * g[i];
  v[i] = vi;
  w[i] = w[i] + vi;
}
