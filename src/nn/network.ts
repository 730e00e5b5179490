// Runs a ModelSpec on the GPU: forward, backward and the SGD step, recorded into the runtime's command stream.
// Activations stay on the GPU; only the loss statistics and explicitly requested tensors are read back.

import type { Gpu } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { conv2dBackward, conv2dForward, type ConvColumns, keepColumns } from "./ops/conv2d.ts";
import { type ConvAlgorithm, type ConvGeometry, convGeometry, layerConvShape } from "./ops/conv_geometry.ts";
import { localBackward, localForward } from "./ops/local.ts";
import { linearBackward, linearForward, type LinearGeometry, linearGeometry } from "./ops/linear.ts";
import {
  avgPoolBackward,
  avgPoolForward,
  maxPoolBackward,
  maxPoolForward,
  poolGeometry,
} from "./ops/pool.ts";
import type { PoolGeometry } from "./ops/pool.ts";
import { lrnBackward, lrnForward, type LrnParams } from "./ops/lrn.ts";
import {
  activationBackward,
  activationForward,
  copy2d,
  dropoutBackward,
  dropoutForward,
  sgdUpdate,
} from "./ops/elementwise.ts";
import { PreparedWeights } from "./ops/prepared_weights.ts";
import { roundUp4 } from "./ops/shapes.ts";
import { padMatrix, unpadMatrix } from "./layout.ts";
import { type ModelSpec, type ParamInfo, type ResolvedLayer, resolveModel } from "./spec.ts";
import { initialValues } from "./init.ts";

/** A parameter on the GPU: its value, gradient and momentum, each possibly split into row chunks. */
export interface GpuParam {
  /** Name, logical shape, initialisation and lr/weight-decay multipliers, from the resolved spec. */
  info: ParamInfo;
  /** The parameter itself, one tensor per row chunk, in the padded layout. */
  value: Tensor[];
  /** Its gradient (zero at first), chunked like value; empty in an inference network. */
  grad: Tensor[];
  /** Its SGD momentum (zero at first), chunked like value; empty in an inference network. */
  momentum: Tensor[];
  /** Rows of the parameter's logical [rows][cols] view, e.g. Cout of a conv weight, 1 for a bias. */
  rows: number;
  /** Columns of the logical view, e.g. K = Cin/groups*KH*KW of a conv weight. */
  cols: number;
  /** Rows as stored: rounded up to a multiple of 4 for a fully connected weight, else equal to rows. */
  rowsP: number;
  /** Row width as stored: cols padded with zero columns to Kp, inP or outP where vec4 loads need it. */
  colsP: number;
  /** Row ranges [start, end) of the stored rows held by each tensor of value, grad and momentum. */
  rowChunks: [number, number][];
}

interface Saved {
  x?: Tensor;
  y?: Tensor;
  extra?: Tensor;
  /** A conv layer's im2col columns, kept from a training forward for its backward pass. */
  cols?: ConvColumns;
}

/** One layer as the GPU executor planned it: the resolved layer, its geometry and its parameters. */
export interface LayerRun {
  /** The layer with its shapes and parameter list (resolveModel). */
  layer: ResolvedLayer;
  /** Geometry of a conv or locally connected layer. */
  conv?: ConvGeometry;
  /** Geometry of a fully connected layer. */
  linear?: LinearGeometry;
  /** Geometry of a max or average pooling layer. */
  pool?: PoolGeometry;
  /** fc input features padded when the flattened width is not a multiple of 4. */
  flattenPad?: { cols: number; colsP: number };
  /** Weight then bias of a conv, local or fc layer; empty for the others. */
  params: GpuParam[];
  /** The ReLU after this conv or max pool in execution order, run in the layer's kernels (fuseRelu). */
  reluAfter?: ResolvedLayer;
  /** A conv's fused ReLU whose backward pass the LRN after it applies (fuseRelu). */
  reluBackwardInNext?: boolean;
  /** An LRN's: the ReLU fused into the conv before it, whose backward pass this layer applies to its dx. */
  reluBefore?: ResolvedLayer;
  /** A conv's weights as its forward kernel reads them, kept between inference passes. */
  prepared?: PreparedWeights;
}

/** How Network.forward runs. */
export interface ForwardOptions {
  /**
   * Keep what backward() needs and apply dropout; false is inference (dropout is the identity and activations
   * are freed as it goes).
   */
  training: boolean;
  /** Seed of the dropout masks (default 1); each dropout layer folds its index into it. */
  seed?: number;
  /** The training step, counter of the dropout masks so each step draws new ones (default 0). */
  step?: number;
}

