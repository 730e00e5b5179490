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

/** Free GPU storage buffers by size class (sizeClass), reused in stream order (see the file comment). */
export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  /** Bytes of all buffers created so far, counted by size class; released buffers still count. */
  allocated = 0;
  /** Number of buffers created so far (acquire() calls that found no free buffer of their class). */
  allocations = 0;
  /** An empty pool creating buffers on `device`, with usage STORAGE, COPY_SRC and COPY_DST. */
  constructor(private readonly device: GPUDevice) {}

  /** A buffer of at least `bytes`: a free one of its size class, else a new one; contents undefined. */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    const reused = list?.pop();
    if (reused) return reused;
    this.allocated += size;
    this.allocations++;
    return this.device.createBuffer({ size, usage: USAGE });
  }

  /** Takes back a buffer from acquire() for work recorded later; the caller must not use it again. */
  release(buffer: GPUBuffer): void {
    const list = this.#free.get(buffer.size);
    if (list) list.push(buffer);
    else this.#free.set(buffer.size, [buffer]);
  }

  /** Destroys the free buffers (not those still handed out) and empties the pool. */
  destroy(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
  }
}
