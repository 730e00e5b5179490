// C[z] = op(A[z]) * op(B[z]) (+ C[z] when accumulating) (+ bias), register-blocked, vec4 loads.
//
// Three layouts, so no operand is ever transposed in memory:
//   nn: A is [M][K] (vec4 along K), B is [K][N] (vec4 along N), C vec4 along N.
//   nt: A is [M][K], B is stored [N][K] (both vec4 along K), C written as scalars.
//   tn: A is stored [K][M] (vec4 along M), B is [K][N], C vec4 along N.
// The vec4-contiguous dimensions, leading dimensions and offsets must be multiples of 4: callers pad (the
// layouts in src/nn keep K and channel counts padded). Rows and columns past M and N are clamped on load and
// masked on store, so any M and N work. On CPU adapters (llvmpipe) register blocking without workgroup memory
// is the fast form; {{TM}} x {{TN4}}*4 outputs per thread.

struct Params {
  M: u32, N: u32, K: u32, lda: u32,
  ldb: u32, ldc: u32, offA: u32, offB: u32,
  offC: u32, strideA: u32, strideB: u32, strideC: u32,
  accumulate: u32, biasMode: u32, offBias: u32, strideBias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
@group(0) @binding(2) var<storage, read> B: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TM: u32 = {{TM}};
const TN4: u32 = {{TN4}};
const TM4: u32 = TM / 4u;

// biasMode: 0 none, 1 one value per row of C, 2 one value per column of C.
fn biasFor(m: u32, n: u32, z: u32) -> f32 {
  let o = p.offBias + z * p.strideBias;
  if (p.biasMode == 1u) { return bias[o + m]; }
  if (p.biasMode == 2u) { return bias[o + n]; }
  return 0.0;
}

fn storeVec(m: u32, n: u32, z: u32, v: vec4f) {
  let idx = (p.offC + z * p.strideC + m * p.ldc + n) / 4u;
  var out = v;
  if (p.accumulate != 0u) { out += C[idx]; }
  let ob = p.offBias + z * p.strideBias;
  if (p.biasMode == 1u) { out += vec4f(bias[ob + m]); }
  if (p.biasMode == 2u) {
    let o = ob + n;
    out += vec4f(bias[o], bias[o + 1u], bias[o + 2u], bias[o + 3u]);
  }
  C[idx] = out;
}

@compute @workgroup_size({{WGX}}, {{WGY}})
fn nn(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TN4 * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  var acc: array<array<vec4f, TN4>, TM>;
  var arow: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { arow[i] = (p.offA + z * p.strideA + min(m0 + i, p.M - 1u) * p.lda) / 4u; }
  var bcol: array<u32, TN4>;
  let lastCol = (p.N - 1u) / 4u;
  for (var j = 0u; j < TN4; j++) { bcol[j] = (p.offB + z * p.strideB) / 4u + min(n0 / 4u + j, lastCol); }
  let ldb4 = p.ldb / 4u;
  for (var k = 0u; k < p.K; k += 4u) {
    var a: array<vec4f, TM>;
    for (var i = 0u; i < TM; i++) { a[i] = A[arow[i] + k / 4u]; }
    for (var kk = 0u; kk < 4u; kk++) {
      var b: array<vec4f, TN4>;
      let row = (k + kk) * ldb4;
      for (var j = 0u; j < TN4; j++) { b[j] = B[row + bcol[j]]; }
      for (var i = 0u; i < TM; i++) {
        let av = vec4f(a[i][kk]);
        for (var j = 0u; j < TN4; j++) { acc[i][j] = fma(av, b[j], acc[i][j]); }
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TN4; j++) {
      let n = n0 + 4u * j;
      if (n >= p.N) { break; }
      storeVec(m, n, z, acc[i][j]);
    }
  }
}

// nt: outputs are TM x TNS scalars per thread; each step reads TM + TNS vec4s (4 values of K each).
const TNS: u32 = {{TNS}};

@compute @workgroup_size({{WGX}}, {{WGY}})
fn nt(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TNS;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  var acc: array<array<f32, TNS>, TM>;
  var arow: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { arow[i] = (p.offA + z * p.strideA + min(m0 + i, p.M - 1u) * p.lda) / 4u; }
  var brow: array<u32, TNS>;
  for (var j = 0u; j < TNS; j++) { brow[j] = (p.offB + z * p.strideB + min(n0 + j, p.N - 1u) * p.ldb) / 4u; }
  for (var k4 = 0u; k4 < p.K / 4u; k4++) {
    var a: array<vec4f, TM>;
    for (var i = 0u; i < TM; i++) { a[i] = A[arow[i] + k4]; }
    for (var j = 0u; j < TNS; j++) {
      let b = B[brow[j] + k4];
      for (var i = 0u; i < TM; i++) { acc[i][j] += dot(a[i], b); }
    }
  }
  // C is bound as vec4 for nn/tn; nt writes scalars through a component of the enclosing vec4.
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TNS; j++) {
      let n = n0 + j;
      if (n >= p.N) { break; }
      let flat = p.offC + z * p.strideC + m * p.ldc + n;
      var v = acc[i][j] + biasFor(m, n, z);
      if (p.accumulate != 0u) { v += C[flat / 4u][flat % 4u]; }
      C[flat / 4u][flat % 4u] = v;
    }
  }
}

@compute @workgroup_size({{WGX}}, {{WGY}})
fn tn(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TN4 * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  var acc: array<array<vec4f, TN4>, TM>;
  var acol: array<u32, TM4>;
  let lastRow4 = (p.M - 1u) / 4u;
  for (var i = 0u; i < TM4; i++) { acol[i] = (p.offA + z * p.strideA) / 4u + min(m0 / 4u + i, lastRow4); }
  var bcol: array<u32, TN4>;
  let lastCol = (p.N - 1u) / 4u;
  for (var j = 0u; j < TN4; j++) { bcol[j] = (p.offB + z * p.strideB) / 4u + min(n0 / 4u + j, lastCol); }
  let lda4 = p.lda / 4u;
  let ldb4 = p.ldb / 4u;
  for (var k = 0u; k < p.K; k++) {
    var b: array<vec4f, TN4>;
    for (var j = 0u; j < TN4; j++) { b[j] = B[k * ldb4 + bcol[j]]; }
    for (var i4 = 0u; i4 < TM4; i4++) {
      let a = A[k * lda4 + acol[i4]];
      for (var c = 0u; c < 4u; c++) {
        let av = vec4f(a[c]);
        for (var j = 0u; j < TN4; j++) { acc[i4 * 4u + c][j] = fma(av, b[j], acc[i4 * 4u + c][j]); }
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TN4; j++) {
      let n = n0 + 4u * j;
      if (n >= p.N) { break; }
      storeVec(m, n, z, acc[i][j]);
    }
  }
}
