/** Shared shapes of the data layer: images are stored as uint8 CHW, one contiguous buffer per split. */

/** One split of a dataset: uint8 CHW images back to back, with their labels and class names. */
export interface ImageSet {
  /** Class names, indexed by label. */
  classes: string[];
  /** Channels per image: 3 for RGB, 1 for greyscale. */
  channels: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Number of images. */
  count: number;
  /** count*C*H*W bytes, CHW per image, images back to back. */
  pixels: Uint8Array;
  /** count labels in [0, classes.length). */
  labels: Int32Array;
  /** Stable identifiers of the classes (e.g. ImageNet wnids) where they differ from the display names. */
  classIds?: string[];
}

/** A dataset as its loader returns it: the two splits and the provenance of its source. */
export interface Dataset {
  /** Short identifier, e.g. "cifar10" or "fashion-mnist". */
  name: string;
  /** The training split. */
  train: ImageSet;
  /** The test split (the validation folder of an ImageNet-style dataset). */
  test: ImageSet;
  /** sha-256 over the source files, for provenance (see each loader for exactly what is hashed). */
  checksum: string;
  /** Per-source-file sha-256 where the loader knows them (file name -> hex digest). */
  files?: Record<string, string>;
  /** What the source was checked against, where the loader knows reference digests (CIFAR-10), for provenance. */
  verification?: DataVerification;
}

/** How a dataset's files were checked against known digests. */
export interface DataVerification {
  /** The known build the files match ("official", "jpeg-q75"), or "unknown". */
  variant: string;
  /** Set when unknown data was used because the user allowed it (--allow-unknown-data). */
  allowUnknownData?: boolean;
}

/** Bytes of one image (C*H*W). */
export function imageSize(set: ImageSet): number {
  return set.channels * set.height * set.width;
}

/** Checks the invariants every loader promises; throws naming `what` on the first violation. */
export function validateImageSet(set: ImageSet, what = "image set"): void {
  const size = imageSize(set);
  if (!(set.channels > 0 && set.height > 0 && set.width > 0)) {
    throw new Error(`${what}: bad shape ${set.channels}x${set.height}x${set.width}`);
  }
  if (set.pixels.length !== set.count * size) {
    throw new Error(`${what}: ${set.pixels.length} pixel bytes for ${set.count} images of ${size}`);
  }
  if (set.labels.length !== set.count) {
    throw new Error(`${what}: ${set.labels.length} labels for ${set.count} images`);
  }
  for (let i = 0; i < set.count; i++) {
    const l = set.labels[i];
    if (l < 0 || l >= set.classes.length) {
      throw new Error(`${what}: label ${l} of image ${i} is outside [0, ${set.classes.length})`);
    }
  }
}

/** Images [start, end) as a view (no copy), e.g. CIFAR-10's batches 1-4 vs. batch 5 for validation. */
export function sliceImageSet(set: ImageSet, start: number, end = set.count): ImageSet {
  start = Math.max(0, Math.min(set.count, start));
  end = Math.max(start, Math.min(set.count, end));
  const size = imageSize(set);
  return {
    ...set,
    count: end - start,
    pixels: set.pixels.subarray(start * size, end * size),
    labels: set.labels.subarray(start, end),
  };
}

/** A copy holding the given images in the given order. */
export function selectImageSet(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageSize(set);
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < set.count)) throw new Error(`selectImageSet: index ${j} outside [0, ${set.count})`);
    pixels.set(set.pixels.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = set.labels[j];
  }
  return { ...set, count: indices.length, pixels, labels };
}

/** Number of images per class. */
export function classCounts(set: ImageSet): number[] {
  const counts = new Array<number>(set.classes.length).fill(0);
  for (let i = 0; i < set.count; i++) counts[set.labels[i]]++;
  return counts;
}
