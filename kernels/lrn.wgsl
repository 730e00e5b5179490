// Response normalisation: b = a / s^beta, s = k + alpha * sum of a^2 over a window (docs/conventions.md).
// cross_*: the window runs over n neighbouring channels (the paper's LRN); within_*: over an n x n spatial
// window in the same channel (cuda-convnet's rnorm). Forward keeps s for the backward pass.
// Backward: da_j = db_j * s_j^-beta - 2*alpha*beta * a_j * sum_{i : j in window(i)} db_i * a_i * s_i^(-beta-1).

// The batch size and the constants; the shape and window size n are compiled in below.
struct Params {
  N: u32, k: f32, alpha: f32, beta: f32,
}
@group(0) @binding(0) var<uniform> p: Params;

// Shape compiled in (one pipeline per layer): divisions by constants become multiplies on CPU adapters.
const S_C: u32 = {{C}};
const S_H: u32 = {{H}};
const S_W: u32 = {{W}};
const S_N: u32 = {{N}};
// The backward entries apply the backward pass of a ReLU before the layer (a is its output) as they write da.
const S_RELU_BEFORE: bool = {{RELU_BEFORE}};
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> scale: array<f32>;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

fn total() -> u32 { return p.N * S_C * S_H * S_W; }

// cross_*: one thread per image and pixel walks the channels, keeping the window's n values in registers, so
// each value is loaded once instead of n times. A window adds the same values in the same order as summing
// over its channels one by one (a channel past either end adds an exact 0), so the bits do not change.
const HALF: i32 = i32(S_N / 2u);

fn pixels() -> u32 { return p.N * S_H * S_W; }

// Offset of channel 0 of the pixel a cross_* thread owns.
fn pixelBase(q: u32) -> u32 {
  let hw = S_H * S_W;
  return (q / hw) * S_C * hw + q % hw;
}

// Offset of channel ch (clamped) of the pixel at `base`, and whether ch is a channel at all.
fn channelAt(base: u32, ch: i32) -> u32 { return base + u32(clamp(ch, 0, i32(S_C) - 1)) * S_H * S_W; }
fn isChannel(ch: i32) -> bool { return ch >= 0 && ch < i32(S_C); }
// a (forward) at channel ch of the pixel at `base`, 0 outside 0 .. C-1.
fn aOr0(base: u32, ch: i32) -> f32 { return select(0.0, a[channelAt(base, ch)], isChannel(ch)); }

@compute @workgroup_size(256)
fn cross_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = flatIndex(gid, nwg);
  if (q >= pixels()) { return; }
  let base = pixelBase(q);
  // v[k]: a at channel c - HALF + k, the window of channel c; primed for c = -1.
  var v: array<f32, S_N>;
  //#unroll k N
  v[{k}] = aOr0(base, {k} - HALF - 1);
  //#end
  for (var c = 0; c < i32(S_C); c++) {
    //#unroll k NM1
    v[{k}] = v[{k} + 1];
    //#end
    v[S_N - 1u] = aOr0(base, c - HALF + i32(S_N) - 1);
    var sum = 0.0;
    //#unroll k N
    sum += v[{k}] * v[{k}];
    //#end
    let i = base + u32(c) * S_H * S_W;
    let s = p.k + p.alpha * sum;
    scale[i] = s;
    b[i] = v[HALF] * pow(s, -p.beta);
  }
}

@compute @workgroup_size(256)
fn within_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= total()) { return; }
  let y = i32((i / S_W) % S_H);
  let x = i32(i % S_W);
  let base = i - u32(y) * S_W - u32(x);
  let half = i32(S_N / 2u);
  var sum = 0.0;
  for (var yy = max(0, y - half); yy <= min(i32(S_H) - 1, y - half + i32(S_N) - 1); yy++) {
    for (var xx = max(0, x - half); xx <= min(i32(S_W) - 1, x - half + i32(S_N) - 1); xx++) {
      let v = a[base + u32(yy) * S_W + u32(xx)];
      sum += v * v;
    }
  }
  let s = p.k + p.alpha * sum;
  scale[i] = s;
  b[i] = a[i] * pow(s, -p.beta);
}

// Backward: each element's term db_i * a_i * s_i^(-beta-1) is computed once (one pow per element instead of one
// per window tap) and summed over the transposed window: cross_backward computes it as it enters its sliding
// window; within_backward reads it from a `terms` pass. Each term is the same f32 value either way.
@group(0) @binding(1) var<storage, read> fa: array<f32>;
@group(0) @binding(2) var<storage, read> fscale: array<f32>;
@group(0) @binding(3) var<storage, read> db: array<f32>;
@group(0) @binding(4) var<storage, read_write> t: array<f32>;

fn term(i: u32) -> f32 { return db[i] * fa[i] * pow(fscale[i], -p.beta - 1.0); }

@compute @workgroup_size(256)
fn terms(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= total()) { return; }
  t[i] = term(i);
}

@group(0) @binding(4) var<storage, read> ft: array<f32>;
@group(0) @binding(5) var<storage, read_write> da: array<f32>;

// The ReLU's backward as its own kernel computes it: select(0, g, y > 0), y its output (this layer's input).
fn storeDa(i: u32, v: f32) { da[i] = select(v, select(0.0, v, fa[i] > 0.0), S_RELU_BEFORE); }

fn termOr0(base: u32, ch: i32) -> f32 { return select(0.0, term(channelAt(base, ch)), isChannel(ch)); }

@compute @workgroup_size(256)
fn cross_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = flatIndex(gid, nwg);
  if (q >= pixels()) { return; }
  let base = pixelBase(q);
  // The channels whose window contains c are c + HALF - n + 1 .. c + HALF; v[k] holds the term of the k-th
  // (0 outside 0 .. C-1).
  var v: array<f32, S_N>;
  //#unroll k N
  v[{k}] = termOr0(base, HALF - i32(S_N) + {k});
  //#end
  for (var c = 0; c < i32(S_C); c++) {
    //#unroll k NM1
    v[{k}] = v[{k} + 1];
    //#end
    v[S_N - 1u] = termOr0(base, c + HALF);
    var sum = 0.0;
    //#unroll k N
    sum += v[{k}];
    //#end
    let i = base + u32(c) * S_H * S_W;
    storeDa(i, db[i] * pow(fscale[i], -p.beta) - 2.0 * p.alpha * p.beta * fa[i] * sum);
  }
}

@compute @workgroup_size(256)
fn within_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= total()) { return; }
  let y = i32((i / S_W) % S_H);
  let x = i32(i % S_W);
  let base = i - u32(y) * S_W - u32(x);
  let half = i32(S_N / 2u);
  var sum = 0.0;
  for (var yy = max(0, y + half - i32(S_N) + 1); yy <= min(i32(S_H) - 1, y + half); yy++) {
    for (var xx = max(0, x + half - i32(S_N) + 1); xx <= min(i32(S_W) - 1, x + half); xx++) {
      sum += ft[base + u32(yy) * S_W + u32(xx)];
    }
  }
  storeDa(i, db[i] * pow(fscale[i], -p.beta) - 2.0 * p.alpha * p.beta * fa[i] * sum);
}
