// A conv layer's weights in the form its forward kernel reads (Winograd's transformed filters U, the direct
// kernel's transpose), kept from one inference pass to the next: classifying or evaluating batch after batch
// would otherwise rebuild them from unchanged weights every time (about 4% of one-tower AlexNet at batch 1).
import type { Tensor } from "../../gpu/tensor.ts";

/**
 * One conv layer's prepared weights. Whoever writes the weights calls release(); the next get() builds them
 * again from the new values.
 */
export class PreparedWeights {
  #tensor: Tensor | null = null;
  #shape = "";

  /**
   * The prepared tensor for `shape` (a layout's own description, e.g. the tensor's dimensions), built by
   * `build` when nothing is kept or the shape changed. It stays owned by this object.
   */
  get(shape: string, build: () => Tensor): Tensor {
    if (this.#tensor && this.#shape === shape) return this.#tensor;
    this.release();
    this.#tensor = build();
    this.#shape = shape;
    return this.#tensor;
  }

  /** Frees the kept tensor (the weights changed, or their owner is done); the next get() builds it again. */
  release(): void {
    this.#tensor?.release();
    this.#tensor = null;
  }
}
