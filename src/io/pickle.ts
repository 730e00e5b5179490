// A restricted Python unpickler: the opcodes of protocols 0-5 that data pickles (state_dicts, torch.save()'s
// headers) use, turning them into plain values. Nothing is ever executed: GLOBAL/STACK_GLOBAL go to the
// caller's `global` hook, which returns a stand-in (a PickleFunction it implements in TypeScript, or a marker
// value) or refuses the name; REDUCE and NEWOBJ call only PickleFunctions. src/io/pth.ts supplies torch's hooks.
//
// Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number, str -> string,
// bytes -> Uint8Array, list -> array, tuple -> frozen array, dict -> Map (insertion order kept), set -> Set.

/** A Python callable that a `global` hook implements in TypeScript. */
export class PickleFunction {
  constructor(readonly name: string, readonly call: (args: readonly unknown[]) => unknown) {}
}

export interface PickleHooks {
  /** What `module.name` stands for; throw (PickleError) to refuse it. */
  global(module: string, name: string): unknown;
  /** The object a persistent id (BINPERSID, PERSID) refers to; without this hook they are refused. */
  persistentLoad?(pid: unknown): unknown;
}

/** Thrown for pickles this reader refuses or cannot read; the message says what is wrong, without the file. */
export class PickleError extends Error {}

/** A tuple: an array that cannot change (as Python's). */
export const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);
export const isTuple = (v: unknown): v is readonly unknown[] => Array.isArray(v) && Object.isFrozen(v);

/** Python's name for the type of an unpickled value, for messages ("dict", "list", "int"...). */
export function pythonType(v: unknown): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) return "int";
  if (typeof v === "number") return "float";
  if (typeof v === "string") return "str";
  if (v instanceof Uint8Array) return "bytes";
  if (isTuple(v)) return "tuple";
  if (Array.isArray(v)) return "list";
  if (v instanceof Map) return "dict";
  if (v instanceof Set) return "set";
  if (v instanceof PickleFunction) return `function ${v.name}`;
  return (v as object)?.constructor?.name ?? typeof v;
}

/**
 * Unpickles the pickle that starts at `offset` of `bytes`; returns its value and where its STOP opcode ends
 * (torch's legacy format puts several pickles and raw data one after another).
 */
