// C[z] = op(A[z]) * op(B[z]) (+ C[z] when accumulating) (+ bias), register-blocked, vec4 loads.
//
// Three layouts, so no operand is ever transposed in memory:
//   nn: A is [M][K] (vec4 along K), B is [K][N] (vec4 along N), C vec4 along N.
//   nt: A is [M][K], B is stored [N][K] (both vec4 along K), C written as scalars.
//   tn: A is stored [K][M] (vec4 along M), B is [K][N], C vec4 along N.
// The vec4-contiguous dimensions, leading dimensions and offsets must be multiples of 4: callers pad (the
// layouts in src/nn keep K and channel counts padded). Rows and columns past M and N are loaded unclamped
// (WebGPU bounds every access to its buffer, and those lanes' results are discarded) and masked on store, so
// any M and N work: a clamp in the inner loop halves llvmpipe's speed. On CPU adapters (llvmpipe) register blocking without workgroup memory
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
  let lda4 = p.lda / 4u;
  let ldb4 = p.ldb / 4u;
  let aBase = (p.offA + z * p.strideA) / 4u;
  let bBase = (p.offB + z * p.strideB) / 4u;
  let n4 = n0 / 4u;
  var acc: array<array<vec4f, TN4>, TM>;
  for (var k4 = 0u; k4 < p.K / 4u; k4++) {
    var a: array<vec4f, TM>;
    //#unroll i TM
    a[{i}] = A[aBase + (m0 + {i}u) * lda4 + k4];
    //#end
    //#unroll kk 4
    {
      let row = bBase + (k4 * 4u + {kk}u) * ldb4 + n4;
      var b: array<vec4f, TN4>;
      //#unroll j TN4
      b[{j}] = B[row + {j}u];
      //#end
      //#unroll i TM
      //#unroll j TN4
      acc[{i}][{j}] = fma(vec4f(a[{i}][{kk}]), b[{j}], acc[{i}][{j}]);
      //#end
      //#end
    }
    //#end
  }
  //#unroll i TM
  //#unroll j TN4
  if (m0 + {i}u < p.M && n0 + {j}u * 4u < p.N) { storeVec(m0 + {i}u, n0 + {j}u * 4u, z, acc[{i}][{j}]); }
  //#end
  //#end
}

// nt: outputs are TM x TNS scalars per thread; each step reads TM + TNS vec4s (4 values of K each).
const TNS: u32 = {{TNS}};

@compute @workgroup_size({{WGX}}, {{WGY}})
fn nt(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TNS;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let lda4 = p.lda / 4u;
  let ldb4 = p.ldb / 4u;
  let aBase = (p.offA + z * p.strideA) / 4u + m0 * lda4;
  let bBase = (p.offB + z * p.strideB) / 4u + n0 * ldb4;
  var acc: array<array<f32, TNS>, TM>;
  for (var k4 = 0u; k4 < p.K / 4u; k4++) {
    var a: array<vec4f, TM>;
    //#unroll i TM
    a[{i}] = A[aBase + {i}u * lda4 + k4];
    //#end
    //#unroll j TNS
    {
      let b = B[bBase + {j}u * ldb4 + k4];
      //#unroll i TM
      acc[{i}][{j}] = fma(a[{i}].w, b.w, fma(a[{i}].z, b.z, fma(a[{i}].y, b.y, fma(a[{i}].x, b.x, acc[{i}][{j}]))));
      //#end
    }
    //#end
  }
  // C is bound as vec4 for nn/tn; nt writes scalars through a component of the enclosing vec4.
  //#unroll i TM
  //#unroll j TNS
  if (m0 + {i}u < p.M && n0 + {j}u < p.N) { storeScalar(m0 + {i}u, n0 + {j}u, z, acc[{i}][{j}]); }
  //#end
  //#end
}

fn storeScalar(m: u32, n: u32, z: u32, value: f32) {
  let flat = p.offC + z * p.strideC + m * p.ldc + n;
  var v = value + biasFor(m, n, z);
  if (p.accumulate != 0u) { v += C[flat / 4u][flat % 4u]; }
  C[flat / 4u][flat % 4u] = v;
}

@compute @workgroup_size({{WGX}}, {{WGY}})
fn tn(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TN4 * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let lda4 = p.lda / 4u;
  let ldb4 = p.ldb / 4u;
  let aBase = (p.offA + z * p.strideA + m0) / 4u;
  let bBase = (p.offB + z * p.strideB + n0) / 4u;
  var acc: array<array<vec4f, TN4>, TM>;
  for (var k = 0u; k < p.K; k++) {
    var b: array<vec4f, TN4>;
    //#unroll j TN4
    b[{j}] = B[bBase + k * ldb4 + {j}u];
    //#end
    //#unroll q TM4
    let a{q} = A[aBase + k * lda4 + {q}u];
    //#unroll c 4
    //#unroll j TN4
    acc[{q} * 4 + {c}][{j}] = fma(vec4f(a{q}[{c}]), b[{j}], acc[{q} * 4 + {c}][{j}]);
    //#end
    //#end
    //#end
  }
  //#unroll i TM
  //#unroll j TN4
  if (m0 + {i}u < p.M && n0 + {j}u * 4u < p.N) { storeVec(m0 + {i}u, n0 + {j}u * 4u, z, acc[{i}][{j}]); }
  //#end
  //#end
}
