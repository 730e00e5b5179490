#!/usr/bin/python3
"""Writes PyTorch (float64) reference values for tests/reference_torch.test.ts.

Output: tests/fixtures/torch_reference.json (cases, parameters and, per array, shape + element offset) and
tests/fixtures/torch_reference.bin (all arrays concatenated, little-endian float64).
Run: /usr/bin/python3 tools/make_torch_fixtures.py
Conventions (docs/conventions.md) that differ from PyTorch are mapped here: LRN alpha_torch = alpha * n, the
within-map LRN and the unshared local layer are built from pad/avg_pool2d and unfold.
"""

import json
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(20120101)
torch.set_default_dtype(torch.float64)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures")

blob = []  # flat list of floats
cases = {}


def put(t):
    """Appends a tensor to the blob, returns its manifest entry."""
    t = t.detach().to(torch.float64).contiguous()
    entry = {"shape": list(t.shape), "offset": len(blob), "length": t.numel()}
    blob.extend(t.reshape(-1).tolist())
    return entry


def rnd(*shape, scale=1.0):
    return ((torch.rand(*shape) * 2 - 1) * scale).requires_grad_(True)


def run(name, params, inputs, fn):
    """Runs fn(*inputs) -> y, back-propagates a random dy and stores inputs, y, dy and input gradients."""
    y = fn(*inputs.values())
    dy = torch.rand(y.shape) * 2 - 1
    y.backward(dy)
    arrays = {k: put(v) for k, v in inputs.items()}
    arrays["y"] = put(y)
    arrays["dy"] = put(dy)
    for k, v in inputs.items():
        arrays["d" + k] = put(v.grad)
    cases[name] = {"params": params, "arrays": arrays}


