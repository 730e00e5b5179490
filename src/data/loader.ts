/**
 * Seeded, resumable mini-batches over an ImageSet, producing float NCHW input for the network.
 *
 * Determinism: the order of epoch e is permutation(count, seed, e); the random crop, flip and PCA colour shift of
 * the sample at position p of epoch e come from Rng(seed, e, p). Nothing depends on earlier draws, so the state
 * is just {epoch, index} and restore() reproduces exactly the batches an uninterrupted run would have produced.
 *
 * Prefetch: JavaScript runs one thing at a time, so "in the background" means "while the GPU is busy". The
 * trainer submits its GPU work for batch k, calls loader.prefetch() (which prepares batch k+1 synchronously on the
 * CPU while the GPU executes), then awaits the GPU; the following next() returns the prepared batch at once.
 */
import type { ImageSet } from "./types.ts";
import { imageSize } from "./types.ts";
import { permutation, Rng } from "./rng.ts";
import { centerCropSpec, type CropSpec, pcaShift, type RgbPca, tenCropSpecs, writeCrop } from "./augment.ts";

/** How BatchLoader crops, augments, scales and orders the images. */
export interface LoaderOptions {
  /** Images per batch, a positive integer; the last batch of an epoch has fewer unless dropLast. */
  batchSize: number;
  /** Side of the square network input; default the stored size (no crop; needs a square stored image). */
  crop?: number;
  /** Random crop position (training) instead of the centre (evaluation). Default false. */
  randomCrop?: boolean;
  /** Random horizontal mirror with probability 1/2. Default false. */
  flip?: boolean;
  /** Std of the PCA colour-noise coefficients alpha_i (0.1 in the paper; 0 = off, the default). */
  pcaNoise?: number;
  /** Eigen-decomposition from computeRgbPca with the same `scale`; required when pcaNoise > 0. */
  pca?: RgbPca | null;
  /** Mean image (C*H*W at stored size, raw 0-255 units), subtracted before cropping. Default none. */
  mean?: Float32Array | null;
  /** Multiplier after mean subtraction, e.g. 1/255 (default) or 1 (the paper's raw scale). */
  scale?: number;
  /** Seed of the shuffle and of every random crop, mirror and colour shift (default 0). */
  seed?: number;
  /** Shuffle every epoch (default true). Off: images in stored order. */
  shuffle?: boolean;
  /** Drop the final incomplete batch of an epoch (default false). */
  dropLast?: boolean;
  /**
   * Reuse two output buffers in turn instead of allocating per batch (default false). A batch's x and labels
   * then stay valid only until two further batches have been prepared (next() or prefetch()).
   */
  reuseBuffers?: boolean;
}

/** One mini-batch from BatchLoader.next(). */
export interface Batch {
  /** n*C*crop*crop floats, NCHW. */
  x: Float32Array;
  /** n labels, in batch order. */
  labels: Int32Array;
  /** Images in the batch: batchSize, or fewer in the last batch of an epoch. */
  n: number;
  /** Indices of the images in the ImageSet. */
  indices: Int32Array;
  /** Epoch the batch belongs to, from 0. */
  epoch: number;
  /** Position in the epoch's order of the first sample. */
  index: number;
  /** This batch completes its epoch. */
  last: boolean;
}

/** A BatchLoader's position: all restore() needs to continue exactly. */
export interface LoaderState {
  /** Epoch of the next batch, from 0. */
  epoch: number;
  /** Position of the next batch's first sample in that epoch's order. */
  index: number;
}

/** Seeded, resumable mini-batches over an ImageSet as float NCHW input (see the file comment). */
export class BatchLoader {
  /** The images batched. */
  readonly set: ImageSet;
  /** Images per batch. */
  readonly batchSize: number;
  /** Side of the square network input. */
  readonly crop: number;
  /** Random crop positions rather than the centre. */
  readonly randomCrop: boolean;
  /** Random horizontal mirroring, with probability 1/2. */
  readonly flip: boolean;
  /** Std of the PCA colour-noise coefficients; 0 is off. */
  readonly pcaNoise: number;
  /** The colour-noise basis, or null. */
  readonly pca: RgbPca | null;
  /** Mean image subtracted before cropping (C*H*W at stored size, raw 0-255 units), or null. */
  readonly mean: Float32Array | null;
  /** Multiplier applied after mean subtraction. */
  readonly scale: number;
  /** Seed of the order and of the augmentation. */
  readonly seed: number;
  /** Each epoch in a fresh random order; else stored order. */
  readonly shuffle: boolean;
  /** The final incomplete batch of each epoch is dropped. */
  readonly dropLast: boolean;
  /** Batches share two output buffers in turn (see LoaderOptions.reuseBuffers). */
  readonly reuseBuffers: boolean;
  #epoch = 0;
  #index = 0;
  #order: Int32Array | null = null;
  #orderEpoch = -1;
  #prefetched: Batch | null = null;
  #buffers: { x: Float32Array; labels: Int32Array; indices: Int32Array }[] = [];
  #nextBuffer = 0;
  #shift: Float32Array;

