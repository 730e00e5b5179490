/** CPU reference (float64) for every AlexNet layer, forward and backward. */
export * from "./shapes.ts";
export * from "./conv2d.ts";
export * from "./local.ts";
export * from "./linear.ts";
export * from "./pool.ts";
export * from "./lrn.ts";
export * from "./activation.ts";
export * from "../math/rng.ts";
export * from "./dropout.ts";
export * from "./softmax_xent.ts";
export * from "./mean_subtract.ts";
export * from "./sgd.ts";
export * from "./gradcheck.ts";