/** A ModelSpec on the GPU: parameters, forward, backward and SGD step, recorded into one Gpu's stream. */
export class Network {
  /** The model's layers in the spec's order (forwardUntil reads activations by this index). */
  readonly layers: LayerRun[];
  /** What forward() and backward() run: executionOrder's order, a conv or max pool and its ReLU as one run. */
  readonly #runs: LayerRun[];
  /** Every layer's weight and bias, in layer order. */
  readonly params: GpuParam[] = [];
  /** Classes rounded up to a multiple of 4: the row width of the logits forward() returns. */
  readonly classesP: number;
  #saved: Saved[] = [];
  #forwardOptions: ForwardOptions = { training: false };
  #convAlgorithm: ConvAlgorithm | undefined;

  /** Built without gradients or momentum; a training forward() throws. */
  readonly inference: boolean;

  /**
   * `weights` skips the random initialisation; `inference` allocates no gradients or momentum (a third of the
   * memory), for classification.
   */
  constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    seed = 1,
    options: { weights?: Map<string, Float32Array>; inference?: boolean; convAlgorithm?: ConvAlgorithm } = {},
  ) {
    this.inference = options.inference ?? false;
    this.#convAlgorithm = options.convAlgorithm;
    const resolved = resolveModel(spec);
    this.layers = resolved.map((layer) => this.#plan(layer));
    this.#runs = fuseRelu(executionOrder(this.layers));
    this.classesP = roundUp4(spec.classes);
    this.loadWeights(options.weights ?? initialValues(spec, seed));
  }

  #plan(layer: ResolvedLayer): LayerRun {
    const s = layer.spec;
    const run: LayerRun = { layer, params: [] };
    if (s.type === "conv" || s.type === "local") {
      run.conv = convGeometry({
        ...layerConvShape(layer),
        // A network-wide choice (the benchmark's side-by-side runs) overrides the layer's own.
        algorithm: s.type === "conv" ? this.#convAlgorithm ?? s.algorithm : "im2col",
      });
      const g = run.conv;
      const [wInfo, bInfo] = layer.params;
      if (s.type === "conv") {
        run.params.push(this.#param(wInfo, s.out, g.K, s.out, g.Kp), this.#param(bInfo, 1, s.out, 1, s.out));
        run.prepared = new PreparedWeights();
      } else {
        const P = g.oh * g.ow;
        run.params.push(this.#param(wInfo, 1, P * s.out * g.K, 1, P * s.out * g.K));
        run.params.push(this.#param(bInfo, 1, s.out * P, 1, s.out * P));
      }
    } else if (s.type === "fc") {
      const inF = layer.inShape.reduce((a, b) => a * b, 1);
      run.linear = linearGeometry(inF, s.out, this.gpu.maxBinding);
      if (layer.inShape.length > 1 && inF % 4 !== 0) run.flattenPad = { cols: inF, colsP: roundUp4(inF) };
      const g = run.linear;
      const [wInfo, bInfo] = layer.params;
      run.params.push(this.#param(wInfo, s.out, inF, g.outP, g.inP, g.chunks));
      run.params.push(this.#param(bInfo, 1, s.out, 1, g.outP));
    } else if (s.type === "maxpool" || s.type === "avgpool") {
      const [c, h, w] = layer.inShape;
      run.pool = poolGeometry({ c, h, w, k: s.size, stride: s.stride, pad: s.pad, ceil: s.ceil });
    }
    return run;
  }

  #param(
    info: ParamInfo,
    rows: number,
    cols: number,
    rowsP: number,
    colsP: number,
    rowChunks: [number, number][] = [[0, rowsP]],
  ): GpuParam {
    const make = (what: string) =>
      what !== "value" && this.inference
        ? []
        : rowChunks.map(([r0, r1]) =>
          this.gpu.tensor([r1 - r0, colsP], `${info.name}.${what}`, what !== "value")
        );
    const p: GpuParam = {
      info,
      rows,
      cols,
      rowsP,
      colsP,
      rowChunks,
      value: make("value"),
      grad: make("grad"),
      momentum: make("momentum"),
    };
    this.params.push(p);
    return p;
  }

  /** Sets parameters from logical (unpadded) arrays, e.g. a checkpoint or the initialiser. */
  loadWeights(values: Map<string, Float32Array>): void {
    this.#releasePrepared();
    for (const p of this.params) {
      const v = values.get(p.info.name);
      if (!v) throw new Error(`weights for ${this.spec.name} lack "${p.info.name}"`);
      if (v.length !== p.rows * p.cols) {
        throw new Error(`"${p.info.name}" has ${v.length} values, the model expects ${p.rows * p.cols}`);
      }
      const padded = padMatrix(v, p.rows, p.cols, p.rowsP, p.colsP);
      p.rowChunks.forEach(([r0, r1], i) => {
        this.gpu.write(p.value[i], padded.subarray(r0 * p.colsP, r1 * p.colsP));
      });
    }
  }

  /** Reads a parameter's value, gradient or momentum back as its logical (unpadded) array. */
  async readParam(p: GpuParam, what: "value" | "grad" | "momentum" = "value"): Promise<Float32Array> {
    const padded = new Float32Array(p.rowsP * p.colsP);
    for (let i = 0; i < p.rowChunks.length; i++) {
      padded.set(await this.gpu.read(p[what][i]), p.rowChunks[i][0] * p.colsP);
    }
    return unpadMatrix(padded, p.rows, p.cols, p.colsP);
  }

  /** Every parameter's value (or momentum) by name as logical arrays, as a checkpoint stores them. */
  async exportWeights(what: "value" | "momentum" = "value"): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.params) out.set(p.info.name, await this.readParam(p, what));
    return out;
  }

  /** Sets the momentum from logical arrays by name (resuming); throws when one is missing. */
  loadMomentum(values: Map<string, Float32Array>): void {
    // Queue writes overtake recorded work: the constructor's clears of these buffers go first.
    this.gpu.submit();
    for (const p of this.params) {
      const v = values.get(p.info.name);
      if (!v) throw new Error(`optimizer state lacks "${p.info.name}"`);
      const padded = padMatrix(v, p.rows, p.cols, p.rowsP, p.colsP);
      p.rowChunks.forEach(([r0, r1], i) =>
        this.gpu.write(p.momentum[i], padded.subarray(r0 * p.colsP, r1 * p.colsP))
      );
    }
  }

  /** x: [N, C, H, W]. Returns logits [N][classesP] (the caller owns and releases them). */
  forward(x: Tensor, options: ForwardOptions): Tensor {
    if (options.training && this.inference) {
      throw new Error(`${this.spec.name}: built for inference, cannot train`);
    }
    this.releaseSaved();
    this.#forwardOptions = options;
    let cur = x;
    for (const run of this.#runs) {
      this.gpu.scope = `${runLabel(run)} forward`;
      const saved: Saved = { x: cur };
      const y = this.#forwardLayer(run, cur, saved, options);
      saved.y = y;
      this.#saved.push(saved);
      if (!options.training && cur !== x) this.gpu.release(cur, saved.extra);
      cur = y;
    }
    this.gpu.scope = "";
    if (!options.training) this.#saved = [];
    return cur;
  }

  #forwardLayer(run: LayerRun, x: Tensor, saved: Saved, o: ForwardOptions): Tensor {
    const s = run.layer.spec;
    const n = x.shape[0];
    const gpu = this.gpu;
    switch (s.type) {
      case "conv": {
        const keep = o.training ? keepColumns(run.conv!, n) : null;
        if (keep) saved.cols = keep;
        const w = run.params[0].value[0], b = run.params[1].value[0];
        // A training pass is followed by an SGD step: its prepared weights would never be used again. Under
        // kernelsFor nothing runs, so weights prepared then would be garbage.
        const prepared = o.training || gpu.skippingDispatches ? null : run.prepared!;
        return conv2dForward(gpu, x, w, b, run.conv!, keep, run.reluAfter !== undefined, prepared);
      }
      case "local":
        return localForward(gpu, x, run.params[0].value[0], run.params[1].value[0], run.conv!);
      case "fc": {
        let input = x;
        if (run.flattenPad) {
          input = gpu.tensor([n, run.flattenPad.colsP], "flatten");
          copy2d(gpu, x, input, {
            rows: n,
            cols: run.flattenPad.cols,
            lds: run.flattenPad.cols,
            ldd: run.flattenPad.colsP,
            padTo: run.flattenPad.colsP,
          });
          saved.extra = input;
        }
        return linearForward(gpu, input, run.params[0].value, run.params[1].value[0], run.linear!);
      }
      case "relu":
      case "tanh":
        return activationForward(gpu, s.type, x);
      case "maxpool": {
        const { y, argmax } = maxPoolForward(gpu, x, run.pool!, run.reluAfter !== undefined);
        saved.extra = argmax;
        return y;
      }
      case "avgpool":
        return avgPoolForward(gpu, x, run.pool!);
      case "lrn":
      case "rnorm": {
        const { y, scale } = lrnForward(gpu, s.type === "lrn" ? "cross" : "within", x, lrnParams(s));
        saved.extra = scale;
        return y;
      }
      case "dropout":
        if (!o.training || s.p === 0) return this.#identity(x);
        return dropoutForward(gpu, x, this.#dropoutDraw(run, s.p, o));
    }
  }

  #identity(x: Tensor): Tensor {
    const y = this.gpu.tensor(x.shape, "identity");
    this.gpu.copy(x, y);
    return y;
  }

  #dropoutDraw(run: LayerRun, p: number, o: ForwardOptions) {
    // Each dropout layer gets its own stream: the layer index is folded into the seed.
    return { prob: p, seed: ((o.seed ?? 1) * 1000003 + run.layer.index) >>> 0, counter: o.step ?? 0 };
  }

  /** Backpropagates dlogits [N][classesP] and leaves gradients in every parameter's grad tensors. */
  backward(dlogits: Tensor): void {
    if (this.#saved.length !== this.#runs.length) {
      throw new Error("backward() needs a training forward() first");
    }
    let dy = dlogits;
    for (let i = this.#runs.length - 1; i >= 0; i--) {
      const run = this.#runs[i];
      const saved = this.#saved[i];
      this.gpu.scope = `${runLabel(run)} backward`;
      const dx = this.#backwardLayer(run, saved, dy, i > 0);
      if (dy !== dlogits) dy.release();
      // The layer's output is the next layer's input: free it once both are done.
      saved.y?.release();
      saved.extra?.release();
      if (!dx) break;
      dy = dx;
    }
    if (dy !== dlogits) dy.release();
    this.#saved = [];
    this.gpu.scope = "";
  }

  #backwardLayer(run: LayerRun, saved: Saved, dy: Tensor, needDx: boolean): Tensor | null {
    const s = run.layer.spec;
    const gpu = this.gpu;
    const x = saved.x!;
    switch (s.type) {
      case "conv": {
        // The fused ReLU's backward pass first (unless an LRN after it applied it), as its own layer ran it.
        const ownRelu = run.reluAfter && !run.reluBackwardInNext;
        const dyConv = ownRelu ? activationBackward(gpu, "relu", saved.y!, dy) : dy;
        const dx = conv2dBackward(gpu, x, run.params[0].value[0], dyConv, run.conv!, {
          dw: run.params[0].grad[0],
          db: run.params[1].grad[0],
          cols: saved.cols,
        }, needDx);
        if (dyConv !== dy) dyConv.release();
        return dx;
      }
      case "local":
        return localBackward(gpu, x, run.params[0].value[0], dy, run.conv!, {
          dw: run.params[0].grad[0],
          db: run.params[1].grad[0],
        }, needDx);
      case "fc": {
        const input = saved.extra ?? x;
        const dxp = linearBackward(gpu, input, run.params[0].value, dy, run.linear!, {
          dw: run.params[0].grad,
          db: run.params[1].grad[0],
        }, needDx);
        if (!dxp || !run.flattenPad) return dxp;
        const n = x.shape[0];
        const dx = gpu.tensor(x.shape, "dflatten");
        copy2d(gpu, dxp, dx, {
          rows: n,
          cols: run.flattenPad.cols,
          lds: run.flattenPad.colsP,
          ldd: run.flattenPad.cols,
        });
        dxp.release();
        return dx;
      }
      case "relu":
      case "tanh":
        return needDx ? activationBackward(gpu, s.type, saved.y!, dy) : null;
      case "maxpool":
        return needDx
          ? maxPoolBackward(gpu, dy, saved.extra!, run.pool!, run.reluAfter ? saved.y : undefined)
          : null;
      case "avgpool":
        return needDx ? avgPoolBackward(gpu, dy, run.pool!) : null;
      case "lrn":
      case "rnorm":
        return needDx
          ? lrnBackward(
            gpu,
            s.type === "lrn" ? "cross" : "within",
            x,
            saved.extra!,
            dy,
            lrnParams(s),
            run.reluBefore !== undefined,
          )
          : null;
      case "dropout": {
        if (!needDx) return null;
        if (s.p === 0) return this.#identity(dy);
        return dropoutBackward(gpu, dy, this.#dropoutDraw(run, s.p, this.#forwardOptions));
      }
    }
  }

  /** The paper's momentum SGD on every parameter, with its lr and weight-decay multipliers. */
  sgdStep(h: { lr: number; momentum: number; weightDecay: number }): void {
    this.#releasePrepared();
    this.gpu.scope = "sgd";
    for (const p of this.params) {
      const hyper = {
        lr: h.lr * p.info.lrMult,
        momentum: h.momentum,
        weightDecay: h.weightDecay * p.info.wdMult,
      };
      p.value.forEach((w, i) => sgdUpdate(this.gpu, w, p.momentum[i], p.grad[i], hyper));
    }
    this.gpu.scope = "";
  }

  /** Frees activations kept from a training forward() that was never followed by backward(). */
  releaseSaved(): void {
    for (const s of this.#saved) {
      s.y?.release();
      s.extra?.release();
      s.cols?.release();
    }
    this.#saved = [];
  }

  /**
   * An inference forward through layers 0..lastLayerIndex only, returning that layer's output (x itself when
   * the index is negative); the caller owns and releases it. Figure 4's features are the output of the ReLU
   * after fc7, read this way. From the first fc layer on, rows are padded to a multiple of 4 values.
   */
  forwardUntil(x: Tensor, lastLayerIndex: number): Tensor {
    let cur = x;
    for (let i = 0; i <= lastLayerIndex; i++) {
      const saved: Saved = {};
      const y = this.#forwardLayer(this.layers[i], cur, saved, { training: false });
      if (cur !== x) this.gpu.release(cur);
      saved.extra?.release();
      cur = y;
    }
    return cur;
  }

  /** Drops every conv's prepared weights: called whenever the weights are written, so none is ever stale. */
  #releasePrepared(): void {
    for (const run of this.layers) run.prepared?.release();
  }

  /** Releases kept activations and all parameter tensors: the Network is unusable after (its Gpu is not). */
  destroy(): void {
    this.releaseSaved();
    this.#releasePrepared();
    for (const p of this.params) this.gpu.release(...p.value, ...p.grad, ...p.momentum);
  }
}

