"""The 3D U-Net of a JSON spec (src/learn/unet-spec.ts is the TypeScript side of the same format).

Funke et al.'s U-Net as ASEM uses it: per level a stack of valid convolutions + ReLU on the way down,
max-pooling by the level's factor, the same at the bottom, then per level upsampling (nearest or a
transposed convolution with kernel = stride = factor, keeping the channel count), a centre crop of the skip
connection to the upsampled size (offset floor((skip - up) / 2)), concatenation [skip, upsampled] and the
level's convolutions again; a final convolution maps level 0's feature maps to the output channels.
With `norm: "batch"` every convolution is followed by batch normalisation before its ReLU (and has no bias,
which the normalisation's shift replaces); in eval mode it uses the running statistics, so a block's
prediction does not depend on the tile it was cut from. The network returns logits; `activate` applies the head."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

import torch
from torch import nn

HEADS = ("sigmoid", "softmax2", "tanh-distance")
UPSAMPLINGS = ("nearest", "transposed")
NORMS = ("none", "batch")


class SpecError(ValueError):
    """An invalid model spec or input: the caller's mistake, reported as InvalidArgument."""


def _triple(v: Any, what: str, odd: bool = False) -> List[int]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v, v, v]
    if not isinstance(v, (list, tuple)) or len(v) != 3 or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise SpecError(f"model spec: {what} must be a whole number or [z, y, x], got {v!r}")
    if any(x < 1 for x in v) or (odd and any(x % 2 == 0 for x in v)):
        kind = "odd whole numbers >= 1" if odd else "whole numbers >= 1"
        raise SpecError(f"model spec: {what} {list(v)}: sizes must be {kind}")
    return [int(x) for x in v]


