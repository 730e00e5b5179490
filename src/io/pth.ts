// torch.save() files (.pt/.pth) without PyTorch: the zip format of torch >= 1.6 (<name>/data.pkl plus one
// <name>/data/<key> entry per storage) and the legacy format before it (and with
// _use_new_zipfile_serialization=False): the pickled magic number, protocol version and sys_info, the main
// pickle, the pickled list of storage keys, then each storage as an 8-byte element count and its raw bytes.
// The pickles go through src/io/pickle.ts with a whitelist of the globals a state_dict needs; anything else
// (a pickled nn.Module, os.system) is refused by name, never run.

import { PickleError, PickleFunction, type PickleHooks, pythonType, unpickle } from "./pickle.ts";
import { isZip, openZip, readEntry, ZipError } from "./zip.ts";
import { bf16ToFloat, f16ToFloat, type NamedTensor } from "./safetensors.ts";

/** A torch storage dtype: its storage class name, element size and how its elements read as numbers. */
interface DType {
  name: string;
  bytes: number;
  float: boolean;
}

const DTYPES: Record<string, DType> = Object.fromEntries(
  ([
    ["FloatStorage", "float32", 4, true],
    ["HalfStorage", "float16", 2, true],
    ["BFloat16Storage", "bfloat16", 2, true],
    ["DoubleStorage", "float64", 8, true],
    ["LongStorage", "int64", 8, false],
    ["IntStorage", "int32", 4, false],
    ["ShortStorage", "int16", 2, false],
    ["CharStorage", "int8", 1, false],
    ["ByteStorage", "uint8", 1, false],
    ["BoolStorage", "bool", 1, false],
  ] as const).map(([cls, name, bytes, float]) => [cls, { name, bytes, float }]),
);

/** A storage's raw bytes (little-endian elements of `dtype`), filled in once the file's data is located. */
export interface TorchStorage {
  key: string;
  dtype: DType;
  /** Elements. */
  numel: number;
  /** Where it was saved ("cpu", "cuda:0"): irrelevant here, the bytes are the same. */
  location: string;
  data?: Uint8Array;
  /** Legacy files only: this storage is `size` elements of `root` from element `offset`. */
  view?: { root: TorchStorage; offset: number };
}

/** A tensor of a torch.save() file: a strided window on a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A class the whitelist knows by name only (storage types, torch.Tensor): a marker, never constructed. */
class TorchClass {
  constructor(readonly name: string) {}
}

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const intList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => isInt(x) && x >= 0);

/** Refuses a pickle's global: one line naming it. */
function refuse(module: string, name: string): never {
  const what = `${module}.${name}`;
  throw new PickleError(
    `it refers to the Python object ${what}, which is not part of a state_dict` +
      (/^torch\.nn\.modules\./.test(what) ? " (a pickled whole model: save its state_dict() instead)" : "") +
      "; refused without running anything",
  );
}

function rebuildTensor(args: readonly unknown[], fn: string): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (
    !(storage && typeof storage === "object" && "dtype" in storage) || !isInt(offset) || !intList(size) ||
    !intList(stride) || size.length !== stride.length
  ) {
    throw new PickleError(`${fn} with arguments that are not (storage, offset, size, stride)`);
  }
  return new TorchTensor(storage as TorchStorage, offset, [...size], [...stride]);
}

/** The globals a state_dict's pickle may name, as TypeScript stand-ins. */
function stateDictGlobal(module: string, name: string): unknown {
  const fqn = `${module}.${name}`;
  switch (fqn) {
    case "collections.OrderedDict":
      return new PickleFunction(fqn, (args) => {
        const pairs = args[0] ?? [];
        if (!Array.isArray(pairs)) throw new PickleError(`${fqn} of a ${pythonType(pairs)}`);
        return new Map(pairs.map((kv) => (Array.isArray(kv) ? [kv[0], kv[1]] : [kv, undefined])));
      });
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2":
      return new PickleFunction(fqn, (args) => rebuildTensor(args, fqn));
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      // nn.Parameter(data, requires_grad): the data is the tensor.
      return new PickleFunction(fqn, (args) => {
        if (!(args[0] instanceof TorchTensor)) throw new PickleError(`${fqn} of a ${pythonType(args[0])}`);
        return args[0];
      });
    case "torch._tensor._rebuild_from_type_v2":
      // (func, type, args, state): a tensor of class `type` built by func(*args); the class is a label here.
      return new PickleFunction(fqn, (args) => {
        const [func, type, inner] = args;
        if (!(func instanceof PickleFunction) || !(type instanceof TorchClass) || !Array.isArray(inner)) {
          throw new PickleError(`${fqn} with unexpected arguments`);
        }
        return func.call(inner);
      });
    case "torch.Tensor":
    case "torch.nn.parameter.Parameter":
      return new TorchClass(fqn);
  }
  if (module === "torch" && DTYPES[name]) return new TorchClass(fqn);
  if (module === "torch" && name.endsWith("Storage")) {
    throw new PickleError(
      `it holds a tensor of storage type ${fqn}; float32, float16, bfloat16, float64 and integer tensors are read`,
    );
  }
  refuse(module, name);
}

