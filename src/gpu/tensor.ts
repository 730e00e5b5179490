// A float32 array living in one pooled GPU buffer. Shapes are logical; layouts are in docs/conventions.md.

import type { Gpu } from "./runtime.ts";

/**
 * A float32 array in one pooled GPU buffer, with a logical shape (docs/conventions.md); its owner calls
 * release().
 */
export class Tensor {
  /** Number of elements: the product of the shape. */
  readonly size: number;
  #released = false;
  /** Wraps a buffer from `gpu`'s pool; Gpu.tensor() and Gpu.fromArray() are the usual way to make one. */
  constructor(
    readonly gpu: Gpu,
    readonly shape: readonly number[],
    readonly buffer: GPUBuffer,
    readonly label: string,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  /** release() has been called. */
  get released(): boolean {
    return this.#released;
  }

  /** Reads the whole tensor back to the CPU (Gpu.read). */
  read(): Promise<Float32Array> {
    return this.gpu.read(this);
  }

  /** Returns the buffer to the pool; the tensor must not be used afterwards. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.gpu.pool.release(this.buffer);
  }
}
