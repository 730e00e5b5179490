/**
 * alexnet-webgpu's public API: the WebGPU runtime and tensors, the layer ops (forward and backward), models as
 * data and the Network that runs them on the GPU, the model zoo, checkpoints and safetensors, the datasets and
 * batch loader (`data`) and the float64 CPU reference (`reference`).
 *
 * @module
 */

export { acquireDevice, type AdapterReport, describeAdapter, formatAdapter } from "./src/gpu/device.ts";
export { type DispatchStats, f32, Gpu, type ParamValue } from "./src/gpu/runtime.ts";
export { KernelCache, type KernelKey, type TemplateValues } from "./src/gpu/kernels.ts";
export { BufferPool } from "./src/gpu/pool.ts";
export { Tensor } from "./src/gpu/tensor.ts";
export { matmul, type MatmulArgs, type MatmulLayout } from "./src/nn/ops/matmul.ts";
export {
  conv2dBackward,
  conv2dForward,
  CONV_ALGORITHMS,
  type ConvAlgorithm,
  ConvColumns,
  type ConvGeometry,
  convGeometry,
  type ConvGrads,
  type ConvShape,
  type ConvSpec,
} from "./src/nn/ops/conv2d.ts";
export { PreparedWeights } from "./src/nn/ops/prepared_weights.ts";
export { localBackward, localForward, localGeometry } from "./src/nn/ops/local.ts";
export { linearBackward, linearForward, type LinearGeometry, linearGeometry } from "./src/nn/ops/linear.ts";
export {
  avgPoolBackward,
  avgPoolForward,
  maxPoolBackward,
  maxPoolForward,
  type PoolGeometry,
  poolGeometry,
} from "./src/nn/ops/pool.ts";
export { lrnBackward, lrnForward, type LrnMode, type LrnParams } from "./src/nn/ops/lrn.ts";
export * from "./src/nn/ops/elementwise.ts";
export { type LossResult, softmax, softmaxCrossEntropy, summariseStats } from "./src/nn/ops/loss.ts";
export * from "./src/nn/spec.ts";
export { type ForwardOptions, type GpuParam, type LayerRun, Network } from "./src/nn/network.ts";
export { cpuForward } from "./src/reference/cpu_network.ts";
export { initialValues } from "./src/nn/init.ts";
export {
  buildModel,
  loadModelFile,
  type ModelEntry,
  type ModelOptions,
  MODELS,
  resolveModelName,
} from "./src/models/index.ts";
export * from "./src/io/checkpoint.ts";
export * from "./src/io/safetensors.ts";
/** Datasets (CIFAR-10, Fashion-MNIST, image folders), image decoding, augmentation and the seeded batch loader. */
export * as data from "./src/data/index.ts";
/** The float64 CPU reference of every layer, forward and backward, that the GPU kernels are tested against. */
export * as reference from "./src/reference/index.ts";
