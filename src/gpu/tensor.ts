// A float32 array living in one pooled GPU buffer. Shapes are logical; layouts are in docs/conventions.md.

import type { Gpu } from "./runtime.ts";

export class Tensor {
  readonly size: number;
  #released = false;
  constructor(
    readonly gpu: Gpu,
    readonly shape: readonly number[],
    readonly buffer: GPUBuffer,
    readonly label: string,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  get released(): boolean {
    return this.#released;
  }

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
