// The GPU variant of kernels/matmul.wgsl: C[z] = op(A[z]) * op(B[z]) (+ C) (+ bias) with classic workgroup
// tiles. Each workgroup of 16x16 threads stages a BK-deep slice of A and B in workgroup memory (coalesced
// loads), then every thread accumulates a 4x4 block of C from it. Real GPUs hide memory latency with many threads
// and shared tiles; CPU rasterisers run this form slowly (see kernels/matmul.wgsl), so the runtime picks per
// adapter. Layout flags follow matmul.wgsl: A_T = A stored [K][M] ("tn"), B_T = B stored [N][K] ("nt").
// Scalar loads, so no alignment is required; out-of-range rows, columns and K are zero-filled.

struct Params {
  M: u32, N: u32, K: u32, lda: u32,
  ldb: u32, ldc: u32, offA: u32, offB: u32,
  offC: u32, strideA: u32, strideB: u32, strideC: u32,
  accumulate: u32, biasMode: u32, offBias: u32, strideBias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const A_T: bool = {{A_T}};
const B_T: bool = {{B_T}};
const TILE: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> As: array<array<f32, TILE>, BK>;
var<workgroup> Bs: array<array<f32, TILE>, BK>;

fn loadA(z: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  let base = p.offA + z * p.strideA;
  if (A_T) { return A[base + k * p.lda + m]; }
  return A[base + m * p.lda + k];
}

fn loadB(z: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  let base = p.offB + z * p.strideB;
  if (B_T) { return B[base + n * p.ldb + k]; }
  return B[base + k * p.ldb + n];
}

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let z = wid.z;
  let rowBase = wid.y * TILE;
  let colBase = wid.x * TILE;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // 256 threads stage 16x64 values of each operand: four each.
    for (var r = 0u; r < 4u; r++) {
      let e = li + r * 256u;
      let kk = e / TILE;
      let mm = e % TILE;
      As[kk][mm] = loadA(z, rowBase + mm, k0 + kk);
      Bs[kk][mm] = loadB(z, k0 + kk, colBase + mm);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[kk][lid.y * 4u + i]; }
      for (var j = 0u; j < 4u; j++) { b[j] = Bs[kk][lid.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  let ob = p.offBias + z * p.strideBias;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let m = rowBase + lid.y * 4u + i;
      let n = colBase + lid.x * 4u + j;
      if (m < p.M && n < p.N) {
        let idx = p.offC + z * p.strideC + m * p.ldc + n;
        var v = acc[i][j];
        if (p.accumulate != 0u) { v += C[idx]; }
        if (p.biasMode == 1u) { v += bias[ob + m]; }
        if (p.biasMode == 2u) { v += bias[ob + n]; }
        C[idx] = v;
      }
    }
  }
}
