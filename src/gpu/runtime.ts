// The handful of verbs every op is built from: allocate tensors (pooled), dispatch a kernel, read back.
//
// Dispatches are recorded into one command encoder (one compute pass) and submitted together: a whole training
// step becomes one or a few submissions. Uniform parameters go into a ring buffer written once per submission.

import { acquireDevice, type AdapterReport } from "./device.ts";
import { KernelCache, type KernelKey, type TemplateValues } from "./kernels.ts";
import { BufferPool } from "./pool.ts";
import { Tensor } from "./tensor.ts";

const UNIFORM_SLOT = 256; // bytes per dispatch; minUniformBufferOffsetAlignment is at most 256
const UNIFORM_RING_SLOTS = 4096;

/** Uniform values for one dispatch: each entry is written as u32 unless wrapped by f32(). */
export type ParamValue = number | { f32: number } | { i32: number };
/** Wraps a uniform value so run() writes it as f32 rather than u32. */
export const f32 = (v: number): ParamValue => ({ f32: v });
export const i32 = (v: number): ParamValue => ({ i32: v });

/** Work counters of a Gpu since it was created. */
export interface DispatchStats {
  /** Kernel dispatches recorded. */
  dispatches: number;
  /** Command buffers submitted to the queue. */
  submits: number;
}

/** One WebGPU device: its kernel cache, buffer pool and the one command stream every op records into. */
export class Gpu {
  /** The device's compiled pipelines. */
  readonly kernels: KernelCache;
  /** Where tensor() takes buffers from and Tensor.release() returns them to. */
  readonly pool: BufferPool;
  /** The adapter's maxStorageBufferBindingSize in bytes (128 MiB if unreported): a tensor's upper bound. */
  readonly maxBinding: number;
  /** The adapter's maxComputeWorkgroupsPerDimension (65535 when not reported). */
  readonly maxWorkgroups: number;
  /** Dispatches recorded and command buffers submitted so far. */
  readonly stats: DispatchStats = { dispatches: 0, submits: 0 };
  /** Prefixes profile labels (the network sets it to the layer being recorded). */
  scope = "";
  /**
   * Which kernel variants to use: "cpu" (large register blocks, few threads: what llvmpipe/SwiftShader run
   * fastest) or "gpu" (small blocks, many threads). Chosen from the adapter; ALEXNET_KERNELS=cpu|gpu overrides.
   */
  kernelVariant: "cpu" | "gpu";
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #uniform: GPUBuffer;
  #uniformBytes = new ArrayBuffer(UNIFORM_SLOT * UNIFORM_RING_SLOTS);
  #uniformView = new DataView(this.#uniformBytes);
  #slot = 0;
  #lostReason: string | null = null;
  #profile: { querySet: GPUQuerySet; labels: string[]; capacity: number } | null = null;
  #errors: string[] = [];
  /** While kernelsFor runs: the kernels its dispatches would compile (nothing is dispatched). */
  #collect: Map<string, KernelKey> | null = null;

