"""Image backbones for ``cellwak train cnn``: ResNet-18 and EfficientNet-B0 laid out as
torchvision's (the same module tree, so the same ``state_dict`` keys and shapes: a torchvision
weights file loads with ``--weights``), DINO's small ConvNet, which trains in minutes on a CPU,
and an MLP for feature tables.

Why not import torchvision: the torchvision wheels on PyPI are built against CUDA torch and fail
to import beside the CPU torch cellwak pins (``operator torchvision::nms does not exist``), and
the two networks are a few dozen lines each. ``tests/test_cnn.py`` checks every key and shape
against a dump made from torchvision 0.28.0 (``tests/data/torchvision_state_shapes.json``).

Every backbone has ``embed(x)`` (the penultimate layer, written to ``obsm['X_cnn']``), ``dim``
(its width), ``head()`` (the last linear layer) and ``forward(x) = head()(embed(x))``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._dino_nets import SmallCNN

# ---- ResNet-18 -------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + skip)


class ResNet18(nn.Module):
    dim = 512

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin = (64, 128, 256, 512), 64
        for i, w in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def embed(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.embed(x))

    def head(self) -> nn.Linear:
        return self.fc


# ---- EfficientNet-B0 -------------------------------------------------------------------------

def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.SiLU(inplace=True)) if act else nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.activation, self.scale = nn.SiLU(inplace=True), nn.Sigmoid()

    def forward(self, x):
        return x * self.scale(self.fc2(self.activation(self.fc1(self.avgpool(x)))))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion (unless the ratio is 1), depthwise k x k, squeeze and
    excitation, 1x1 projection; the skip (with stochastic depth) where shapes allow."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int, drop: float):
        super().__init__()
        mid = cin * expand
        layers = [conv_bn(cin, mid, 1)] if expand != 1 else []
        layers += [conv_bn(mid, mid, kernel, stride, groups=mid), SqueezeExcitation(mid, max(1, cin // 4)),
                   conv_bn(mid, cout, 1, act=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        self.drop = drop

    def forward(self, x):
        y = self.block(x)
        if not self.residual:
            return y
        if self.training and self.drop > 0:  # stochastic depth, per sample
            keep = torch.empty((len(y), 1, 1, 1), dtype=y.dtype, device=y.device).bernoulli_(1 - self.drop)
            y = y * keep / (1 - self.drop)
        return x + y


# (expansion, kernel, stride, in, out, blocks) of EfficientNet-B0 (Tan & Le 2019, table 1)
B0 = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
      (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


class EfficientNetB0(nn.Module):
    dim = 1280

    def __init__(self, channels: int, classes: int, dropout: float = 0.2, stochastic_depth: float = 0.2):
        super().__init__()
        total, done = sum(s[-1] for s in B0), 0
        stages = [conv_bn(channels, 32, 3, 2)]
        for expand, kernel, stride, cin, cout, blocks in B0:
            stage = []
            for b in range(blocks):
                stage.append(MBConv(cin if b == 0 else cout, cout, expand, kernel, stride if b == 0 else 1,
                                    stochastic_depth * done / total))
                done += 1
            stages.append(nn.Sequential(*stage))
        stages.append(conv_bn(320, 1280, 1))
        self.features = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True), nn.Linear(1280, classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def embed(self, x):
        return torch.flatten(self.avgpool(self.features(x)), 1)

    def forward(self, x):
        return self.classifier(self.embed(x))

    def head(self) -> nn.Linear:
        return self.classifier[1]


# ---- small ConvNet ---------------------------------------------------------------------------

class TrunkAndHead(nn.Module):
    """A feature trunk (``self.trunk``, ``self.dim`` wide) and a linear head ``self.fc``."""

    def embed(self, x):
        return self.trunk(x)

    def forward(self, x):
        return self.fc(self.embed(x))

    def head(self) -> nn.Linear:
        return self.fc


class Small(TrunkAndHead):
    """DINO's small ConvNet (:class:`cellwak.models._dino_nets.SmallCNN`: four conv-BN-ReLU
    blocks, widths w-2w-4w-4w, stride 2 in the first three, global average pooling; 4w features)
    with a linear head. Sized for 28-64 px crops on a CPU."""

    def __init__(self, channels: int, classes: int, width: int = 32):
        super().__init__()
        self.trunk = SmallCNN(channels, width)
        self.dim = self.trunk.out_dim
        self.fc = nn.Linear(self.dim, classes)


class MLP(TrunkAndHead):
    """For tables (cells x features): two [linear, batch norm, ReLU, dropout 0.2] layers of
    ``8 * width`` units (256 at the default width); their output is the feature."""

    def __init__(self, features: int, classes: int, width: int = 32):
        super().__init__()
        hidden = 8 * width
        self.trunk = nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                   nn.Dropout(0.2), nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden),
                                   nn.ReLU(inplace=True), nn.Dropout(0.2))
        self.dim = hidden
        self.fc = nn.Linear(hidden, classes)


def build(arch: str, channels: int, classes: int, width: int = 32) -> nn.Module:
    """``channels``: of the crops, or the number of features for ``mlp``."""
    if arch == "mlp":
        return MLP(channels, classes, width)
    if arch == "resnet18":
        return ResNet18(channels, classes)
    if arch == "efficientnet_b0":
        return EfficientNetB0(channels, classes)
    if arch == "small":
        return Small(channels, classes, width)
    raise ValueError(f"unknown architecture {arch!r}")