/**
 * The pickle hooks for a torch.save() file; persistent ids become TorchStorages, one per key, collected in
 * `storages`. `legacy`: the persistent id's extra view field of the old format.
 */
function torchHooks(storages: Map<string, TorchStorage>, legacy: boolean): PickleHooks {
  return {
    global: stateDictGlobal,
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== (legacy ? 6 : 5)) {
        throw new PickleError(`a persistent id ${describe(pid)} that is not a tensor storage`);
      }
      const [, type, key, location, numel] = pid;
      if (!(type instanceof TorchClass) || !DTYPES[type.name.slice("torch.".length)]) {
        throw new PickleError(`a storage of type ${describe(type)}`);
      }
      if (typeof key !== "string" || !isInt(numel) || numel < 0) {
        throw new PickleError(`a storage id ${describe(pid)} without a key and a size`);
      }
      let root = storages.get(key);
      if (!root) {
        const dtype = DTYPES[type.name.slice("torch.".length)];
        root = { key, dtype, numel, location: String(location) };
        storages.set(key, root);
      }
      const view = legacy ? pid[5] : null;
      if (view === null) return root;
      // Old torch saved storage views as (view key, offset, size) over a root storage.
      if (!Array.isArray(view) || view.length !== 3 || !isInt(view[1]) || !isInt(view[2])) {
        throw new PickleError(`a storage view ${describe(view)} that is not (key, offset, size)`);
      }
      return {
        key: String(view[0]),
        dtype: root.dtype,
        numel: view[2],
        location: root.location,
        view: {
          root,
          offset: view[1],
        },
      };
    },
  };
}

function describe(v: unknown): string {
  if (v instanceof TorchClass) return v.name;
  if (Array.isArray(v)) return `(${v.map(describe).join(", ")})`;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || v === null) {
    return String(v);
  }
  return pythonType(v);
}