  private constructor(readonly device: GPUDevice, readonly adapter: AdapterReport) {
    this.kernels = new KernelCache(device);
    this.pool = new BufferPool(device);
    this.maxBinding = adapter.limits.maxStorageBufferBindingSize ?? 134217728;
    this.maxWorkgroups = adapter.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    const forced = typeof Deno !== "undefined" ? Deno.env.get("ALEXNET_KERNELS") : undefined;
    this.kernelVariant = forced === "cpu" || forced === "gpu" ? forced : adapter.isSoftware ? "cpu" : "gpu";
    this.#uniform = device.createBuffer({
      label: "uniform ring",
      size: UNIFORM_SLOT * UNIFORM_RING_SLOTS,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.lost.then((info) => {
      this.#lostReason = `${info.reason}: ${info.message}`;
    });
    device.addEventListener("uncapturederror", (event) => {
      this.#errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** The default adapter's device with all its limits; throws when WebGPU or an adapter is missing. */
  static async create(): Promise<Gpu> {
    const { device, report } = await acquireDevice();
    return new Gpu(device, report);
  }

  /** Wraps a device acquired elsewhere; `report` gives its limits and whether it is a software rasteriser. */
  static fromDevice(device: GPUDevice, report: AdapterReport): Gpu {
    return new Gpu(device, report);
  }

  /** The adapter is a CPU rasteriser (llvmpipe, lavapipe, SwiftShader) or a fallback adapter. */
  get isSoftware(): boolean {
    return this.adapter.isSoftware;
  }

  /** A new tensor from the pool, contents undefined (or zero when asked). */
  tensor(shape: readonly number[], label = "", zero = false): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const bytes = size * 4;
    if (bytes > this.maxBinding) {
      throw new Error(
        `tensor ${label || "(unnamed)"} of shape [${shape.join(", ")}] needs ${
          (bytes / 2 ** 20).toFixed(1)
        } MiB, ` +
          `over this adapter's maxStorageBufferBindingSize of ${
            (this.maxBinding / 2 ** 20).toFixed(0)
          } MiB: ` +
          `lower the batch size or split the layer`,
      );
    }
    const t = new Tensor(this, shape, this.pool.acquire(Math.max(16, bytes)), label);
    if (zero) this.fill(t, 0);
    return t;
  }

  /** A new tensor holding `data` as float32 (written like write()); the caller owns it and releases it. */
  fromArray(shape: readonly number[], data: ArrayLike<number>, label = ""): Tensor {
    const t = this.tensor(shape, label);
    this.write(t, data);
    return t;
  }

  /**
   * Writes float32 values into `t` from element `elementOffset` on. A queue write: it takes effect before any
   * work recorded but not yet submitted.
   */
  write(t: Tensor, data: ArrayLike<number>, elementOffset = 0): void {
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    this.device.queue.writeBuffer(t.buffer, elementOffset * 4, arr as Float32Array<ArrayBuffer>);
  }

  /** Writes uint32 values (labels, indices) into `t` from element 0; a queue write, like write(). */
  writeU32(t: Tensor, data: ArrayLike<number>): void {
    const arr = data instanceof Uint32Array ? data : Uint32Array.from(data);
    this.device.queue.writeBuffer(t.buffer, 0, arr as Uint32Array<ArrayBuffer>);
  }

  /** Records setting every element of `t` to `value` (a buffer clear for 0, a kernel otherwise). */
  fill(t: Tensor, value: number): void {
    if (value === 0) {
      this.#endPass();
      this.#enc().clearBuffer(t.buffer, 0, t.size * 4);
      return;
    }
    this.run("util", "fill", [t], [t.size, f32(value)], this.grid1d(t.size));
  }

  /**
   * Records a copy of `elements` floats: src from element srcOffset on into dst from element dstOffset on.
   */
  copy(src: Tensor, dst: Tensor, elements = src.size, srcOffset = 0, dstOffset = 0): void {
    this.#endPass();
    this.#enc().copyBufferToBuffer(src.buffer, srcOffset * 4, dst.buffer, dstOffset * 4, elements * 4);
  }

  /** Workgroup counts for one thread per element with 256-thread workgroups, folded into 2-D past 65535. */
  grid1d(elements: number, perGroup = 256): [number, number, number] {
    const groups = Math.max(1, Math.ceil(elements / perGroup));
    if (groups <= this.maxWorkgroups) return [groups, 1, 1];
    const y = Math.ceil(groups / this.maxWorkgroups);
    return [Math.ceil(groups / y), y, 1];
  }

  /**
   * Records one dispatch. Binding 0 is the uniform block built from `params`; `buffers` bind at 1, 2, ...
   * The kernel must use exactly these bindings (layouts are derived from the shader); null skips a binding.
   */
  run(
    file: string,
    entry: string,
    buffers: readonly (Tensor | GPUBuffer | null)[],
    params: readonly ParamValue[],
    groups: readonly [number, number, number],
    template: TemplateValues = {},
    tag = "",
  ): void {
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    for (const g of groups) {
      if (g > this.maxWorkgroups) {
        throw new Error(`${file}.${entry}: ${g} workgroups exceed the adapter's limit ${this.maxWorkgroups}`);
      }
    }
    if (this.#collect) {
      if (!this.kernels.has(file, entry, template)) {
        this.#collect.set(`${file}:${entry}:${JSON.stringify(template)}`, { file, entry, values: template });
      }
      return;
    }
    const pipeline = this.kernels.pipeline(file, entry, template);
    if (this.#slot >= UNIFORM_RING_SLOTS) this.submit();
    const offset = this.#slot++ * UNIFORM_SLOT;
    params.forEach((p, i) => {
      if (typeof p === "number") this.#uniformView.setUint32(offset + 4 * i, p >>> 0, true);
      else if ("f32" in p) this.#uniformView.setFloat32(offset + 4 * i, p.f32, true);
      else this.#uniformView.setInt32(offset + 4 * i, p.i32, true);
    });
    const entries: GPUBindGroupEntry[] = [{
      binding: 0,
      resource: { buffer: this.#uniform, offset, size: UNIFORM_SLOT },
    }];
    buffers.forEach((b, i) => {
      if (b) entries.push({ binding: i + 1, resource: { buffer: b instanceof Tensor ? b.buffer : b } });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    let pass: GPUComputePassEncoder;
    if (this.#profile && this.#profile.labels.length < this.#profile.capacity) {
      // Profiling: one pass per dispatch, timestamped on the GPU at its start and end.
      this.#endPass();
      const index = this.#profile.labels.length;
      this.#profile.labels.push(
        `${this.scope ? `${this.scope} | ` : ""}${file}.${entry}${tag ? ` ${tag}` : ""}`,
      );
      pass = this.#enc().beginComputePass({
        timestampWrites: {
          querySet: this.#profile.querySet,
          beginningOfPassWriteIndex: 2 * index,
          endOfPassWriteIndex: 2 * index + 1,
        },
      });
      this.#pass = pass;
    } else {
      pass = this.#computePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.stats.dispatches++;
  }

  /** Inside kernelsFor's work: dispatches are skipped, so nothing computed now may be kept. */
  get skippingDispatches(): boolean {
    return this.#collect !== null;
  }

  /**
   * The kernels that `work` would compile, not compiled yet (for kernels.compile, which can say how far it
   * is): `work` runs with every dispatch skipped, so what it computes is garbage and must be thrown away.
   * Tensors are allocated as usual; clears and copies it recorded are submitted before this returns, so they
   * cannot land on buffers that later work writes.
   */
  kernelsFor(work: () => void): KernelKey[] {
    if (this.#collect) throw new Error("kernelsFor does not nest");
    this.submit();
    this.#collect = new Map();
    try {
      work();
      return [...this.#collect.values()];
    } finally {
      this.#collect = null;
      this.submit();
    }
  }

  /** Sends what was recorded. Cheap when nothing was. */
  submit(): void {
    this.#endPass();
    if (!this.#encoder) return;
    if (this.#slot > 0) {
      this.device.queue.writeBuffer(this.#uniform, 0, this.#uniformBytes, 0, this.#slot * UNIFORM_SLOT);
    }
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#slot = 0;
    this.stats.submits++;
  }

  /** Submits, waits for the GPU to finish, then throws on a lost device or validation errors. */
  async sync(): Promise<void> {
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }

  /** Throws if the device was lost, or with the validation errors reported since the last call. */
  throwIfFailed(): void {
    if (this.#lostReason) throw new Error(`GPU device lost (${this.#lostReason})`);
    if (this.#errors.length) {
      const msg = this.#errors.splice(0).join("\n");
      throw new Error(`WebGPU validation error:\n${msg}`);
    }
  }

  /** Reads elements back to the CPU: the only place the CPU waits for the GPU. */
  async read(t: Tensor | GPUBuffer, elements?: number, elementOffset = 0): Promise<Float32Array> {
    const bytes = await this.readBytes(t, elements, elementOffset);
    return new Float32Array(bytes);
  }

  /** Like read(), for uint32 data, from element 0. */
  async readU32(t: Tensor | GPUBuffer, elements?: number): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(t, elements));
  }

  /**
   * The raw bytes of `elements` 4-byte elements from `elementOffset` (default: the whole tensor or buffer).
   * Submits recorded work and waits for it.
   */
  async readBytes(t: Tensor | GPUBuffer, elements?: number, elementOffset = 0): Promise<ArrayBuffer> {
    const buffer = t instanceof Tensor ? t.buffer : t;
    const count = elements ?? (t instanceof Tensor ? t.size : buffer.size / 4);
    const bytes = count * 4;
    const staging = this.device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 4) * 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#endPass();
    this.#enc().copyBufferToBuffer(buffer, elementOffset * 4, staging, 0, bytes);
    this.submit();
    await staging.mapAsync(GPUMapMode.READ);
    this.throwIfFailed();
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Starts GPU-timestamped profiling of each dispatch (needs the adapter's timestamp-query feature). */
  startProfiling(capacity = 2048): boolean {
    if (!this.device.features.has("timestamp-query")) return false;
    this.#profile?.querySet.destroy();
    this.#profile = {
      querySet: this.device.createQuerySet({ type: "timestamp", count: 2 * capacity }),
      labels: [],
      capacity,
    };
    return true;
  }

  /** Stops profiling and returns milliseconds per kernel entry point, in first-seen order. */
  async stopProfiling(): Promise<Map<string, { ms: number; count: number }>> {
    const prof = this.#profile;
    const out = new Map<string, { ms: number; count: number }>();
    if (!prof) return out;
    this.#profile = null;
    const count = prof.labels.length;
    if (count === 0) return out;
    const resolved = this.device.createBuffer({
      size: 16 * count,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.#endPass();
    this.#enc().resolveQuerySet(prof.querySet, 0, 2 * count, resolved, 0);
    const bytes = await this.readBytes(resolved, 4 * count);
    const ticks = new BigUint64Array(bytes);
    prof.labels.forEach((label, i) => {
      const ms = Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6;
      const e = out.get(label) ?? { ms: 0, count: 0 };
      e.ms += ms;
      e.count++;
      out.set(label, e);
    });
    resolved.destroy();
    prof.querySet.destroy();
    return out;
  }

  /** Releases each tensor given, skipping null and undefined. */
  release(...tensors: (Tensor | null | undefined)[]): void {
    for (const t of tensors) if (t) t.release();
  }

  /**
   * Submits, then destroys the free pooled buffers, the uniform ring and the device: the Gpu is unusable
   * after.
   */
  destroy(): void {
    this.submit();
    this.pool.destroy();
    this.#uniform.destroy();
    this.device.destroy();
  }

  #enc(): GPUCommandEncoder {
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) this.#pass = this.#enc().beginComputePass();
    return this.#pass;
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }
}
