// Loads kernels/*.wgsl and compiles each (file, entry point, template values) once per device.
//
// Register-block sizes must be compile-time array lengths, which WGSL override constants cannot give for
// function-scope arrays, so a tiny template step replaces `{{NAME}}` in the source before compiling.

const sourceCache = new Map<string, string>();
let sourceLoader: ((name: string) => string) | null = null;

/** Lets a non-Deno host (the browser bundle) provide the .wgsl texts it fetched. */
export function setKernelSourceLoader(loader: (name: string) => string): void {
  sourceLoader = loader;
  sourceCache.clear();
}

export function kernelSource(name: string): string {
  let text = sourceCache.get(name);
  if (text === undefined) {
    if (sourceLoader) text = sourceLoader(name);
    else text = Deno.readTextFileSync(new URL(`../../kernels/${name}.wgsl`, import.meta.url));
    sourceCache.set(name, text);
  }
  return text;
}

/**
 * Compile-time values a kernel source is specialised with: `{{NAME}}` becomes the value (an integer as a u32
 * literal such as `5u`, unless NAME starts with F_), and a `//#unroll` count may name one.
 */
export type TemplateValues = Record<string, number | string | boolean>;

/**
 * `//#unroll NAME COUNT` ... `//#end` repeats its lines COUNT times (COUNT a number or a template key) with
 * `{NAME}` replaced by 0, 1, ... llvmpipe keeps register-blocked accumulators in registers only when every
 * index into them is a constant; a loop with a branch inside is not unrolled for it.
 */
export function expandUnroll(source: string, values: TemplateValues): string {
  const lines = source.split("\n");
  const out: string[] = [];
  const expand = (start: number, env: Record<string, number>, sink: string[]): number => {
    let i = start;
    while (i < lines.length) {
      const line = lines[i];
      const open = line.match(/^\s*\/\/#unroll (\w+) (\w+)\s*$/);
      if (open) {
        const count = /^\d+$/.test(open[2]) ? Number(open[2]) : Number(values[open[2]]);
        if (!Number.isInteger(count)) throw new Error(`#unroll count ${open[2]} is not a template value`);
        let end = i + 1;
        for (let k = 0; k < Math.max(count, 1); k++) {
          const body: string[] = [];
          end = expand(i + 1, { ...env, [open[1]]: k }, body);
          if (k < count) sink.push(...body);
        }
        i = end + 1;
        continue;
      }
      if (/^\s*\/\/#end\s*$/.test(line)) return i;
      sink.push(line.replace(/\{(\w+)\}/g, (m, name: string) => (name in env ? String(env[name]) : m)));
      i++;
    }
    return i;
  };
  expand(0, {}, out);
  return out.join("\n");
}

export function expandTemplate(source: string, values: TemplateValues): string {
  return expandUnroll(source, values).replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`kernel template value {{${key}}} was not given`);
    const v = values[key];
    return typeof v === "number" && Number.isInteger(v) && !String(key).startsWith("F_")
      ? `${v}u`
      : String(v);
  });
}

/** One compiled kernel: a file's entry point with its template values. */
export interface KernelKey {
  /** Kernel file name without extension: kernels/<file>.wgsl. */
  file: string;
  /** Entry point: the name of the @compute function. */
  entry: string;
  /** Template values the source is expanded with. */
  values: TemplateValues;
}

/** Compute pipelines of one device by (file, entry point, template values), each compiled once. */
export class KernelCache {
  #pipelines = new Map<string, GPUComputePipeline>();
  #modules = new Map<string, GPUShaderModule>();
  /** An empty cache compiling on `device`. */
  constructor(private readonly device: GPUDevice) {}

  /** Number of pipelines compiled so far. */
  get size(): number {
    return this.#pipelines.size;
  }

  /** Whether that pipeline is compiled already, so pipeline() returns it without compiling. */
  has(file: string, entry: string, values: TemplateValues = {}): boolean {
    return this.#pipelines.has(`${file}:${entry}:${JSON.stringify(values)}`);
  }

  #module(file: string, values: TemplateValues): GPUShaderModule {
    const moduleKey = `${file}:${JSON.stringify(values)}`;
    let module = this.#modules.get(moduleKey);
    if (!module) {
      module = this.device.createShaderModule({
        label: moduleKey,
        code: expandTemplate(kernelSource(file), values),
      });
      this.#modules.set(moduleKey, module);
    }
    return module;
  }

  /**
   * The pipeline for a file's entry point with these template values, compiled synchronously on first use.
   * Throws when the .wgsl file cannot be read or lacks a template value it uses.
   */
  pipeline(file: string, entry: string, values: TemplateValues = {}): GPUComputePipeline {
    const key = `${file}:${entry}:${JSON.stringify(values)}`;
    let pipeline = this.#pipelines.get(key);
    if (pipeline) return pipeline;
    pipeline = this.device.createComputePipeline({
      label: key,
      layout: "auto",
      compute: { module: this.#module(file, values), entryPoint: entry },
    });
    this.#pipelines.set(key, pipeline);
    return pipeline;
  }

  /**
   * Compiles the kernels not compiled yet, all at once (createComputePipelineAsync), calling `progress` as each
   * one is ready; later pipeline() calls for them return at once. Gpu.kernelsFor says which a piece of work
   * needs. Resolves to the number compiled.
   */
  async compile(keys: KernelKey[], progress?: (done: number, total: number) => void): Promise<number> {
    const todo = new Map<string, KernelKey>();
    for (const k of keys) {
      const key = `${k.file}:${k.entry}:${JSON.stringify(k.values)}`;
      if (!this.#pipelines.has(key)) todo.set(key, k);
    }
    let done = 0;
    progress?.(0, todo.size);
    await Promise.all([...todo].map(async ([key, k]) => {
      const pipeline = await this.device.createComputePipelineAsync({
        label: key,
        layout: "auto",
        compute: { module: this.#module(k.file, k.values), entryPoint: k.entry },
      });
      if (!this.#pipelines.has(key)) this.#pipelines.set(key, pipeline);
      progress?.(++done, todo.size);
    }));
    return todo.size;
  }
}
