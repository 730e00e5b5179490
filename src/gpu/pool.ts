// Reuses GPU buffers by size class so a training step allocates nothing after its first run.
//
// Buffers are handed out and returned in stream order, like a caching allocator on one queue: a buffer released
// while recorded work still uses it is only reused by work recorded later, which the queue runs after.

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Sizes round up to 1/8 steps of a power of two: at most 12.5% waste, few distinct classes. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(256, p / 8);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  allocated = 0;
  allocations = 0;
  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    const reused = list?.pop();
    if (reused) return reused;
    this.allocated += size;
    this.allocations++;
    return this.device.createBuffer({ size, usage: USAGE });
  }

  release(buffer: GPUBuffer): void {
    const list = this.#free.get(buffer.size);
    if (list) list.push(buffer);
    else this.#free.set(buffer.size, [buffer]);
  }

  destroy(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
  }
}
