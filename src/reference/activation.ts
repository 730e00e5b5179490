/** Elementwise activations. */
import { type Arr, checkLen } from "./shapes.ts";

/** y = max(x, 0), elementwise. */
export function reluForward(x: Arr): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** Passes dy where the activation is positive; relu(x) > 0 exactly when x > 0, so y or x both work. */
export function reluBackward(yOrX: Arr, dy: Arr): Float64Array {
  checkLen("relu dy", dy, yOrX.length);
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = yOrX[i] > 0 ? dy[i] : 0;
  return dx;
}

/** y = tanh(x), elementwise. */
export function tanhForward(x: Arr): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = Math.tanh(x[i]);
  return y;
}

/** Takes y = tanh(x): dx = dy * (1 - y^2). */
export function tanhBackward(y: Arr, dy: Arr): Float64Array {
  checkLen("tanh dy", dy, y.length);
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
  return dx;
}
