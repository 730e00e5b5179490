// A conv layer's weights in the form its forward kernel reads (Winograd's transformed filters U, the direct
// kernel's transpose), kept from one inference pass to the next: classifying or evaluating batch after batch
// would otherwise rebuild them from unchanged weights every time (about 4% of one-tower AlexNet at batch 1).
import type { Tensor } from "../../gpu/tensor.ts";

/** One conv layer's prepared weights, rebuilt when the weights' version or the layout changes. */
export class PreparedWeights {
  #tensor: Tensor | null = null;
  #key = "";

  /** `version` names the state of the weights; their owner changes it whenever it writes them. */
  constructor(private readonly version: () => number) {}

  /**
   * The prepared tensor for the current weights and `shape` (a layout's own description, e.g. the tensor's
   * dimensions), built by `build` when either changed since the last call. It stays owned by this object.
   */
  get(shape: string, build: () => Tensor): Tensor {
    const key = `${this.version()}|${shape}`;
    if (this.#tensor && this.#key === key) return this.#tensor;
    this.release();
    this.#tensor = build();
    this.#key = key;
    return this.#tensor;
  }

  /** Frees the kept tensor; the next get() builds it again. */
  release(): void {
    this.#tensor?.release();
    this.#tensor = null;
  }
}
