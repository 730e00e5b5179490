// Winograd F(MxM, RxR) convolution, stride 1, in three passes around a batched GEMM (kernels/matmul.wgsl):
//   input:   V[xi][g][c][t] = (B^T d B)[xi]   d = the ALPHA x ALPHA input patch of tile t, channel c
//   weights: U[xi][g][o][c] = (G w G^T)[xi]   (flip = 1: the rotated, transposed weights, for dx)
//   GEMM:    M[xi][g] = U[xi][g] V[xi][g]     ALPHA^2 * groups products of [OG x CGP] [CGP x Pp]
//   output:  y[o] at tile t = A^T M A         MxM outputs per tile (M = TILE)
// ALPHA = TILE + R - 1; the matrices come from src/math/winograd.ts, compiled in. The 5x5 layer's GEMMs do
// 36 multiply-adds per 2x2 outputs and channel pair where im2col does 100. Every loop over the tile is
// unrolled so the patch and its transforms stay in registers; loads are clamped and masked, not branched.

struct Params {
  nb: u32, n0: u32, C: u32, H: u32,
  W: u32, pad: u32, TH: u32, TW: u32,
  P: u32, Pp: u32, G: u32, CG: u32,
  CGP: u32, OG: u32, OH: u32, OW: u32,
  Kp: u32, flip: u32, hasBias: u32, relu: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const TILE: u32 = {{TILE}};
const ALPHA: u32 = {{ALPHA}};
const R: u32 = {{R}};
const BT = array<f32, {{ALPHA2}}>({{BT}});
const GM = array<f32, {{ALPHA_R}}>({{GM}});
const AT = array<f32, {{TILE_ALPHA}}>({{AT}});

// src: the layer input (NCHW, whole batch); dst: V. One thread per (tile, channel slot); slots past a group's
// channels and tiles past the chunk write zeros, which the GEMM then multiplies harmlessly.
@compute @workgroup_size(64, 1)
fn input(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  let slot = gid.y;
  if (t >= p.Pp) { return; }
  let g = slot / p.CGP;
  let c = slot % p.CGP;
  let live = t < p.P && c < p.CG;
  let tw = t % p.TW;
  let th = (t / p.TW) % p.TH;
  let n = min(t / (p.TW * p.TH), p.nb - 1u);
  let base = ((p.n0 + n) * p.C + g * p.CG + min(c, p.CG - 1u)) * p.H * p.W;
  let y0 = i32(th * TILE) - i32(p.pad);
  let x0 = i32(tw * TILE) - i32(p.pad);
  var d: array<array<f32, ALPHA>, ALPHA>;
  //#unroll a ALPHA
  //#unroll b ALPHA
  {
    let yy = y0 + {a};
    let xx = x0 + {b};
    let inside = live && yy >= 0 && yy < i32(p.H) && xx >= 0 && xx < i32(p.W);
    let v = src[base + u32(clamp(yy, 0, i32(p.H) - 1)) * p.W + u32(clamp(xx, 0, i32(p.W) - 1))];
    d[{a}][{b}] = select(0.0, v, inside);
  }
  //#end
  //#end
  var tmp: array<array<f32, ALPHA>, ALPHA>;
  //#unroll i ALPHA
  //#unroll b ALPHA
  tmp[{i}][{b}] = 0.0;
  //#unroll a ALPHA
  tmp[{i}][{b}] += BT[{i} * ALPHA + {a}] * d[{a}][{b}];
  //#end
  //#end
  //#end
  let stride = p.G * p.CGP * p.Pp;
  let out = slot * p.Pp + t;
  //#unroll i ALPHA
  //#unroll j ALPHA
  {
    var v = 0.0;
    //#unroll b ALPHA
    v += tmp[{i}][{b}] * BT[{j} * ALPHA + {b}];
    //#end
    dst[({i} * ALPHA + {j}) * stride + out] = v;
  }
  //#end
  //#end
}

// src: weights [Cout][Kp] (row = (c*R + kh)*R + kw); dst: U. One thread per (this conv's input channel slot
// c, output channel o). flip = 1 builds the dx convolution's filters: in and out channels swapped within
// the group and the kernel rotated by 180 degrees.
@compute @workgroup_size(64, 1)
fn weights(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let o = gid.y;
  if (c >= p.CGP || o >= p.G * p.OG) { return; }
  let g = o / p.OG;
  let og = o % p.OG;
  let live = c < p.CG;
  let cc = min(c, p.CG - 1u);
  var k: array<array<f32, R>, R>;
  //#unroll a R
  //#unroll b R
  {
    var idx = (o * p.Kp) + (cc * R + {a}u) * R + {b}u;
    if (p.flip != 0u) { idx = (g * p.CG + cc) * p.Kp + (og * R + R - 1u - {a}u) * R + R - 1u - {b}u; }
    k[{a}][{b}] = select(0.0, src[idx], live);
  }
  //#end
  //#end
  var tmp: array<array<f32, R>, ALPHA>;
  //#unroll i ALPHA
  //#unroll b R
  tmp[{i}][{b}] = 0.0;
  //#unroll a R
  tmp[{i}][{b}] += GM[{i} * R + {a}] * k[{a}][{b}];
  //#end
  //#end
  //#end
  let stride = p.G * p.OG * p.CGP;
  let out = o * p.CGP + c;
  //#unroll i ALPHA
  //#unroll j ALPHA
  {
    var v = 0.0;
    //#unroll b R
    v += tmp[{i}][{b}] * GM[{j} * R + {b}];
    //#end
    dst[({i} * ALPHA + {j}) * stride + out] = v;
  }
  //#end
  //#end
}

@group(0) @binding(3) var<storage, read> bias: array<f32>;

// src: M; dst: y (NCHW, whole batch), the chunk's images from n0. One thread per (tile, output channel).
@compute @workgroup_size(64, 1)
fn output(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  let o = gid.y;
  if (t >= p.P || o >= p.G * p.OG) { return; }
  let stride = p.G * p.OG * p.Pp;
  let at = o * p.Pp + t;
  var m: array<array<f32, ALPHA>, ALPHA>;
  //#unroll a ALPHA
  //#unroll b ALPHA
  m[{a}][{b}] = src[({a} * ALPHA + {b}) * stride + at];
  //#end
  //#end
  var tmp: array<array<f32, ALPHA>, TILE>;
  //#unroll i TILE
  //#unroll b ALPHA
  tmp[{i}][{b}] = 0.0;
  //#unroll a ALPHA
  tmp[{i}][{b}] += AT[{i} * ALPHA + {a}] * m[{a}][{b}];
  //#end
  //#end
  //#end
  var b0 = 0.0;
  if (p.hasBias != 0u) { b0 = bias[o]; }
  let tw = t % p.TW;
  let th = (t / p.TW) % p.TH;
  let n = t / (p.TW * p.TH);
  let rowBase = ((p.n0 + n) * p.G * p.OG + o) * p.OH;
  //#unroll i TILE
  //#unroll j TILE
  {
    var v = b0;
    //#unroll b ALPHA
    v += tmp[{i}][{b}] * AT[{j} * ALPHA + {b}];
    //#end
    // The ReLU after the layer, fused (relu = 1): the same max as its own kernel, one pass less.
    if (p.relu != 0u) { v = max(v, 0.0); }
    let oy = th * TILE + {i}u;
    let ox = tw * TILE + {j}u;
    if (oy < p.OH && ox < p.OW) { dst[(rowBase + oy) * p.OW + ox] = v; }
  }
  //#end
  //#end
}

// Weight gradient, pass 1. src: dy (NCHW, whole batch); dst: the transformed gradient A dy A^T of each TILE x TILE
// output tile, laid out as M is ([xi][g][o][t]). Tiles past the chunk write zeros.
@compute @workgroup_size(64, 1)
fn output_grad(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  let o = gid.y;
  if (t >= p.Pp || o >= p.G * p.OG) { return; }
  let live = t < p.P;
  let tw = t % p.TW;
  let th = (t / p.TW) % p.TH;
  let n = min(t / (p.TW * p.TH), p.nb - 1u);
  let rowBase = ((p.n0 + n) * p.G * p.OG + o) * p.OH;
  var e: array<array<f32, TILE>, TILE>;
  //#unroll i TILE
  //#unroll j TILE
  {
    let oy = th * TILE + {i}u;
    let ox = tw * TILE + {j}u;
    let v = src[(rowBase + min(oy, p.OH - 1u)) * p.OW + min(ox, p.OW - 1u)];
    e[{i}][{j}] = select(0.0, v, live && oy < p.OH && ox < p.OW);
  }
  //#end
  //#end
  // (A e A^T)[a][b] = sum_ij AT[i][a] e[i][j] AT[j][b]
  var tmp: array<array<f32, TILE>, ALPHA>;
  //#unroll a ALPHA
  //#unroll j TILE
  tmp[{a}][{j}] = 0.0;
  //#unroll i TILE
  tmp[{a}][{j}] += AT[{i} * ALPHA + {a}] * e[{i}][{j}];
  //#end
  //#end
  //#end
  let stride = p.G * p.OG * p.Pp;
  let out = o * p.Pp + t;
  //#unroll a ALPHA
  //#unroll b ALPHA
  {
    var v = 0.0;
    //#unroll j TILE
    v += tmp[{a}][{j}] * AT[{j} * ALPHA + {b}];
    //#end
    dst[({a} * ALPHA + {b}) * stride + out] = v;
  }
  //#end
  //#end
}

// Weight gradient, pass 2. src: dU [xi][g][o][CGP] (the GEMM of output_grad's result with V, summed over
// tiles); dst: dW [Cout][Kp] = G^T dU G per (o, c), overwritten; c = 0 also zeroes the row's padding.
@compute @workgroup_size(64, 1)
fn weight_grad(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let o = gid.y;
  if (c >= p.CG || o >= p.G * p.OG) { return; }
  let stride = p.G * p.OG * p.CGP;
  let at = o * p.CGP + c;
  var u: array<array<f32, ALPHA>, ALPHA>;
  //#unroll a ALPHA
  //#unroll b ALPHA
  u[{a}][{b}] = src[({a} * ALPHA + {b}) * stride + at];
  //#end
  //#end
  var tmp: array<array<f32, ALPHA>, R>;
  //#unroll k R
  //#unroll b ALPHA
  tmp[{k}][{b}] = 0.0;
  //#unroll a ALPHA
  tmp[{k}][{b}] += GM[{a} * R + {k}] * u[{a}][{b}];
  //#end
  //#end
  //#end
  //#unroll k R
  //#unroll l R
  {
    var v = 0.0;
    //#unroll b ALPHA
    v += tmp[{k}][{b}] * GM[{b} * R + {l}];
    //#end
    dst[o * p.Kp + (c * R + {k}u) * R + {l}u] = v;
  }
  //#end
  //#end
  if (c == 0u) {
    for (var k = p.CG * R * R; k < p.Kp; k++) { dst[o * p.Kp + k] = 0.0; }
  }
}