def conv_case(name, n, cin, h, w, cout, k, stride, pad, groups):
    s = dict(n=n, cin=cin, h=h, w=w, cout=cout, kh=k, kw=k, stride=stride, pad=pad, groups=groups)
    inputs = {"x": rnd(n, cin, h, w), "w": rnd(cout, cin // groups, k, k, scale=0.5), "b": rnd(cout)}
    run(name, s, inputs, lambda x, wt, b: F.conv2d(x, wt, b, stride=stride, padding=pad, groups=groups))


def local_fn(s, oh, ow):
    def fn(x, wt, b):
        cols = F.unfold(x, (s["kh"], s["kw"]), padding=s["pad"], stride=s["stride"])  # [N][C*KH*KW][L]
        # wt: [L][Cout][C*KH*KW], inner index (c*KH + kh)*KW + kw matches unfold's row order.
        y = torch.einsum("lok,nkl->nol", wt, cols) + b.reshape(1, s["cout"], oh * ow)
        return y.reshape(s["n"], s["cout"], oh, ow)

    return fn


def local_case(name, n, cin, h, w, cout, k, stride, pad):
    s = dict(n=n, cin=cin, h=h, w=w, cout=cout, kh=k, kw=k, stride=stride, pad=pad, groups=1)
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    inputs = {"x": rnd(n, cin, h, w), "w": rnd(oh * ow, cout, cin * k * k, scale=0.5), "b": rnd(cout, oh, ow)}
    run(name, s, inputs, local_fn(s, oh, ow))


def pool_case(name, kind, n, c, h, w, k, stride, pad, ceil):
    s = dict(n=n, c=c, h=h, w=w, k=k, stride=stride, pad=pad, ceil=ceil)
    # A shuffled grid of distinct values: max pooling has no ties, so its gradient is well defined.
    x = (torch.randperm(n * c * h * w).to(torch.float64) * 0.01 - 1).reshape(n, c, h, w).requires_grad_(True)
    if kind == "max":
        fn = lambda x: F.max_pool2d(x, k, stride, pad, ceil_mode=ceil)  # noqa: E731
    else:
        fn = lambda x: F.avg_pool2d(x, k, stride, pad, ceil_mode=ceil, count_include_pad=False)  # noqa: E731
    run(name, s, {"x": x}, fn)


def lrn_cross_case(name, n, c, h, w, size, alpha, beta, k, scale):
    p = dict(k=k, n=size, alpha=alpha, beta=beta)
    mod = torch.nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)
    run(name, dict(shape=dict(n=n, c=c, h=h, w=w), lrn=p), {"x": rnd(n, c, h, w, scale=scale)}, mod)


def lrn_within_case(name, n, c, h, w, size, alpha, beta, k, scale):
    p = dict(k=k, n=size, alpha=alpha, beta=beta)
    half = size // 2

    def fn(x):
        sq = F.pad(x * x, (half, size - 1 - half, half, size - 1 - half))
        ssum = F.avg_pool2d(sq, size, 1) * (size * size)
        return x * (k + alpha * ssum) ** (-beta)

    run(name, dict(shape=dict(n=n, c=c, h=h, w=w), lrn=p), {"x": rnd(n, c, h, w, scale=scale)}, fn)


def softmax_case(name, n, classes, scale):
    z = rnd(n, classes, scale=scale)
    labels = torch.randint(0, classes, (n,))
    loss = F.cross_entropy(z, labels)
    loss.backward()
    greater = (z.detach() > z.detach().gather(1, labels[:, None])).sum(1)
    cases[name] = {
        "params": dict(
            n=n,
            classes=classes,
            labels=labels.tolist(),
            loss=loss.item(),
            top1=int((greater < 1).sum()),
            top5=int((greater < 5).sum()),
        ),
        "arrays": {"logits": put(z), "dlogits": put(z.grad)},
    }


conv_case("conv_g2_s2_p1", 2, 4, 9, 11, 6, 3, 2, 1, 2)
conv_case("conv_k11_s4_p2", 1, 3, 19, 19, 4, 11, 4, 2, 1)
conv_case("conv_g3_k5_p2", 3, 6, 5, 7, 6, 5, 1, 2, 3)
local_case("local_k3_s2_p1", 2, 3, 7, 8, 4, 3, 2, 1)
local_case("local_k2_s1_p0", 1, 2, 5, 4, 3, 2, 1, 0)

lin_inputs = {"x": rnd(3, 10), "w": rnd(7, 10), "b": rnd(7)}
run("linear", dict(n=3, inF=10, outF=7), lin_inputs, lambda x, wt, b: F.linear(x, wt, b))

pool_case("maxpool_k3_s2_ceil", "max", 2, 3, 8, 8, 3, 2, 0, True)
pool_case("maxpool_k3_s2_floor_odd", "max", 1, 2, 7, 9, 3, 2, 0, False)
pool_case("maxpool_k3_s2_p1_ceil", "max", 1, 2, 8, 10, 3, 2, 1, True)
pool_case("maxpool_k2_s2_p1_ceil_drop", "max", 1, 2, 5, 5, 2, 2, 1, True)
pool_case("avgpool_k3_s2_ceil", "avg", 2, 3, 8, 8, 3, 2, 0, True)
pool_case("avgpool_k3_s2_p1_ceil", "avg", 1, 2, 8, 10, 3, 2, 1, True)
pool_case("avgpool_k3_s2_p1_floor", "avg", 1, 2, 8, 10, 3, 2, 1, False)
pool_case("avgpool_k2_s2_p1_ceil_drop", "avg", 1, 2, 5, 5, 2, 2, 1, True)

lrn_cross_case("lrn_cross_paper", 2, 7, 3, 4, 5, 1e-4, 0.75, 2.0, 20.0)
lrn_cross_case("lrn_cross_strong", 2, 7, 3, 4, 5, 0.05, 0.75, 2.0, 3.0)
lrn_cross_case("lrn_cross_even", 1, 6, 3, 3, 4, 0.1, 0.5, 1.0, 2.0)
lrn_within_case("lrn_within_n3", 2, 3, 6, 7, 3, 0.05, 0.75, 1.0, 2.0)
lrn_within_case("lrn_within_n4", 1, 2, 5, 6, 4, 0.1, 0.5, 2.0, 2.0)

softmax_case("softmax_xent", 6, 12, 3.0)

run("relu", {}, {"x": rnd(64)}, torch.relu)
run("tanh", {}, {"x": rnd(64, scale=3.0)}, torch.tanh)

os.makedirs(OUT_DIR, exist_ok=True)
with open(os.path.join(OUT_DIR, "torch_reference.bin"), "wb") as f:
    f.write(struct.pack("<%dd" % len(blob), *blob))
manifest = {
    "generator": "tools/make_torch_fixtures.py",
    "torch": torch.__version__,
    "dtype": "float64",
    "endian": "little",
    "bin": "torch_reference.bin",
    "cases": cases,
}
with open(os.path.join(OUT_DIR, "torch_reference.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
print("%d values, %d bytes" % (len(blob), 8 * len(blob)))