/**
 * The layers in the order a forward pass runs them: a ReLU followed by a max pool runs after it instead, on
 * the pooled map (a quarter of the pixels for 3/2 pooling). The result is the same, bit for bit: max(relu(x))
 * = relu(max(x)), and where the window's maximum is positive both pick the same winner, while elsewhere the
 * gradient is zero either way. Not for tanh, whose saturation can tie distinct inputs.
 */
export function executionOrder<T extends { layer: ResolvedLayer }>(layers: readonly T[]): T[] {
  const order = [...layers];
  for (let i = 0; i + 1 < order.length; i++) {
    if (order[i].layer.spec.type === "relu" && order[i + 1].layer.spec.type === "maxpool") {
      [order[i], order[i + 1]] = [order[i + 1], order[i]];
      i++;
    }
  }
  return order;
}

/**
 * A conv or max pool followed by a ReLU (in execution order) becomes one run whose kernels apply the ReLU as
 * they write the output: the same numbers without the ReLU's own pass over the map. A max pool also masks the
 * gradient as it routes it back; a conv runs the ReLU's backward kernel first, as the ReLU layer did, unless
 * an LRN follows: the LRN applies it as it writes dx (its input is the ReLU's output), one pass less.
 */
export function fuseRelu<
  T extends {
    layer: ResolvedLayer;
    reluAfter?: ResolvedLayer;
    reluBackwardInNext?: boolean;
    reluBefore?: ResolvedLayer;
  },