def validate_spec(spec: Any) -> Dict[str, Any]:
    """The spec with defaults filled in, or SpecError naming the field."""
    if not isinstance(spec, dict):
        raise SpecError("model spec: expected a JSON object")
    known = {
        "version", "inChannels", "fmaps", "fmapIncrease", "downsample", "kernels", "headKernel",
        "upsampling", "head", "outChannels", "padding", "norm",
    }
    unknown = sorted(set(spec) - known)
    if unknown:
        raise SpecError(f"model spec: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if spec.get("version", 1) != 1:
        raise SpecError(f"model spec: version {spec.get('version')!r} is not supported (this engine knows 1)")
    if spec.get("padding", "valid") != "valid":
        raise SpecError(f"model spec: padding {spec.get('padding')!r}: only 'valid' is supported")

    def pos_int(name: str, default: Any = None) -> int:
        v = spec.get(name, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SpecError(f"model spec: {name} must be a whole number >= 1, got {v!r}")
        return v

    head = spec.get("head", "softmax2")
    if head not in HEADS:
        raise SpecError(f"model spec: head {head!r}: choose from {', '.join(HEADS)}")
    upsampling = spec.get("upsampling", "nearest")
    if upsampling not in UPSAMPLINGS:
        raise SpecError(f"model spec: upsampling {upsampling!r}: choose from {', '.join(UPSAMPLINGS)}")
    norm = spec.get("norm", "none")
    if norm not in NORMS:
        raise SpecError(f"model spec: norm {norm!r}: choose from {', '.join(NORMS)}")
    out_channels = pos_int("outChannels", 1 if head == "sigmoid" else 2)
    if head == "sigmoid" and out_channels != 1:
        raise SpecError("model spec: head 'sigmoid' needs outChannels 1")
    if head == "softmax2" and out_channels != 2:
        raise SpecError("model spec: head 'softmax2' needs outChannels 2")
    inc = spec.get("fmapIncrease", 2)
    if not isinstance(inc, (int, float)) or isinstance(inc, bool) or not inc >= 1:
        raise SpecError(f"model spec: fmapIncrease must be a number >= 1, got {inc!r}")
    downsample = spec.get("downsample")
    if not isinstance(downsample, list):
        raise SpecError("model spec: downsample must be a list of factors, one per downsampling step")
    downsample = [_triple(f, f"downsample[{i}]") for i, f in enumerate(downsample)]
    kernels = spec.get("kernels")
    if kernels is None:
        kernels = [[[3, 3, 3], [3, 3, 3]] for _ in range(len(downsample) + 1)]
    if not isinstance(kernels, list) or len(kernels) != len(downsample) + 1:
        raise SpecError(
            f"model spec: kernels must list the convolutions of each of the {len(downsample) + 1} levels "
            "(one more than the downsampling steps)"
        )
    checked = []
    for i, level in enumerate(kernels):
        if not isinstance(level, list) or not level:
            raise SpecError(f"model spec: kernels[{i}] must be a non-empty list of kernels")
        checked.append([_triple(k, f"kernels[{i}][{j}]", odd=True) for j, k in enumerate(level)])
    return {
        "version": 1,
        "inChannels": pos_int("inChannels", 1),
        "fmaps": pos_int("fmaps"),
        "fmapIncrease": inc,
        "downsample": downsample,
        "kernels": checked,
        "headKernel": _triple(spec.get("headKernel", [1, 1, 1]), "headKernel", odd=True),
        "upsampling": upsampling,
        "head": head,
        "outChannels": out_channels,
        "padding": "valid",
        "norm": norm,
    }


def level_fmaps(spec: Dict[str, Any], level: int) -> int:
    # Math.round on the TypeScript side rounds halves up; Python's round() would not.
    return int(math.floor(spec["fmaps"] * spec["fmapIncrease"] ** level + 0.5))


def _conv_stack(cin: int, cout: int, kernels: Sequence[Sequence[int]], norm: str) -> nn.Sequential:
    layers: List[nn.Module] = []
    for k in kernels:
        if norm == "batch":
            layers += [nn.Conv3d(cin, cout, tuple(k), bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]
        else:
            layers += [nn.Conv3d(cin, cout, tuple(k)), nn.ReLU(inplace=True)]
        cin = cout
    return nn.Sequential(*layers)


def _centre_crop(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    z, y, w = x.shape[-3:]
    oz, oy, ox = (z - size[0]) // 2, (y - size[1]) // 2, (w - size[2]) // 2
    return x[..., oz : oz + size[0], oy : oy + size[1], ox : ox + size[2]]


class UNet(nn.Module):
    def __init__(self, spec: Dict[str, Any]):
        super().__init__()
        self.spec = validate_spec(spec)
        s = self.spec
        levels = len(s["downsample"])
        f = [level_fmaps(s, i) for i in range(levels + 1)]
        self.factors = [tuple(d) for d in s["downsample"]]
        self.down = nn.ModuleList()
        cin = s["inChannels"]
        for i in range(levels + 1):
            self.down.append(_conv_stack(cin, f[i], s["kernels"][i], s["norm"]))
            cin = f[i]
        self.pool = nn.ModuleList([nn.MaxPool3d(d, stride=d) for d in self.factors])
        if s["upsampling"] == "nearest":
            self.upsample = nn.ModuleList(
                [nn.Upsample(scale_factor=tuple(float(x) for x in d), mode="nearest") for d in self.factors]
            )
        else:
            self.upsample = nn.ModuleList(
                [nn.ConvTranspose3d(f[i + 1], f[i + 1], d, stride=d) for i, d in enumerate(self.factors)]
            )
        self.up = nn.ModuleList(
            [_conv_stack(f[i] + f[i + 1], f[i], s["kernels"][i], s["norm"]) for i in range(levels)]
        )
        self.final = nn.Conv3d(f[0], s["outChannels"], tuple(s["headKernel"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, factor in enumerate(self.factors):
            x = self.down[i](x)
            if not torch.jit.is_tracing():
                shape = list(x.shape[-3:])
                if any(n % d for n, d in zip(shape, factor)):
                    raise SpecError(
                        f"input shape is not valid for this network: level {i} has {shape} voxels, "
                        f"not divisible by its downsampling factor {list(factor)}"
                    )
            skips.append(x)
            x = self.pool[i](x)
        x = self.down[len(self.factors)](x)
        for i in reversed(range(len(self.factors))):
            x = self.upsample[i](x)
            skip = skips[i]
            size = list(x.shape[-3:])
            if any(s < u for s, u in zip(skip.shape[-3:], size)):
                raise SpecError(
                    f"input shape is not valid for this network: at level {i} the skip connection "
                    f"{list(skip.shape[-3:])} is smaller than the upsampled path {size}"
                )
            x = self.up[i](torch.cat([_centre_crop(skip, size), x], dim=1))
        return self.final(x)


def activate(head: str, logits: torch.Tensor) -> torch.Tensor:
    """Probabilities (sigmoid, softmax2) or signed distances in [-1, 1] (tanh-distance)."""
    if head == "sigmoid":
        return torch.sigmoid(logits)
    if head == "softmax2":
        return torch.softmax(logits, dim=1)
    return torch.tanh(logits)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
