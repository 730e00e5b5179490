/**
 * Input statistics and per-image transforms of the paper's recipe (section 4.1): mean image, RGB PCA for the
 * colour noise, crops and mirrors written straight into a float NCHW batch.
 */
import type { ImageSet } from "./types.ts";
import { imageSize } from "./types.ts";
import type { Rng } from "./rng.ts";

/** Mean image (C*H*W floats) in raw pixel units (0-255), the "mean activity" the paper subtracts. */
export function computeMeanImage(set: ImageSet): Float32Array {
  const size = imageSize(set);
  const sum = new Float64Array(size);
  for (let i = 0; i < set.count; i++) {
    const px = set.pixels.subarray(i * size, (i + 1) * size);
    for (let k = 0; k < size; k++) sum[k] += px[k];
  }
  const mean = new Float32Array(size);
  const inv = set.count > 0 ? 1 / set.count : 0;
  for (let k = 0; k < size; k++) mean[k] = sum[k] * inv;
  return mean;
}

/** Per-channel mean in raw pixel units. */
export function computeChannelMean(set: ImageSet): Float32Array {
  const plane = set.height * set.width;
  const sum = new Float64Array(set.channels);
  for (let i = 0; i < set.count; i++) {
    for (let c = 0; c < set.channels; c++) {
      const off = (i * set.channels + c) * plane;
      let s = 0;
      for (let k = 0; k < plane; k++) s += set.pixels[off + k];
      sum[c] += s;
    }
  }
  return Float32Array.from(sum, (s) => s / Math.max(1, set.count * plane));
}

/** Principal components of the pixel colour values (computeRgbPca): the basis of the paper's colour noise. */
export interface RgbPca {
  /** Eigenvalues of the channel covariance, largest first (variances, in scaled units squared). */
  eigenvalues: number[];
  /** eigenvectors[i] is the unit eigenvector of eigenvalues[i]; eigenvectors[i][c] is its channel-c component. */
  eigenvectors: number[][];
}

/** Eigen-decomposition of a small symmetric matrix (cyclic Jacobi), sorted by decreasing eigenvalue. */
export function symmetricEigen(a: number[][]): RgbPca {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] * m[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p], mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k], mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j][j] - m[i][i]);
  return {
    eigenvalues: order.map((i) => m[i][i]),
    // Columns of v are the eigenvectors; fix the sign (largest component positive) so results are reproducible.
    eigenvectors: order.map((i) => {
      const vec = v.map((row) => row[i]);
      const big = vec.reduce((b, x) => (Math.abs(x) > Math.abs(b) ? x : b), 0);
      return big < 0 ? vec.map((x) => -x) : vec;
    }),
  };
}

/** How computeRgbPca samples and scales the pixels. */
export interface PcaOptions {
  /** Multiplies raw pixel values first, as the training input does (default 1/255). */
  scale?: number;
  /** Use at most this many images, evenly spaced (default 20000: the covariance converges long before). */
  maxImages?: number;
}

/**
 * PCA of the per-pixel channel values over the training set (the paper's "3x3 covariance matrix of RGB pixel
 * values"), on values scaled like the network input. Works for any channel count (1 for Fashion-MNIST).
 */
export function computeRgbPca(set: ImageSet, opts: PcaOptions = {}): RgbPca {
  const scale = opts.scale ?? 1 / 255;
  const C = set.channels, plane = set.height * set.width;
  const use = Math.min(set.count, opts.maxImages ?? 20000);
  const sum = new Float64Array(C), sq = new Float64Array(C * C);
  const px = new Float64Array(C);
  for (let u = 0; u < use; u++) {
    const i = Math.floor((u * set.count) / use);
    const base = i * C * plane;
    for (let k = 0; k < plane; k++) {
      for (let c = 0; c < C; c++) px[c] = set.pixels[base + c * plane + k];
      for (let a = 0; a < C; a++) {
        sum[a] += px[a];
        for (let b = a; b < C; b++) sq[a * C + b] += px[a] * px[b];
      }
    }
  }
  const n = use * plane;
  if (n === 0) throw new Error("computeRgbPca: empty image set");
  const cov: number[][] = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (let a = 0; a < C; a++) {
    for (let b = a; b < C; b++) {
      const v = (sq[a * C + b] / n - (sum[a] / n) * (sum[b] / n)) * scale * scale;
      cov[a][b] = cov[b][a] = v;
    }
  }
  return symmetricEigen(cov);
}