export function unpickle(
  bytes: Uint8Array,
  hooks: PickleHooks,
  offset = 0,
): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = offset;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  const need = (n: number) => {
    if (n < 0 || p + n > bytes.length) {
      throw new PickleError(`the pickle is cut short at byte ${bytes.length} (a truncated file?)`);
    }
  };
  const u8 = () => (need(1), bytes[p++]);
  const u16 = () => (need(2), p += 2, dv.getUint16(p - 2, true));
  const u32 = () => (need(4), p += 4, dv.getUint32(p - 4, true));
  const i32 = () => (need(4), p += 4, dv.getInt32(p - 4, true));
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`a length of ${v} bytes at byte ${p - 8}`);
    return Number(v);
  };
  const take = (n: number) => (need(n), p += n, bytes.subarray(p - n, p));
  const line = () => {
    const nl = bytes.indexOf(10, p);
    if (nl < 0) throw new PickleError(`the pickle is cut short at byte ${bytes.length} (a truncated file?)`);
    const s = new TextDecoder("latin1").decode(bytes.subarray(p, nl));
    p = nl + 1;
    return s;
  };
  const text = (b: Uint8Array) => {
    try {
      return utf8.decode(b);
    } catch {
      throw new PickleError(`a string at byte ${p - b.length} is not UTF-8`);
    }
  };
  const pop = () => {
    if (stack.length === 0) throw new PickleError(`the pickle pops an empty stack at byte ${p - 1}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`the pickle reads an empty stack at byte ${p - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const items = stack;
    const previous = marks.pop();
    if (!previous) throw new PickleError(`the pickle closes a MARK it never opened at byte ${p - 1}`);
    stack = previous;
    return items;
  };
  const long = (b: Uint8Array): number | bigint => {
    // Little-endian two's complement of any length.
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (f: unknown, args: unknown, op: string) => {
    if (!(f instanceof PickleFunction)) {
      throw new PickleError(
        `${op} at byte ${p - 1} calls a ${pythonType(f)}, which this reader does not call`,
      );
    }
    if (!Array.isArray(args)) throw new PickleError(`${op} at byte ${p - 1}: arguments are not a tuple`);
    return f.call(args);
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    if (!(target instanceof Map)) {
      throw new PickleError(`SETITEMS at byte ${p - 1} on a ${pythonType(target)}, not a dict`);
    }
    if (kv.length % 2) throw new PickleError(`SETITEMS at byte ${p - 1} with an odd number of items`);
    for (let i = 0; i < kv.length; i += 2) target.set(kv[i], kv[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target) || Object.isFrozen(target)) {
      throw new PickleError(`APPENDS at byte ${p - 1} on a ${pythonType(target)}, not a list`);
    }
    target.push(...items);
  };
  const persistent = (pid: unknown) => {
    if (!hooks.persistentLoad) {
      throw new PickleError(`a persistent id at byte ${p - 1}, which is not expected`);
    }
    return hooks.persistentLoad(pid);
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError(`pickle protocol ${bytes[p - 1]} (this reader knows 0-5)`);
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) {
          throw new PickleError(`the pickle stops at byte ${at} with ${stack.length} values on its stack`);
        }
        return { value: stack[0], end: p };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x49: { // INT (protocol 0; "01"/"00" are True/False)
        const s = line();
        stack.push(s === "01" ? true : s === "00" ? false : parseIntText(s, at));
        break;
      }
      case 0x4c: // LONG (protocol 0)
        stack.push(parseIntText(line().replace(/L$/, ""), at));
        break;
      case 0x8a: // LONG1
        stack.push(long(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        stack.push(long(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x46: // FLOAT (protocol 0)
        stack.push(Number(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(take(u64())));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(new TextDecoder("latin1").decode(take(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder("latin1").decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      // popMark() replaces `stack`: take the items before naming the stack to push onto.
      case 0x74: { // TUPLE
        const items = popMark();
        stack.push(tuple(items));
        break;
      }
      case 0x6c: { // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: { // DICT
        const kv = popMark(), d = new Map();
        setItems(d, kv);
        stack.push(d);
        break;
      }
      case 0x91: { // FROZENSET
        const items = popMark();
        stack.push(new Set(items));
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark(), s = top();
        if (!(s instanceof Set)) throw new PickleError(`ADDITEMS at byte ${at} on a ${pythonType(s)}`);
        for (const x of items) s.add(x);
        break;
      }
      case 0x61: { // APPEND
        const x = pop();
        append(top(), [x]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x70: // PUT
        memo.set(parseIntText(line(), at) as number, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const key = op === 0x67 ? parseIntText(line(), at) as number : op === 0x68 ? u8() : u32();
        if (!memo.has(key)) {
          throw new PickleError(`the pickle refers to memo ${key}, never stored (byte ${at})`);
        }
        stack.push(memo.get(key));
        break;
      }
      case 0x63: { // GLOBAL
        const module = line(), name = line();
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          throw new PickleError(`STACK_GLOBAL at byte ${at} without a module and a name`);
        }
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), f = pop();
        stack.push(call(f, args, "REDUCE"));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop(), cls = pop();
        stack.push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x62: { // BUILD
        const state = pop(), obj = top();
        // A dict subclass's state is its instance __dict__ (an OrderedDict's `_metadata`, torch's per-module
        // versions): attributes with no bearing on the items, so they are dropped.
        if (!(obj instanceof Map) || !(state instanceof Map || state === null)) {
          throw new PickleError(
            `BUILD at byte ${at} sets the state of a ${pythonType(obj)}, which is not expected`,
          );
        }
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID
        stack.push(persistent(line()));
        break;
      default:
        throw new PickleError(
          `opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at} is not one this reader accepts ` +
            `(not a data pickle?)`,
        );
    }
  }
}

function parseIntText(s: string, at: number): number | bigint {
  if (!/^[-+]?\d+$/.test(s.trim())) throw new PickleError(`"${s}" at byte ${at} is not an integer`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
