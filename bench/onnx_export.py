#!/usr/bin/python3
"""ONNX export of the PyTorch peer's nets, for the ONNX Runtime Web peer of `deno task bench` (bench/ort_peer.ts).

Usage: /usr/bin/python3 bench/onnx_export.py CONFIG.json

CONFIG.json, written by bench/ort_peer.ts:
  {"opset": 13, "workloads": [
     {"id": "alexnet-one-tower-forward16", "module": "<python source of class Net>", "input": [3, 227, 227],
      "batch": 16, "path": "/.../.cache/bench-onnx/<key>.onnx"},
     ...]}
The module source is the one bench/torch_peer.py times (src/io/torchvision.ts torchModuleSource(spec)), so the
layers and shapes are those of the spec our engine runs. Each net is exported in eval mode (dropout off), input
"input" [batch, C, H, W] float32 and output "logits" [batch, classes], the batch a free dimension named "batch"
(one file serves batch 1 and 16; bench/ort_peer.ts pins it per session with freeDimensionOverrides, so the
runtime still sees fixed shapes). The workload's batch is only the size of the example input. Weights keep PyTorch's default
initialisation under torch.manual_seed(1) (timing only). The file is written beside its path and renamed
into place, so a run cut short never leaves half a file where the bench looks for a finished one.

Prints ONE JSON line on stdout: {"ok": true, "torch": "...", "opset": N, "workloads": {id: {"ok": true,
"path": ...} | {"ok": false, "reason": ...}}} or {"ok": false, "reason": "...", "missing": "torch"?}; the
exit code is 0 either way. Everything else goes to stderr.
"""

import json
import os
import sys


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    if len(sys.argv) != 2:
        emit({"ok": False, "reason": "usage: onnx_export.py CONFIG.json"})
        return
    try:
        import torch
        import torch.onnx  # noqa: F401
    except ImportError as e:
        emit({"ok": False, "missing": "torch", "reason": f"{sys.executable}: {e}"})
        return

    with open(sys.argv[1]) as f:
        config = json.load(f)
    opset = int(config.get("opset", 13))
    results = {}
    for w in config["workloads"]:
        try:
            torch.manual_seed(1)
            scope = {}
            exec(compile(w["module"], f"<{w['id']} module>", "exec"), scope)
            net = scope["Net"]().eval()
            x = torch.zeros(w["batch"], *w["input"])
            path = w["path"]
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with torch.no_grad():
                torch.onnx.export(
                    net,
                    (x,),
                    tmp,
                    input_names=["input"],
                    output_names=["logits"],
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=opset,
                    do_constant_folding=True,
                )
            os.replace(tmp, path)
            results[w["id"]] = {"ok": True, "path": path, "bytes": os.path.getsize(path)}
        except Exception as e:  # one net failing leaves the others standing
            results[w["id"]] = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
        print(f"onnx_export: {w['id']}: {results[w['id']]}", file=sys.stderr)

    emit({"ok": True, "torch": torch.__version__, "opset": opset, "workloads": results})


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        emit({"ok": False, "reason": f"{type(e).__name__}: {e}"})