/** The legacy format's sequence of pickles and storages, read from the start of `bytes`. */
function readLegacy(bytes: Uint8Array): unknown {
  const plain: PickleHooks = { global: refuse };
  const magic = unpickle(bytes, plain);
  if (magic.value !== MAGIC) {
    throw new PickleError(
      `a Python pickle of a ${pythonType(magic.value)}, not a torch.save() file (which starts with ` +
        `torch's magic number)`,
    );
  }
  const version = unpickle(bytes, plain, magic.end);
  if (version.value !== PROTOCOL_VERSION) {
    throw new PickleError(`torch.save() protocol version ${describe(version.value)} (expected 1001)`);
  }
  const info = unpickle(bytes, plain, version.end);
  if (info.value instanceof Map && info.value.get("little_endian") === false) {
    throw new PickleError("it was saved on a big-endian machine, which this reader does not convert");
  }
  const storages = new Map<string, TorchStorage>();
  const main = unpickle(bytes, torchHooks(storages, true), info.end);
  const keys = unpickle(bytes, plain, main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
    throw new PickleError(`its storage key list is a ${pythonType(keys.value)}, not a list of strings`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: [TorchStorage, number, number][] = [];
  let p = keys.end;
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (!s) throw new PickleError(`its storage list names "${key}", which no tensor uses`);
    if (p + 8 > bytes.length) {
      throw new PickleError(`storage "${key}" starts past the end of the file at byte ${p} (truncated?)`);
    }
    const count = Number(dv.getBigInt64(p, true));
    if (count !== s.numel) {
      throw new PickleError(
        `storage "${key}" holds ${count} elements at byte ${p}, its tensor says ${s.numel}`,
      );
    }
    const end = p + 8 + count * s.dtype.bytes;
    if (end > bytes.length) {
      throw new PickleError(
        `storage "${key}" needs bytes ${p + 8}-${end}, the file ends at byte ${bytes.length} (truncated?)`,
      );
    }
    found.push([s, p + 8, end]);
    p = end;
  }
  // Storages follow each other unaligned. Moving the storage area back by up to 3 bytes (over the pickles,
  // already read) aligns the first one, and with it every float32 storage of an all-float32 file, so their
  // values are used in place instead of copied.
  const shift = found.length ? (bytes.byteOffset + found[0][1]) % 4 : 0;
  if (shift) bytes.copyWithin(keys.end - shift, keys.end, p);
  for (const [s, start, end] of found) s.data = bytes.subarray(start - shift, end - shift);
  return main.value;
}

/** The zip format: data.pkl, then each storage the pickle named from data/<key>. */
async function readZipFormat(bytes: Uint8Array): Promise<unknown> {
  const zip = openZip(bytes);
  const pkl = [...zip.entries.keys()].filter((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (pkl.length !== 1) {
    const names = [...zip.entries.keys()];
    throw new PickleError(
      `a zip archive ${
        pkl.length ? "with several data.pkl" : "without data.pkl"
      }, not a torch.save() file (it ` +
        `holds ${names.slice(0, 4).join(", ") || "nothing"}${names.length > 4 ? ", ..." : ""})`,
    );
  }
  const prefix = pkl[0].slice(0, -"data.pkl".length);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order) {
    const text = new TextDecoder().decode(await readEntry(zip, order)).trim();
    if (text !== "little") throw new PickleError(`it was saved with ${text}-endian storages (little only)`);
  }
  const storages = new Map<string, TorchStorage>();
  const { value } = unpickle(await readEntry(zip, zip.entries.get(pkl[0])!), torchHooks(storages, false));
  for (const s of storages.values()) {
    const entry = zip.entries.get(`${prefix}data/${s.key}`);
    if (!entry) throw new PickleError(`storage ${prefix}data/${s.key} is missing from the archive`);
    s.data = await readEntry(zip, entry);
  }
  return value;
}

/**
 * The object a torch.save() file holds, its tensors as TorchTensors whose storages carry their bytes. `bytes`
 * is taken over: storages are views of it, and a legacy file's storage area may be moved within it by up to 3
 * bytes (see readLegacy). Errors name `source` and say what is wrong in one line: not a torch.save() file,
 * truncated, a refused global.
 */
export async function readTorchFile(bytes: Uint8Array, source: string): Promise<unknown> {
  try {
    if (isZip(bytes)) return await readZipFormat(bytes);
    if (bytes.length >= 2 && bytes[0] === 0x80) return readLegacy(bytes);
  } catch (e) {
    if (e instanceof PickleError || e instanceof ZipError) {
      const kind = e instanceof ZipError ? "a damaged torch.save() zip archive: " : "";
      throw new Error(`${source}: ${kind}${e.message}`);
    }
    throw e;
  }
  throw new Error(`${source}: not a torch.save() file (neither a zip archive nor a pickle)`);
}

/** Row-major strides of `shape`. */
function contiguousStrides(shape: number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

let halfTable: Float32Array | undefined;

/** `count` elements of `dtype` from the start of `bytes`, as float32 (a view of `bytes` when it can be). */
function decode(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  if (dtype.name === "float32" && bytes.byteOffset % 4 === 0) {
    // torch's zip entries are aligned: the values are used in place (copying 244 MB costs seconds here).
    return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  }
  const out = new Float32Array(count);
  if (dtype.name === "float32") {
    new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype.name) {
    case "float16": {
      // A table of all 65536 halves: one lookup an element for the many weights of a float16 file.
      if (!halfTable) halfTable = Float32Array.from({ length: 65536 }, (_, h) => f16ToFloat(h));
      for (let i = 0; i < count; i++) out[i] = halfTable[dv.getUint16(2 * i, true)];
      break;
    }
    case "bfloat16":
      for (let i = 0; i < count; i++) out[i] = bf16ToFloat(dv.getUint16(2 * i, true));
      break;
    case "float64":
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case "int64":
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    case "int32":
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case "int16":
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case "int8":
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      break;
    default: // uint8, bool
      for (let i = 0; i < count; i++) out[i] = bytes[i];
  }
  return out;
}

/**
 * A tensor's values in row-major order as float32 (float16, bfloat16 and float64 converted), copied from its
 * storage with its offset and strides. `what` names it in errors.
 */
export function tensorValues(t: TorchTensor, what: string): NamedTensor {
  let storage = t.storage, base = t.offset;
  if (storage.view) {
    base += storage.view.offset;
    storage = storage.view.root;
  }
  const { dtype } = storage;
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count === 0) return { shape: t.shape, data: new Float32Array(0) };
  // The span of storage elements the tensor touches: [base, last].
  let last = base;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
  const have = Math.min(storage.numel, (storage.data?.length ?? 0) / dtype.bytes);
  if (last >= have) {
    throw new Error(
      `${what}: ${dtype.name} [${t.shape}] at offset ${base} with strides [${t.stride}] reaches element ${last} ` +
        `of a ${have}-element storage`,
    );
  }
  const span = decode(storage.data!.subarray(base * dtype.bytes), dtype, last - base + 1);
  const strides = contiguousStrides(t.shape);
  if (t.shape.every((n, i) => n === 1 || t.stride[i] === strides[i])) return { shape: t.shape, data: span };
  // Not contiguous (a transposed view was saved): gather element by element in row-major order.
  const data = new Float32Array(count), index = new Array<number>(t.shape.length).fill(0);
  let src = 0;
  for (let i = 0; i < count; i++) {
    data[i] = span[src];
    for (let d = t.shape.length - 1; d >= 0; d--) {
      src += t.stride[d];
      if (++index[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      index[d] = 0;
    }
  }
  return { shape: t.shape, data };
}

/** A state_dict read from a torch.save() file: float32 tensors by name, in the file's order. */
export interface TorchStateDict {
  tensors: Map<string, NamedTensor>;
  /** What was done beyond reading: a state_dict taken from under a key, DataParallel's "module." removed. */
  notes: string[];
  /** The tensors' dtypes in the file ("float32", "float16"...). */
  dtypes: string[];
}

const WRAPPER_KEYS = ["state_dict", "model", "model_state_dict"];

/**
 * The state_dict a torch.save() file holds: torch.save(model.state_dict(), path), or a training checkpoint dict
 * with the state_dict under "state_dict", "model" or "model_state_dict"; DataParallel's "module." prefix is
 * removed. `bytes` is taken over (as readTorchFile): float32 tensors are views of it where aligned. Errors name
 * `source` and say what the file holds instead, in one line.
 */
export async function readTorchStateDict(bytes: Uint8Array, source: string): Promise<TorchStateDict> {
  let obj = await readTorchFile(bytes, source);
  const notes: string[] = [];
  const expected = "expected a file written by torch.save(model.state_dict(), path)";
  if (obj instanceof Map && ![...obj.values()].some((v) => v instanceof TorchTensor)) {
    const key = WRAPPER_KEYS.find((k) => obj instanceof Map && obj.get(k) instanceof Map);
    if (key !== undefined) {
      notes.push(`took the state_dict under "${key}"`);
      obj = (obj as Map<unknown, unknown>).get(key);
    }
  }
  if (!(obj instanceof Map)) {
    throw new Error(
      `${source}: holds ${obj instanceof TorchTensor ? "a single tensor" : `a ${pythonType(obj)}`}, not a ` +
        `state_dict (a dict of tensor names to tensors); ${expected}`,
    );
  }
  const bad = [...obj].filter(([k, v]) => typeof k !== "string" || !(v instanceof TorchTensor));
  if (bad.length) {
    throw new Error(
      `${source}: not a plain state_dict: ${bad.length} of its ${obj.size} entries are not named tensors (${
        bad.slice(0, 5).map(([k, v]) => `${describe(k)}: ${pythonType(v)}`).join(", ")
      }${bad.length > 5 ? ", ..." : ""}); ${expected}`,
    );
  }
  let entries = [...obj] as [string, TorchTensor][];
  if (entries.length && entries.every(([k]) => k.startsWith("module."))) {
    notes.push('removed the "module." prefix of DataParallel');
    entries = entries.map(([k, v]) => [k.slice("module.".length), v]);
  }
  const tensors = new Map<string, NamedTensor>();
  const dtypes = new Set<string>();
  for (const [name, t] of entries) {
    tensors.set(name, tensorValues(t, `${source}: tensor "${name}"`));
    dtypes.add((t.storage.view?.root ?? t.storage).dtype.name);
  }
  return { tensors, notes, dtypes: [...dtypes].sort() };
}
