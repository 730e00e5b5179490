// The safetensors reader on files whose header does not fit their data: every dtype is size-checked against
// its shape, and the error names the file and the tensor (never a raw DataView RangeError).
import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.ts";

/** A safetensors file with the given header entries and `dataBytes` bytes of tensor data. */
function rawFile(entries: Record<string, unknown>, dataBytes: number): Uint8Array {
  let json = JSON.stringify({ __metadata__: {}, ...entries });
  while ((8 + json.length) % 8 !== 0) json += " ";
  const header = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + header.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  return out;
}

Deno.test("decodeSafetensors: F16 and BF16 tensors decode", () => {
  // 1.0, -2.0 in F16 (0x3c00, 0xc000) and BF16 (0x3f80, 0xc000).
  const bytes = rawFile({
    h: { dtype: "F16", shape: [2], data_offsets: [0, 4] },
    b: { dtype: "BF16", shape: [2], data_offsets: [4, 8] },
  }, 8);
  const base = bytes.length - 8;
  new DataView(bytes.buffer).setUint16(base, 0x3c00, true);
  new DataView(bytes.buffer).setUint16(base + 2, 0xc000, true);
  new DataView(bytes.buffer).setUint16(base + 4, 0x3f80, true);
  new DataView(bytes.buffer).setUint16(base + 6, 0xc000, true);
  const f = decodeSafetensors(bytes, "ok.safetensors");
  assertEquals([...f.tensors.get("h")!.data], [1, -2]);
  assertEquals([...f.tensors.get("b")!.data], [1, -2]);
});

Deno.test("decodeSafetensors: tensors whose bytes do not match their shape fail naming file and tensor", () => {
  const cases: [Record<string, unknown>, number, RegExp][] = [
    // F16 [4] needs 8 bytes; the header gives 4 (the DataView read used to run past its end).
    [
      { h: { dtype: "F16", shape: [4], data_offsets: [0, 4] } },
      4,
      /bad\.safetensors: tensor "h".*F16.*\[4\].*8 bytes.*4/,
    ],
    [
      { b: { dtype: "BF16", shape: [2, 3], data_offsets: [0, 6] } },
      6,
      /tensor "b".*BF16.*\[2,3\].*12 bytes/,
    ],
    // More bytes than the shape needs is as wrong as fewer.
    [{ h: { dtype: "F16", shape: [1], data_offsets: [0, 4] } }, 4, /tensor "h".*2 bytes.*4/],
    [{ f: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8, /tensor "f".*F32.*12 bytes.*8/],
    // Unsupported dtypes are size-checked first, then named.
    [{ d: { dtype: "F64", shape: [2], data_offsets: [0, 8] } }, 8, /tensor "d".*F64.*16 bytes/],
    [{ d: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, 8, /tensor "d" has dtype F64; only F32, F16/],
    [{ q: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, 1, /tensor "q" has an unknown dtype "Q4"/],
    // Offsets that are reversed, negative, fractional or past the end of the file.
    [{ h: { dtype: "F16", shape: [1], data_offsets: [4, 2] } }, 4, /tensor "h".*data_offsets \[4,2\]/],
    [{ h: { dtype: "F16", shape: [1], data_offsets: [-2, 0] } }, 4, /tensor "h".*data_offsets \[-2,0\]/],
    [{ h: { dtype: "F16", shape: [1], data_offsets: [0.5, 2.5] } }, 4, /tensor "h".*data_offsets/],
    [
      { h: { dtype: "F16", shape: [4], data_offsets: [0, 8] } },
      4,
      /tensor "h" runs past the end of the file/,
    ],
    // Malformed entries.
    [{ h: { dtype: "F16", shape: [-1], data_offsets: [0, 0] } }, 0, /tensor "h".*shape \[-1\]/],
    [{ h: { dtype: "F16", shape: "4", data_offsets: [0, 8] } }, 8, /tensor "h".*shape/],
    [{ h: { dtype: "F16", shape: [4] } }, 8, /tensor "h".*data_offsets/],
    [{ h: 7 }, 0, /tensor "h".*not an object/],
  ];
  for (const [entries, dataBytes, want] of cases) {
    const bytes = rawFile(entries, dataBytes);
    const e = assertThrows(() => decodeSafetensors(bytes, "bad.safetensors"), JSON.stringify(entries));
    assert(
      !(e instanceof RangeError),
      `raw RangeError for ${JSON.stringify(entries)}: ${(e as Error).message}`,
    );
    assertMatch((e as Error).message, /^bad\.safetensors: /);
    assertMatch((e as Error).message, want);
  }
});

Deno.test("decodeSafetensors: an F32 round trip still works", () => {
  const tensors = new Map([["w", { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }]]);
  const back = decodeSafetensors(encodeSafetensors(tensors, { k: "v" }), "x");
  assertEquals(back.tensors.get("w"), tensors.get("w"));
  assertEquals(back.metadata, { k: "v" });
});