>(order: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < order.length; i++) {
    const next = order[i + 1];
    const type = order[i].layer.spec.type;
    if ((type === "maxpool" || type === "conv") && next?.layer.spec.type === "relu") {
      out.push({ ...order[i], reluAfter: next.layer });
      i++;
    } else out.push(order[i]);
  }
  for (let i = 0; i + 1 < out.length; i++) {
    const { layer, reluAfter } = out[i];
    const nextType = out[i + 1].layer.spec.type;
    if (layer.spec.type === "conv" && reluAfter && (nextType === "lrn" || nextType === "rnorm")) {
      out[i] = { ...out[i], reluBackwardInNext: true };
      out[i + 1] = { ...out[i + 1], reluBefore: reluAfter };
    }
  }
  return out;
}

/** A run's profile label: its layer's, or "maxpool 3 + relu 2" for a fused pair. */
function runLabel(run: LayerRun): string {
  return run.reluAfter ? `${layerLabel(run.layer)} + ${layerLabel(run.reluAfter)}` : layerLabel(run.layer);
}

/** "conv1", "relu 3" (index-named when the layer has no name). */
export function layerLabel(layer: ResolvedLayer): string {
  return "name" in layer.spec ? layer.spec.name : `${layer.spec.type} ${layer.index + 1}`;
}

function lrnParams(s: { size: number; alpha: number; beta: number; k: number }): LrnParams {
  return { n: s.size, alpha: s.alpha, beta: s.beta, k: s.k };
}
