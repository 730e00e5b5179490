// Converts between logical parameter layouts (docs/conventions.md) and the padded GPU layouts: rows of a
// [rows][cols] matrix are stored `colsP` wide (and `rowsP` rows), zero-filled, so GEMMs can load vec4s.

export function padMatrix(
  data: ArrayLike<number>,
  rows: number,
  cols: number,
  rowsP: number,
  colsP: number,
): Float32Array {
  if (data.length !== rows * cols) {
    throw new Error(`padMatrix: ${data.length} values, expected ${rows}x${cols}`);
  }
  if (rowsP === rows && colsP === cols) return Float32Array.from(data);
  const out = new Float32Array(rowsP * colsP);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * colsP + c] = data[r * cols + c];
  }
  return out;
}

export function unpadMatrix(
  data: ArrayLike<number>,
  rows: number,
  cols: number,
  colsP: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = data[r * colsP + c];
  }
  return out;
}
