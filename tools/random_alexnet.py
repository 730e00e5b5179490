"""A torchvision AlexNet with seeded random weights, for the tests that need one: torchvision's own module when it
is installed, else the equivalent module this project generates (net.py beside this file, written by
tests/helpers/torch_alexnet.ts), which has its parameter names and shapes."""
import torch


def random_alexnet(seed=0):
    torch.manual_seed(seed)
    try:
        from torchvision.models import alexnet

        return alexnet(weights=None)
    except ImportError:
        from net import Net

        return Net()
