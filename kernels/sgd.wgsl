// The paper's update (section 5): v <- m*v - wd*lr*w - lr*g; w <- w + v. lr and wd arrive already multiplied
// by the parameter's multipliers. Four parameters per thread through vec4 loads, since llvmpipe loads storage
// lane by lane and a scalar pass ran at a third of memory speed; each element's arithmetic is the scalar
// form's, so the results are the same bits. Tensors sit in buffers padded to 16 bytes (src/gpu/pool.ts), so
// the last vec4 may update up to three padding floats that no tensor reads.

struct Params { count4: u32, pad0: u32, pad1: u32, pad2: u32, lr: f32, momentum: f32, wd: f32, pad3: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> g: array<vec4f>;

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.count4) { return; }
  let wi = w[i];
  let vi = p.momentum * v[i] - p.wd * p.lr * wi - p.lr * g[i];
  v[i] = vi;
  w[i] = wi + vi;
}
