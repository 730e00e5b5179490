// Max and average pooling over NCHW planes. Windows are clipped to the input (padding never wins a max and
// never counts in an average). Max backward scatters to each window's winner in phases of non-overlapping
// windows; average backward gathers over the windows that cover an input pixel. No atomics either way.

// Planes (images x channels) in the batch and max backward's phase; the window geometry is compiled in below.
struct Params {
  planes: u32, phaseH: u32, phaseW: u32, pad0: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

// The window geometry is compiled in (one pipeline per layer shape): integer division by a constant becomes a
// multiply, which matters on CPU adapters where these gather kernels are bound by index arithmetic.
const S_H: u32 = {{H}};
const S_W: u32 = {{W}};
const S_OH: u32 = {{OH}};
const S_OW: u32 = {{OW}};
const S_K: u32 = {{K}};
const S_STRIDE: u32 = {{STRIDE}};
const S_PAD: u32 = {{PAD}};
// Max pooling with the ReLU after it in the same pass (max_forward writes relu(max), max_backward masks dy by
// it): the ReLU's own kernels would read and write the pooled map once more each way.
const S_RELU: bool = {{RELU}};

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

fn windowStart(o: u32) -> i32 { return i32(o * S_STRIDE) - i32(S_PAD); }

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;

// argmax holds the winner's index within its plane (h*W + w). Each thread computes a block of B_H x B_W
// outputs of one plane and loads the U_H x U_W inputs their windows span once: overlapping windows (3/2
// pooling) share rows and columns, which one thread per output loaded again for each window (25 loads instead
// of 36 for a 2 x 2 block). Each output still compares its window's values in the same order.
const B_H: u32 = {{B_H}};
const B_W: u32 = {{B_W}};
const N_BH: u32 = (S_OH + B_H - 1u) / B_H;
const N_BW: u32 = (S_OW + B_W - 1u) / B_W;

@compute @workgroup_size(256)
fn max_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.planes * N_BH * N_BW) { return; }
  let plane = i / (N_BH * N_BW);
  let oh0 = ((i / N_BW) % N_BH) * B_H;
  let ow0 = (i % N_BW) * B_W;
  let h0 = windowStart(oh0);
  let w0 = windowStart(ow0);
  let base = plane * S_H * S_W;
  // The block's inputs, clamped into the plane; each output below skips the positions outside it (padding
  // never wins a max).
  var v: array<array<f32, {{U_W}}>, {{U_H}}>;
  //#unroll r U_H
  //#unroll c U_W
  v[{r}][{c}] = src[base + u32(clamp(h0 + {r}, 0, i32(S_H) - 1)) * S_W + u32(clamp(w0 + {c}, 0, i32(S_W) - 1))];
  //#end
  //#end
  //#unroll a B_H
  //#unroll b B_W
  if (oh0 + {a}u < S_OH && ow0 + {b}u < S_OW) {
    var best = -3.4e38;
    var bestIdx = 0u;
    var found = false;
    //#unroll dh K
    //#unroll dw K
    {
      let h = h0 + i32({a}u * S_STRIDE + {dh}u);
      let w = w0 + i32({b}u * S_STRIDE + {dw}u);
      if (h >= 0 && h < i32(S_H) && w >= 0 && w < i32(S_W)) {
        let x = v[{a}u * S_STRIDE + {dh}u][{b}u * S_STRIDE + {dw}u];
        if (!found || x > best) { best = x; bestIdx = u32(h) * S_W + u32(w); found = true; }
      }
    }
    //#end
    //#end
    if (S_RELU) { best = max(best, 0.0); }
    let o = (plane * S_OH + oh0 + {a}u) * S_OW + ow0 + {b}u;
    dst[o] = best;
    argmax[o] = bestIdx;
  }
  //#end
  //#end
}

// The output windows that contain input coordinate x: o in [lo, hi].
fn coveringRange(x: u32, outSize: u32) -> vec2i {
  let t = i32(x + S_PAD);
  let lo = max(0, (t - i32(S_K) + i32(S_STRIDE)) / i32(S_STRIDE));
  let hi = min(i32(outSize) - 1, t / i32(S_STRIDE));
  return vec2i(lo, hi);
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> winners: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
// max_forward's output, relu(max), when S_RELU: where it is 0 the gradient stops.
@group(0) @binding(4) var<storage, read> pooled: array<f32>;

// dx starts zeroed; each dispatch handles one phase of the windows (oh % PHASES, ow % PHASES given by p.phaseH,
// p.phaseW), whose windows do not overlap, so each adds its gradient to its winner without a race. This touches
// each window once instead of gathering over the windows covering every input pixel (4x the threads).
const PHASES: u32 = {{PHASES}};
const PH_OH: u32 = (S_OH + PHASES - 1u) / PHASES;
const PH_OW: u32 = (S_OW + PHASES - 1u) / PHASES;

@compute @workgroup_size(256)
fn max_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.planes * PH_OH * PH_OW) { return; }
  let plane = i / (PH_OH * PH_OW);
  let oh = ((i / PH_OW) % PH_OH) * PHASES + p.phaseH;
  let ow = (i % PH_OW) * PHASES + p.phaseW;
  if (oh >= S_OH || ow >= S_OW) { return; }
  let o = (plane * S_OH + oh) * S_OW + ow;
  let at = plane * S_H * S_W + winners[o];
  var g = dy[o];
  if (S_RELU) { g = select(0.0, g, pooled[o] > 0.0); }
  dx[at] += g;
}

fn windowCount(oh: u32, ow: u32) -> f32 {
  let h0 = windowStart(oh);
  let w0 = windowStart(ow);
  let hn = min(h0 + i32(S_K), i32(S_H)) - max(h0, 0);
  let wn = min(w0 + i32(S_K), i32(S_W)) - max(w0, 0);
  return f32(max(hn, 1) * max(wn, 1));
}

@group(0) @binding(1) var<storage, read> avgSrc: array<f32>;
@group(0) @binding(2) var<storage, read_write> avgDst: array<f32>;

@compute @workgroup_size(256)
fn avg_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.planes * S_OH * S_OW) { return; }
  let plane = i / (S_OH * S_OW);
  let oh = (i / S_OW) % S_OH;
  let ow = i % S_OW;
  let h0 = windowStart(oh);
  let w0 = windowStart(ow);
  var acc = 0.0;
  for (var h = max(h0, 0); h < min(h0 + i32(S_K), i32(S_H)); h++) {
    for (var w = max(w0, 0); w < min(w0 + i32(S_K), i32(S_W)); w++) {
      acc += avgSrc[(plane * S_H + u32(h)) * S_W + u32(w)];
    }
  }
  avgDst[i] = acc / windowCount(oh, ow);
}

// avgSrc holds dy here, avgDst is dx.
@compute @workgroup_size(256)
fn avg_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.planes * S_H * S_W) { return; }
  let plane = i / (S_H * S_W);
  let h = (i / S_W) % S_H;
  let w = i % S_W;
  let rh = coveringRange(h, S_OH);
  let rw = coveringRange(w, S_OW);
  var acc = 0.0;
  for (var oh = rh.x; oh <= rh.y; oh++) {
    for (var ow = rw.x; ow <= rw.y; ow++) {
      acc += avgSrc[(plane * S_OH + u32(oh)) * S_OW + u32(ow)] / windowCount(u32(oh), u32(ow));
    }
  }
  avgDst[i] = acc;
}
