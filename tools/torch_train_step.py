#!/usr/bin/python3
"""One training step of a model in PyTorch, in float64, for tests/torch_parity.test.ts: forward in training
mode with the dropout masks given, the mean softmax cross-entropy, backward, and the paper's momentum SGD
written out by hand (section 5: v <- m*v - wd*lr*w - lr*g; w <- w + v; torch.optim.SGD's update differs:
it adds the decay to the gradient and applies lr after the momentum sum).

  /usr/bin/python3 tools/torch_train_step.py MODULE_DIR IN.safetensors OUT.safetensors

MODULE_DIR holds net.py (torchModuleSource(spec), class Net). IN.safetensors holds "param.<name>" (the
state_dict, float32), "momentum.<name>", "input" [N][C][H][W], "labels" [N] (class indices as floats) and
"mask.<module path>" [N][features] (1 = kept) for every Dropout module; its metadata "hyper" is JSON
{"lr", "momentum", "weight_decay", "mult": {name: [lr multiplier, weight-decay multiplier]}}. OUT.safetensors
gets "logits", "loss" [1], "grad.<name>", "param.<name>" and "momentum.<name>" after the step (float32 of the
float64 results). safetensors is read and written by hand (no safetensors package beside Debian's torch).
"""

import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_state_dict import read_safetensors_with_metadata, write_safetensors  # noqa: E402


class MaskedDropout(nn.Module):
    """Inverted dropout with a fixed mask (the engine's draw): y = x * mask / (1 - p)."""

    def __init__(self, mask, p):
        super().__init__()
        self.register_buffer("mask", mask, persistent=False)
        self.scale = 1.0 / (1.0 - p)

    def forward(self, x):
        return x * self.mask.reshape(x.shape) * self.scale


def main(module_dir, src, dst):
    t0 = time.perf_counter()
    torch.set_default_dtype(torch.float64)
    sys.path.insert(0, module_dir)
    from net import Net  # noqa: PLC0415

    tensors, metadata = read_safetensors_with_metadata(src)
    hyper = json.loads(metadata["hyper"])

    # load_state_dict sets every parameter: skip the random initialisation (seconds for 61 M float64 values).
    for cls in (nn.Conv2d, nn.Linear):
        cls.reset_parameters = lambda self: None
    net = Net()
    state = {k[len("param.") :]: v.double() for k, v in tensors.items() if k.startswith("param.")}
    net.load_state_dict(state, strict=True)
    for key, mask in tensors.items():
        if not key.startswith("mask."):
            continue
        seq, index = key[len("mask.") :].split(".")
        old = getattr(net, seq)[int(index)]
        assert isinstance(old, nn.Dropout), f"{key}: module {seq}.{index} is {type(old).__name__}"
        getattr(net, seq)[int(index)] = MaskedDropout(mask.double(), old.p)
    net.train()

    t1 = time.perf_counter()
    x = tensors["input"].double()
    labels = tensors["labels"].round().long()
    logits = net(x)
    loss = F.cross_entropy(logits, labels)  # the mean over the batch, as the engine's loss
    t2 = time.perf_counter()
    loss.backward()
    t3 = time.perf_counter()

    lr, m, wd = hyper["lr"], hyper["momentum"], hyper["weight_decay"]
    out = {"logits": logits.detach(), "loss": loss.detach().reshape(1)}
    with torch.no_grad():
        for name, p in net.named_parameters():
            lr_mult, wd_mult = hyper["mult"][name]
            g = p.grad
            # v <- m*v - wd*lr*w - lr*g, in place (the tensors are large: fc6 alone has 37.7 M values).
            v = tensors["momentum." + name].double()
            v.mul_(m).add_(p, alpha=-(wd * wd_mult) * (lr * lr_mult)).add_(g, alpha=-(lr * lr_mult))
            out["grad." + name] = g
            out["momentum." + name] = v
            out["param." + name] = p.add(v)
    t4 = time.perf_counter()
    write_safetensors(dst, out, {"source": "tools/torch_train_step.py", "torch": torch.__version__})
    t5 = time.perf_counter()
    print(
        f"load {t1 - t0:.1f} s, forward {t2 - t1:.1f} s, backward {t3 - t2:.1f} s, SGD {t4 - t3:.1f} s, "
        f"write {t5 - t4:.1f} s, {torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("error: usage: torch_train_step.py MODULE_DIR IN.safetensors OUT.safetensors", file=sys.stderr)
        sys.exit(3)
    main(*sys.argv[1:])
