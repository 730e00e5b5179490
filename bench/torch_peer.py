#!/usr/bin/python3
"""PyTorch (CPU) as a peer in `deno task bench`: times the bench's own workloads in PyTorch.

Usage: /usr/bin/python3 bench/torch_peer.py CONFIG.json

CONFIG.json, written by bench/main.ts:
  {"threads": 2, "warmup": 1, "reps": 5, "workloads": [
     {"id": "cifar32-train128", "module": "<python source of class Net>", "input": [3, 32, 32],
      "classes": 10, "batch": 128, "mode": "train",
      "sgd": {"lr": 0.001, "momentum": 0.9, "weightDecay": 0.0005}},
     ...]}
The module source comes from src/io/torchvision.ts torchModuleSource(spec), so the layers (grouped convs
included, groups=2 in the two-tower AlexNet) and shapes are those of the spec our engine runs.

Per workload: one warm-up run, then `reps` timed runs, median wall time (as bench/main.ts does for ours).
- "forward": net.eval() under torch.no_grad(), logits computed and dropped.
- "train": net.train() (dropout on), cross-entropy on labels i % classes, backward, SGD with momentum and
  weight decay on weights only (our engine's default: biases are not decayed), loss read back with .item()
  as our step reads its loss back.
Inputs are seeded uniform [-0.5, 0.5); weights keep PyTorch's default initialisation (timing only).

Prints ONE JSON line on stdout: {"ok": true, "torch": "...", "threads": N, "workloads": {id: {...}}} or
{"ok": false, "reason": "...", "missing": "torch"?}; the exit code is 0 either way. Everything else goes to
stderr.
"""

import json
import os
import statistics
import sys
import time


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def loaded_blas():
    """Which BLAS this process loaded: Debian's torch runs fully connected layers through the system libblas.so.3,
    the reference implementation unless an optimised one (libopenblas0-pthread) is installed."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libblas.so" in line}
    except OSError:
        return "unknown"
    names = {"blas": "reference BLAS", "openblas-pthread": "OpenBLAS", "openblas-openmp": "OpenBLAS (OpenMP)"}
    dirs = sorted({os.path.basename(os.path.dirname(p)) for p in paths})
    return ", ".join(names.get(d, d) for d in dirs) or "none loaded"


def main():
    if len(sys.argv) != 2:
        emit({"ok": False, "reason": "usage: torch_peer.py CONFIG.json"})
        return
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        emit({"ok": False, "missing": "torch", "reason": f"{sys.executable}: {e}"})
        return

    with open(sys.argv[1]) as f:
        config = json.load(f)
    threads = int(config.get("threads") or len(os.sched_getaffinity(0)))
    warmup = int(config.get("warmup", 1))
    reps = int(config["reps"])
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    def build(w):
        scope = {}
        exec(compile(w["module"], f"<{w['id']} module>", "exec"), scope)
        return scope["Net"]()

    def inputs(w):
        c, h, wd = w["input"]
        n = w["batch"]
        g = torch.Generator().manual_seed(12345)
        x = torch.rand(n, c, h, wd, generator=g) - 0.5
        labels = torch.arange(n) % w["classes"]
        return x, labels

    def forward_fn(net, x, _labels, _w):
        net.eval()

        def run():
            with torch.no_grad():
                net(x)

        return run

    def train_fn(net, x, labels, w):
        net.train()
        sgd = w["sgd"]
        decayed = [p for name, p in net.named_parameters() if name.endswith(".weight")]
        others = [p for name, p in net.named_parameters() if not name.endswith(".weight")]
        groups = [
            {"params": decayed, "weight_decay": sgd["weightDecay"]},
            {"params": others, "weight_decay": 0.0},
        ]
        opt = torch.optim.SGD(
            groups,
            lr=sgd["lr"],
            momentum=sgd["momentum"],
        )
        losses = []

        def run():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())

        run.losses = losses
        return run

    results = {}
    for w in config["workloads"]:
        try:
            net = build(w)
            x, labels = inputs(w)
            run = (train_fn if w["mode"] == "train" else forward_fn)(net, x, labels, w)
            for _ in range(warmup):
                run()
            ms = []
            for _ in range(reps):
                t0 = time.perf_counter()
                run()
                ms.append((time.perf_counter() - t0) * 1000)
            med = statistics.median(ms)
            r = {
                "ok": True,
                "mode": w["mode"],
                "batch": w["batch"],
                "input": w["input"],
                "msMedian": med,
                "ms": ms,
                "imagesPerSec": w["batch"] / med * 1000,
            }
            losses = getattr(run, "losses", None)
            if losses:
                if not all(v == v and abs(v) != float("inf") for v in losses):
                    r = {"ok": False, "reason": f"non-finite loss: {losses}"}
                else:
                    r["firstLoss"], r["lastLoss"] = losses[0], losses[-1]
            results[w["id"]] = r
        except Exception as e:  # one workload failing leaves the others standing
            results[w["id"]] = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
        print(f"torch_peer: {w['id']}: {results[w['id']]}", file=sys.stderr)

    emit(
        {
            "ok": True,
            "torch": torch.__version__,
            "blas": loaded_blas(),
            "python": sys.executable,
            "threads": torch.get_num_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "warmup": warmup,
            "reps": reps,
            "workloads": results,
        }
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        emit({"ok": False, "reason": f"{type(e).__name__}: {e}"})