  /**
   * Checks the options against the images; throws on a bad batch size, a crop that does not fit, a mean of
   * the wrong size, pcaNoise without a matching pca, or an empty set.
   */
  constructor(set: ImageSet, opts: LoaderOptions) {
    this.set = set;
    this.batchSize = opts.batchSize;
    this.crop = opts.crop ?? set.height;
    this.randomCrop = opts.randomCrop ?? false;
    this.flip = opts.flip ?? false;
    this.pcaNoise = opts.pcaNoise ?? 0;
    this.pca = opts.pca ?? null;
    this.mean = opts.mean ?? null;
    this.scale = opts.scale ?? 1 / 255;
    this.seed = opts.seed ?? 0;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.reuseBuffers = opts.reuseBuffers ?? false;
    this.#shift = new Float32Array(set.channels);
    if (!(Number.isInteger(this.batchSize) && this.batchSize > 0)) {
      throw new Error(`BatchLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    if (this.crop > set.height || this.crop > set.width || this.crop < 1) {
      throw new Error(`BatchLoader: crop ${this.crop} does not fit ${set.width}x${set.height} images`);
    }
    if (this.crop === set.height && set.width !== set.height && opts.crop === undefined) {
      throw new Error(`BatchLoader: images are ${set.width}x${set.height}; pass crop`);
    }
    if (this.mean && this.mean.length !== imageSize(set)) {
      throw new Error(`BatchLoader: mean has ${this.mean.length} values, images have ${imageSize(set)}`);
    }
    if (this.pcaNoise > 0) {
      if (!this.pca) throw new Error("BatchLoader: pcaNoise > 0 needs pca (from computeRgbPca)");
      if (this.pca.eigenvalues.length !== set.channels) {
        throw new Error(
          `BatchLoader: pca has ${this.pca.eigenvalues.length} components for ${set.channels} channels`,
        );
      }
    }
    if (set.count === 0) throw new Error("BatchLoader: empty image set");
    if (this.dropLast && set.count < this.batchSize) {
      throw new Error(
        `BatchLoader: dropLast with ${set.count} images < batchSize ${this.batchSize} yields nothing`,
      );
    }
  }

  /** Samples used per epoch (all, or a whole number of batches with dropLast). */
  get samplesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.set.count / this.batchSize) * this.batchSize : this.set.count;
  }

  /** Batches per epoch, a final incomplete one included. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.samplesPerEpoch / this.batchSize);
  }

  /** Floats per input image (C*crop*crop). */
  get sampleSize(): number {
    return this.set.channels * this.crop * this.crop;
  }

  /** Position of the next batch next() will return. */
  state(): LoaderState {
    return { epoch: this.#epoch, index: this.#index };
  }

  /** Continues from a saved state; the following batches equal those of an uninterrupted run. */
  restore(s: LoaderState): void {
    if (!(Number.isInteger(s.epoch) && s.epoch >= 0 && Number.isInteger(s.index) && s.index >= 0)) {
      throw new Error(`BatchLoader.restore: bad state ${JSON.stringify(s)}`);
    }
    if (s.index >= this.samplesPerEpoch) {
      throw new Error(`BatchLoader.restore: index ${s.index} past the epoch`);
    }
    this.#epoch = s.epoch;
    this.#index = s.index;
    this.#prefetched = null;
  }

  /** The image order of an epoch. */
  order(epoch: number): Int32Array {
    if (this.#orderEpoch !== epoch || !this.#order) {
      this.#order = this.shuffle ? permutation(this.set.count, this.seed, epoch) : Int32Array.from(
        { length: this.set.count },
        (_, i) => i,
      );
      this.#orderEpoch = epoch;
    }
    return this.#order;
  }

  /** Prepares the next batch now (see the file comment); next() then returns it without further work. */
  prefetch(): void {
    if (!this.#prefetched) this.#prefetched = this.#build(this.#epoch, this.#index);
  }

  /** The next batch; crosses into the next epoch automatically (see Batch.last / epoch). */
  next(): Batch {
    const b = this.#prefetched ?? this.#build(this.#epoch, this.#index);
    this.#prefetched = null;
    this.#index += b.n;
    if (this.#index >= this.samplesPerEpoch) {
      this.#epoch++;
      this.#index = 0;
    }
    return b;
  }

  /** The remaining batches of the current epoch (all of it unless restored mid-epoch). */
  *epoch(): Generator<Batch> {
    for (;;) {
      const b = this.next();
      yield b;
      if (b.last) return;
    }
  }

  #build(epoch: number, index: number): Batch {
    const n = Math.min(this.batchSize, this.samplesPerEpoch - index);
    const size = this.sampleSize;
    let x: Float32Array, labels: Int32Array, indices: Int32Array;
    if (this.reuseBuffers) {
      if (this.#buffers.length < 2) {
        const bs = this.batchSize;
        this.#buffers.push({
          x: new Float32Array(bs * size),
          labels: new Int32Array(bs),
          indices: new Int32Array(bs),
        });
      }
      const buf = this.#buffers[this.#nextBuffer % this.#buffers.length];
      this.#nextBuffer++;
      x = buf.x.subarray(0, n * size);
      labels = buf.labels.subarray(0, n);
      indices = buf.indices.subarray(0, n);
    } else {
      x = new Float32Array(n * size);
      labels = new Int32Array(n);
      indices = new Int32Array(n);
    }
    const order = this.order(epoch);
    for (let k = 0; k < n; k++) {
      const pos = index + k;
      const img = order[pos];
      indices[k] = img;
      labels[k] = this.set.labels[img];
      const { spec, shift } = this.augmentation(epoch, pos);
      writeCrop(this.set, img, spec, this.mean, this.scale, shift, x, k * size);
    }
    return { x, labels, n, indices, epoch, index, last: index + n >= this.samplesPerEpoch };
  }

  /**
   * The crop, mirror and PCA colour shift of the sample at position `pos` of epoch `epoch`. The shift is a
   * buffer the next call overwrites; null without colour noise.
   */
  augmentation(epoch: number, pos: number): { spec: CropSpec; shift: Float32Array | null } {
    const { height: H, width: W } = this.set;
    const centre = centerCropSpec(H, W, this.crop);
    if (!(this.randomCrop || this.flip || this.pcaNoise > 0)) return { spec: centre, shift: null };
    // One generator per sample, keyed by its position: independent of batch boundaries and of history.
    const rng = new Rng(this.seed, epoch, pos, 0x5eed);
    const x0 = this.randomCrop ? rng.int(W - this.crop + 1) : centre.x;
    const y0 = this.randomCrop ? rng.int(H - this.crop + 1) : centre.y;
    const flip = this.flip ? rng.uniform() < 0.5 : false;
    const spec = { x: x0, y: y0, width: this.crop, height: this.crop, flip };
    const shift = this.pcaNoise > 0 ? pcaShift(this.pca!, this.pcaNoise, rng, this.#shift) : null;
    return { spec, shift };
  }
}

/** How tenCropBatch and centerCropBatch cut and scale the images. */
export interface EvalOptions {
  /** Side of the square views (default the stored height). */
  crop?: number;
  /** Mean image subtracted before cropping (C*H*W at stored size, raw 0-255 units); default none. */
  mean?: Float32Array | null;
  /** Multiplier applied after mean subtraction (default 1/255). */
  scale?: number;
}

/** Ten views of each of n images (tenCropBatch). */
export interface TenCropBatch {
  /** n*10 images (C*crop*crop each), image-major: image i's views are i*10 .. i*10+9 (order of tenCropSpecs). */
  x: Float32Array;
  /** n labels, one per image rather than per view. */
  labels: Int32Array;
  /** Number of images. */
  n: number;
  /** Views per image: always 10. */
  views: 10;
}

/**
 * The paper's test-time input for images [start, start+count): ten views each; average the network's softmax
 * over each image's 10 consecutive outputs.
 */
export function tenCropBatch(
  set: ImageSet,
  start: number,
  count: number,
  opts: EvalOptions = {},
): TenCropBatch {
  const crop = opts.crop ?? set.height;
  const n = Math.max(0, Math.min(count, set.count - start));
  const size = set.channels * crop * crop;
  const specs = tenCropSpecs(set.height, set.width, crop);
  const x = new Float32Array(n * 10 * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = set.labels[start + i];
    for (let v = 0; v < 10; v++) {
      writeCrop(
        set,
        start + i,
        specs[v],
        opts.mean ?? null,
        opts.scale ?? 1 / 255,
        null,
        x,
        (i * 10 + v) * size,
      );
    }
  }
  return { x, labels, n, views: 10 };
}

/** Centre crops of images [start, start+count) in stored order (single-view evaluation). */
export function centerCropBatch(
  set: ImageSet,
  start: number,
  count: number,
  opts: EvalOptions = {},
): { x: Float32Array; labels: Int32Array; n: number } {
  const crop = opts.crop ?? set.height;
  const n = Math.max(0, Math.min(count, set.count - start));
  const size = set.channels * crop * crop;
  const spec = centerCropSpec(set.height, set.width, crop);
  const x = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    writeCrop(set, start + i, spec, opts.mean ?? null, opts.scale ?? 1 / 255, null, x, i * size);
  }
  return { x, labels: set.labels.slice(start, start + n), n };
}
