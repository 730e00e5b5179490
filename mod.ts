// alexnet-webgpu's public API: the GPU runtime, the layer ops, models as data, datasets, training pieces,
// checkpoints and the pipeline runner.

export { acquireDevice, type AdapterReport, describeAdapter, formatAdapter } from "./src/gpu/device.ts";
export { f32, Gpu } from "./src/gpu/runtime.ts";
export { Tensor } from "./src/gpu/tensor.ts";
export { matmul } from "./src/nn/ops/matmul.ts";
export { conv2dBackward, conv2dForward, convGeometry } from "./src/nn/ops/conv2d.ts";
export { localBackward, localForward, localGeometry } from "./src/nn/ops/local.ts";
export { linearBackward, linearForward, linearGeometry } from "./src/nn/ops/linear.ts";
export {
  avgPoolBackward,
  avgPoolForward,
  maxPoolBackward,
  maxPoolForward,
  poolGeometry,
} from "./src/nn/ops/pool.ts";
export { lrnBackward, lrnForward } from "./src/nn/ops/lrn.ts";
export * from "./src/nn/ops/elementwise.ts";
export { softmax, softmaxCrossEntropy, summariseStats } from "./src/nn/ops/loss.ts";
export * from "./src/nn/spec.ts";
export { Network } from "./src/nn/network.ts";
export { cpuForward } from "./src/reference/cpu_network.ts";
export { initialValues } from "./src/nn/init.ts";
export { buildModel, loadModelFile, MODELS, resolveModelName } from "./src/models/index.ts";
export * from "./src/io/checkpoint.ts";
export * from "./src/io/safetensors.ts";
export * as data from "./src/data/index.ts";
export * as reference from "./src/reference/index.ts";
