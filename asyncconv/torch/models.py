"""Networks for the torch backend: a ReLU MLP, a small CNN with max-pooling, a ResNet-20.

All take images (N, C, H, W) and return logits (N, classes); parameters are created in forward
order, so ``named_parameters()`` order is the order the forward pass reads them (what block
layouts and torn-read recording assume).

- ``mlp``: flatten, Linear(d, 128), ReLU, Linear(128, 128), ReLU, Linear(128, classes).
- ``cnn``: [Conv3x3(16), ReLU, MaxPool2] [Conv3x3(32), ReLU, MaxPool2], Linear(·, 64), ReLU,
  Linear(64, classes) — the MNIST-style CPU network of the authors' early experiments.
- ``resnet20``: He et al. (2016) CIFAR ResNet with 3 stages x 3 basic blocks (16, 32, 64 channels,
  batch norm, 1x1 projection shortcuts where the shape changes), global average pooling, linear.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from asyncconv.config import ConfigError

__all__ = ["MODELS", "build_model", "initialise"]

MODELS = ("mlp", "cnn", "resnet20")


def _mlp(shape: tuple[int, ...], classes: int) -> nn.Module:
    d = 1
    for s in shape:
        d *= s
    return nn.Sequential(
        nn.Flatten(), nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, classes)
    )


def _cnn(shape: tuple[int, ...], classes: int) -> nn.Module:
    c, h, w = shape
    if h < 4 or w < 4:
        raise ConfigError("model", f"cnn needs images of at least 4x4 (got {h}x{w})")
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), 64), nn.ReLU(), nn.Linear(64, classes),
    )  # fmt: skip


class _Basic(nn.Module):
    """conv-bn-relu-conv-bn plus shortcut, relu."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.short(x))


class ResNet20(nn.Module):
    def __init__(self, cin: int, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, c = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(_Basic(c, cout, stride if i == 0 else 1))
                c = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(torch.relu(self.bn(self.conv(x))))
        return self.fc(out.mean(dim=(2, 3)))


def build_model(name: str, input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> nn.Module:
    """A freshly initialised network; the initialisation is a function of ``seed`` only.

    The modules are built on the meta device (no values, so no draws from torch's global
    generator) and then initialised by :func:`initialise` from an explicit ``torch.Generator``."""
    if name not in MODELS:
        raise ConfigError("model", f"must be one of {', '.join(MODELS)} (got {name!r})")
    with torch.device("meta"):
        if name == "mlp":
            model = _mlp(input_shape, n_classes)
        elif name == "cnn":
            model = _cnn(input_shape, n_classes)
        else:
            model = ResNet20(input_shape[0], n_classes)
    model = model.to_empty(device="cpu")
    initialise(model, torch.Generator().manual_seed(seed))
    return model


def initialise(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of Linear, Conv2d and BatchNorm2d, drawn from ``generator``.

    Linear/Conv: W ~ U(±√(1/fan_in)) (``kaiming_uniform_`` with a = √5) and b ~ U(±1/√fan_in);
    BatchNorm: weight 1, bias 0, running mean 0 and variance 1. Modules are visited in
    ``modules()`` order, so the draws are a function of the generator's seed only."""
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                with torch.no_grad():
                    m.bias.uniform_(-bound, bound, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # deterministic: ones, zeros and reset running statistics
        elif any(True for _ in m.parameters(recurse=False)):
            raise TypeError(f"no initialisation rule for {type(m).__name__}")
