/**
 * Winograd minimal filtering F(m, r) (Lavin and Gray 2016): the transform matrices, built by Toom-Cook from
 * interpolation points. The GPU engine (src/nn/ops/winograd.ts) compiles them into its kernels; the float64
 * reference (src/reference/winograd.ts) convolves through them to check those kernels.
 *
 * 1-D: y = A^T [(G g) * (B^T d)] computes y_i = sum_k d_{i+k} g_k (correlation, as conv layers do) for
 * i < m, k < r, with alpha = m + r - 1 multiplications. 2-D nests it: Y = A^T [(G g G^T) * (B^T d B)] A.
 */

export interface WinogradMatrices {
  m: number;
  r: number;
  alpha: number;
  /** alpha x alpha, row-major. */
  BT: Float64Array;
  /** alpha x r. */
  G: Float64Array;
  /** m x alpha. */
  AT: Float64Array;
}

/** Finite interpolation points; the last row of each matrix is the point at infinity. Small ones keep fp32 exact-ish. */
const POINTS = [0, 1, -1, 2, -2, 0.5, -0.5];

/**
 * Toom-Cook: AT and G are Vandermonde rows at the points (the 1/f_j Lagrange scale goes into G, so the
 * data transforms B^T and A^T keep small integer entries); B^T is the unique matrix completing the identity,
 * solved column by column in float64 and checked.
 */
export function winogradMatrices(m: number, r: number): WinogradMatrices {
  const alpha = m + r - 1;
  if (alpha - 1 > POINTS.length) throw new Error(`winograd F(${m}, ${r}) needs more interpolation points`);
  const pts = POINTS.slice(0, alpha - 1);
  const AT = new Float64Array(m * alpha);
  const G = new Float64Array(alpha * r);
  for (let j = 0; j < alpha - 1; j++) {
    let f = 1;
    for (let l = 0; l < alpha - 1; l++) if (l !== j) f *= pts[j] - pts[l];
    for (let i = 0; i < m; i++) AT[i * alpha + j] = pts[j] ** i;
    for (let k = 0; k < r; k++) G[j * r + k] = pts[j] ** k / f;
  }
  AT[(m - 1) * alpha + alpha - 1] = 1;
  G[(alpha - 1) * r + r - 1] = 1;
  // Each column t of B^T solves sum_j AT[i][j] G[j][k] BT[j][t] = [t == i + k] over all (i, k).
  const rows = m * r;
  const C = new Float64Array(rows * alpha);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < r; k++) {
      for (let j = 0; j < alpha; j++) C[(i * r + k) * alpha + j] = AT[i * alpha + j] * G[j * r + k];
    }
  }
  const BT = new Float64Array(alpha * alpha);
  for (let t = 0; t < alpha; t++) {
    const rhs = new Float64Array(rows);
    for (let i = 0; i < m; i++) for (let k = 0; k < r; k++) rhs[i * r + k] = t === i + k ? 1 : 0;
    const x = leastSquares(C, rhs, rows, alpha);
    // With the Lagrange scale in G the entries are integers; rounding removes the solver's last-bit noise.
    for (let j = 0; j < alpha; j++) {
      BT[j * alpha + t] = Math.abs(x[j] - Math.round(x[j])) < 1e-9 ? Math.round(x[j]) : x[j];
    }
    for (let e = 0; e < rows; e++) {
      let s = 0;
      for (let j = 0; j < alpha; j++) s += C[e * alpha + j] * x[j];
      if (Math.abs(s - rhs[e]) > 1e-9) {
        throw new Error(`winograd F(${m}, ${r}): no exact B^T (residual ${s - rhs[e]})`);
      }
    }
  }
  return { m, r, alpha, BT, G, AT };
}

/** Solves min |C x - b| through the normal equations, by Gaussian elimination with partial pivoting. */
function leastSquares(C: Float64Array, b: Float64Array, rows: number, cols: number): Float64Array {
  const A = new Float64Array(cols * (cols + 1));
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let e = 0; e < rows; e++) s += C[e * cols + i] * C[e * cols + j];
      A[i * (cols + 1) + j] = s;
    }
    let s = 0;
    for (let e = 0; e < rows; e++) s += C[e * cols + i] * b[e];
    A[i * (cols + 1) + cols] = s;
  }
  const w = cols + 1;
  for (let c = 0; c < cols; c++) {
    let piv = c;
    for (let i = c + 1; i < cols; i++) if (Math.abs(A[i * w + c]) > Math.abs(A[piv * w + c])) piv = i;
    for (let j = 0; j < w; j++) [A[c * w + j], A[piv * w + j]] = [A[piv * w + j], A[c * w + j]];
    for (let i = 0; i < cols; i++) {
      if (i === c) continue;
      const f = A[i * w + c] / A[c * w + c];
      for (let j = c; j < w; j++) A[i * w + j] -= f * A[c * w + j];
    }
  }
  return Float64Array.from({ length: cols }, (_, i) => A[i * w + cols] / A[i * w + i]);
}
