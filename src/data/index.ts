/** The data layer: datasets, image decoding, augmentation and the batch loader. */
export * from "./types.ts";
export * from "./cifar10.ts";
export * from "./fashion_mnist.ts";
export * from "./image_decode.ts";
export * from "./image_folder.ts";
export * from "./augment.ts";
export * from "./loader.ts";
export * from "./open.ts";
export { permutation, Rng } from "./rng.ts";
export { readTar, readTarGz, type TarEntry } from "./tar.ts";
export { defaultCacheDir, sha256File } from "./util.ts";