/**
 * The paper's colour shift for one image: sum_i eigenvectors[i] * alpha_i * eigenvalues[i] with
 * alpha_i ~ N(0, std), one value per channel, added to every pixel.
 */
export function pcaShift(pca: RgbPca, std: number, rng: Rng, out: Float32Array): Float32Array {
  out.fill(0);
  for (let i = 0; i < pca.eigenvalues.length; i++) {
    const a = rng.normal() * std * pca.eigenvalues[i];
    const vec = pca.eigenvectors[i];
    for (let c = 0; c < out.length; c++) out[c] += vec[c] * a;
  }
  return out;
}

/** Geometry of one crop of one stored image. */
export interface CropSpec {
  /** Left offset in the stored image. */
  x: number;
  /** Top offset in the stored image. */
  y: number;
  /** Output width. */
  width: number;
  /** Output height. */
  height: number;
  /** Mirror the crop horizontally. */
  flip: boolean;
}

/**
 * Writes one image of `set` into `out` at `outOffset` as floats, CHW:
 * out = (pixel - mean) * scale + shift[c], over the crop window (mirrored when flip). mean is at stored size
 * (C*H*W raw units) and is subtracted before cropping, so each crop gets the matching part of the mean image.
 */
export function writeCrop(
  set: ImageSet,
  index: number,
  spec: CropSpec,
  mean: Float32Array | null,
  scale: number,
  shift: Float32Array | null,
  out: Float32Array,
  outOffset: number,
): void {
  const { channels: C, height: H, width: W } = set;
  const { x: ox, y: oy, width: cw, height: ch, flip } = spec;
  if (ox < 0 || oy < 0 || ox + cw > W || oy + ch > H) {
    throw new Error(`writeCrop: ${cw}x${ch} at (${ox}, ${oy}) does not fit ${W}x${H}`);
  }
  const src = set.pixels, base = index * C * H * W;
  for (let c = 0; c < C; c++) {
    const add = shift ? shift[c] : 0;
    for (let y = 0; y < ch; y++) {
      const s = c * H * W + (oy + y) * W + ox;
      const o = outOffset + (c * ch + y) * cw;
      if (mean) {
        if (flip) {
          for (let x = 0; x < cw; x++) {
            out[o + cw - 1 - x] = (src[base + s + x] - mean[s + x]) * scale + add;
          }
        } else for (let x = 0; x < cw; x++) out[o + x] = (src[base + s + x] - mean[s + x]) * scale + add;
      } else {
        if (flip) { for (let x = 0; x < cw; x++) out[o + cw - 1 - x] = src[base + s + x] * scale + add; }
        else for (let x = 0; x < cw; x++) out[o + x] = src[base + s + x] * scale + add;
      }
    }
  }
}

/** The ten test views of size `crop` (corners TL, TR, BL, BR, centre, then their mirrors), as in tenCrops. */
export function tenCropSpecs(height: number, width: number, crop: number): CropSpec[] {
  if (crop > height || crop > width) throw new Error(`tenCropSpecs: ${crop} does not fit ${width}x${height}`);
  const five = [
    [0, 0],
    [width - crop, 0],
    [0, height - crop],
    [width - crop, height - crop],
    [(width - crop) >> 1, (height - crop) >> 1],
  ];
  return [false, true].flatMap((flip) => five.map(([x, y]) => ({ x, y, width: crop, height: crop, flip })));
}

/** The centred crop (offsets rounded down, as centerCrop in image_decode.ts). */
export function centerCropSpec(height: number, width: number, crop: number): CropSpec {
  if (crop > height || crop > width) {
    throw new Error(`centerCropSpec: ${crop} does not fit ${width}x${height}`);
  }
  return { x: (width - crop) >> 1, y: (height - crop) >> 1, width: crop, height: crop, flip: false };
}
