#!/usr/bin/python3
"""Writes torch.save() state_dict files (.pt/.pth) from safetensors, for `deno task model export --out X.pt`
(src/cli/model.ts), and reads and writes safetensors for the PyTorch tests. Needs only torch (Debian's
python3-torch): safetensors is read and written by hand (8-byte little-endian header length, JSON header, raw
little-endian data). Reading .pt/.pth files (`deno task model import`) needs no Python: src/io/pth.ts.

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


def write(src, dst):
    sd = read_safetensors(src)
    torch.save(sd, dst)
    print(json.dumps({"tensors": len(sd)}))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "write":
        fail("usage: torch_state_dict.py write IN.safetensors OUT.pt")
    write(sys.argv[2], sys.argv[3])
