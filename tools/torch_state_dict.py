#!/usr/bin/python3
"""Converts between torch.save() state_dict files (.pt/.pth) and safetensors, for `deno task model import` and
`deno task model export` (src/io/torchvision.ts). Needs only torch (Debian's python3-torch): safetensors is read
and written by hand (8-byte little-endian header length, JSON header, raw little-endian data).

  /usr/bin/python3 tools/torch_state_dict.py read IN.pt OUT.safetensors
      torch.load(IN, weights_only=True); the state_dict (or the one under "state_dict" / "model"), "module."
      prefixes of DataParallel removed, every tensor as float32. Prints a JSON summary on stdout.
  /usr/bin/python3 tools/torch_state_dict.py write IN.safetensors OUT.pt
      torch.save() of an OrderedDict of the file's tensors, loadable with torch.load(OUT) and
      module.load_state_dict().

Expected failures print one line "error: ..." on stderr and exit with status 3.
"""

import collections
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(3)


def read_safetensors(path):
    """The file's tensors, in the module's order when the metadata has exportForTorch's "names" map (a
    safetensors header is sorted by name), else in the header's order."""
    return read_safetensors_with_metadata(path)[0]


def read_safetensors_with_metadata(path):
    """(tensors as in read_safetensors, the string metadata map)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        raw = bytearray(f.read())  # one writable buffer: the tensors are views into it
    metadata = header.get("__metadata__", {})
    names = [k for k in header if k != "__metadata__"]
    order = json.loads(metadata.get("names", "{}")).values()
    if sorted(order) == sorted(names):
        names = list(order)
    out = collections.OrderedDict()
    for name in names:
        e = header[name]
        a, b = e["data_offsets"]
        if e["dtype"] not in DTYPES:
            fail(f'{path}: tensor "{name}" has dtype {e["dtype"]}; expected a float type')
        dtype = DTYPES[e["dtype"]]
        count = (b - a) // torch.empty(0, dtype=dtype).element_size()
        if count == 0:
            out[name] = torch.zeros(e["shape"], dtype=dtype)
        else:
            out[name] = torch.frombuffer(raw, dtype=dtype, count=count, offset=a).reshape(e["shape"])
    return out, metadata


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + b.nbytes]}
        blobs.append(b)
        offset += b.nbytes
    js = json.dumps(header)
    js += " " * ((8 - (8 + len(js)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js.encode())
        for b in blobs:
            f.write(memoryview(b).cast("B"))


def state_dict_of(obj, path):
    """The tensor dict inside what torch.load returned, and notes on what was unwrapped."""
    notes = []
    if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                notes.append(f'took the state_dict under "{key}"')
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        fail(f"{path}: holds a {type(obj).__name__}, not a state_dict (a dict of tensor names to tensors)")
    bad = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if bad:
        fail(
            f"{path}: not a plain state_dict: {len(bad)} entries are not tensors ("
            + ", ".join(f'"{k}"' for k in bad[:5])
            + (", ..." if len(bad) > 5 else "")
            + ")"
        )
    if obj and all(k.startswith("module.") for k in obj):
        notes.append('removed the "module." prefix of DataParallel')
        obj = collections.OrderedDict((k[len("module.") :], v) for k, v in obj.items())
    return obj, notes


def read(src, dst):
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - every failure of torch.load means the same to the caller
        first = str(e).strip().split("\n")[0]
        if "WeightsUnpickler error: " in first:  # torch's advice to load unsafely is no advice here
            first = first.split("WeightsUnpickler error: ")[1]
        fail(
            f"{src}: torch.load(weights_only=True) cannot read it ({type(e).__name__}: {first}); expected a "
            "file written by torch.save(model.state_dict(), path) (a pickled whole model is refused: save its "
            "state_dict)"
        )
    sd, notes = state_dict_of(obj, src)
    dtypes = sorted({str(v.dtype).replace("torch.", "") for v in sd.values()})
    non_float = [k for k, v in sd.items() if not v.is_floating_point()]
    write_safetensors(dst, sd, {"source": src, "converted": "tools/torch_state_dict.py read"})
    print(json.dumps({"tensors": len(sd), "dtypes": dtypes, "notes": notes, "non_float": non_float}))


def write(src, dst):
    sd = read_safetensors(src)
    torch.save(sd, dst)
    print(json.dumps({"tensors": len(sd)}))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "write"):
        fail("usage: torch_state_dict.py read IN.pt OUT.safetensors | write IN.safetensors OUT.pt")
    {"read": read, "write": write}[sys.argv[1]](sys.argv[2], sys.argv[3])
