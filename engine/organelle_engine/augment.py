"""Geometric and intensity augmentation on the device, from parameters the TypeScript side drew.

A transform maps every output voxel p (index coordinates z,y,x of the output block) to a source position
q in the input block:

    q = A (p + d(p)) + t

A (3x3, row-major `matrix`) composes mirror, transpose and rotation; t (`translation`) places the output
in the input (for a centred crop: t = c_in - A c_out with c = (shape - 1) / 2); d is an elastic
displacement in output voxels, given as control points `displacement` [3, gz, gy, gx] spanning the output
block corner to corner and upsampled trilinearly (align_corners) to every voxel. Arrays are sampled
trilinearly ("linear") or by nearest neighbour ("nearest"), positions outside the input take `fill`.

Sampling works in index space: at integer positions a linear sample is exactly the voxel's value, so
identity, mirror and transpose are exact. Without displacement, a signed permutation matrix with an
integer translation that stays inside the input is done by slicing/flipping/permuting (no sampling)."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch.nn import functional as F


class AugmentError(ValueError):
    pass


def _signed_permutation(matrix: Sequence[Sequence[float]]) -> Optional[List[Tuple[int, int]]]:
    """For each source axis k: (output axis j, sign), if A is a signed permutation."""
    out = []
    used = set()
    for k in range(3):
        nz = [(j, v) for j, v in enumerate(matrix[k]) if v != 0]
        if len(nz) != 1 or nz[0][1] not in (1, -1) or nz[0][0] in used:
            return None
        used.add(nz[0][0])
        out.append((nz[0][0], int(nz[0][1])))
    return out


def _exact_permutation(
    x: torch.Tensor, perm: List[Tuple[int, int]], translation: Sequence[float], out_shape: Sequence[int]
) -> Optional[torch.Tensor]:
    """Slice/flip/permute when every source position is an integer inside x; None otherwise."""
    if any(float(t) != int(t) for t in translation):
        return None
    lead = x.dim() - 3
    src = x
    for k, (j, sign) in enumerate(perm):
        first = int(translation[k])
        last = first + sign * (out_shape[j] - 1)
        lo, hi = min(first, last), max(first, last)
        if lo < 0 or hi >= x.shape[lead + k]:
            return None
        src = src.narrow(lead + k, lo, hi - lo + 1)
        if sign < 0:
            src = src.flip(lead + k)
    # output axis j comes from the source axis k with perm[k][0] == j
    order = [next(k for k in range(3) if perm[k][0] == j) for j in range(3)]
    return src.permute(*range(lead), *(lead + k for k in order)).contiguous()


def source_positions(
    out_shape: Sequence[int],
    matrix: Sequence[Sequence[float]],
    translation: Sequence[float],
    displacement: Optional[torch.Tensor],
    device: torch.device,
) -> torch.Tensor:
    """q for every output voxel: [3, Z, Y, X] float32 in input index coordinates."""
    axes = [torch.arange(n, dtype=torch.float32, device=device) for n in out_shape]
    p = list(torch.meshgrid(*axes, indexing="ij"))
    if displacement is not None:
        d = displacement.to(device=device, dtype=torch.float32)
        if tuple(d.shape[1:]) != tuple(out_shape):
            d = F.interpolate(d[None], size=tuple(out_shape), mode="trilinear", align_corners=True)[0]
        p = [p[i] + d[i] for i in range(3)]
    q = torch.empty((3, *out_shape), dtype=torch.float32, device=device)
    for k in range(3):
        acc = torch.full(tuple(out_shape), float(translation[k]), dtype=torch.float32, device=device)
        for j in range(3):
            a = float(matrix[k][j])
            if a != 0.0:
                acc.add_(p[j], alpha=a)
        q[k] = acc
    return q


def _flat_index(iz, iy, ix, shape):
    return (iz * shape[1] + iy) * shape[2] + ix


def _inside(iz, iy, ix, shape):
    return (iz >= 0) & (iz < shape[0]) & (iy >= 0) & (iy < shape[1]) & (ix >= 0) & (ix < shape[2])


def sample(x: torch.Tensor, q: torch.Tensor, mode: str, fill: float) -> torch.Tensor:
    """x [..., Zi, Yi, Xi] sampled at q [3, Zo, Yo, Xo] -> [..., Zo, Yo, Xo]."""
    lead = x.shape[:-3]
    shape = x.shape[-3:]
    out_shape = q.shape[1:]
    flat = x.reshape(-1, shape[0] * shape[1] * shape[2])
    if mode == "nearest":
        i = torch.floor(q + 0.5).to(torch.int64)
        iz, iy, ix = i[0].reshape(-1), i[1].reshape(-1), i[2].reshape(-1)
        ok = _inside(iz, iy, ix, shape)
        idx = _flat_index(iz.clamp(0, shape[0] - 1), iy.clamp(0, shape[1] - 1), ix.clamp(0, shape[2] - 1), shape)
        v = flat[:, idx]
        v = torch.where(ok, v, torch.tensor(fill, dtype=x.dtype, device=x.device))
        return v.reshape(*lead, *out_shape)
    if not x.is_floating_point():
        raise AugmentError(f"linear sampling needs a floating-point array, got {x.dtype}")
    q0 = torch.floor(q)
    frac = (q - q0).reshape(3, -1)
    i0 = q0.to(torch.int64).reshape(3, -1)
    out = torch.zeros(flat.shape[0], frac.shape[1], dtype=torch.float32, device=x.device)
    src = flat.to(torch.float32)
    for dz in (0, 1):
        wz = frac[0] if dz else 1 - frac[0]
        iz = i0[0] + dz
        for dy in (0, 1):
            wzy = wz * (frac[1] if dy else 1 - frac[1])
            iy = i0[1] + dy
            for dx in (0, 1):
                w = wzy * (frac[2] if dx else 1 - frac[2])
                ix = i0[2] + dx
                ok = _inside(iz, iy, ix, shape)
                idx = _flat_index(iz.clamp(0, shape[0] - 1), iy.clamp(0, shape[1] - 1), ix.clamp(0, shape[2] - 1), shape)
                v = torch.where(ok, src[:, idx], torch.tensor(float(fill), device=x.device))
                out.addcmul_(v, w.expand_as(v))
    return out.to(x.dtype).reshape(*lead, *out_shape)


def warp(
    arrays: Dict[str, torch.Tensor],
    modes: Dict[str, Tuple[str, float]],
    out_shape: Sequence[int],
    matrix: Sequence[Sequence[float]],
    translation: Sequence[float],
    displacement: Optional[torch.Tensor],
) -> Dict[str, torch.Tensor]:
    perm = _signed_permutation(matrix) if displacement is None else None
    q = None
    out = {}
    for name, x in arrays.items():
        y = _exact_permutation(x, perm, translation, out_shape) if perm is not None else None
        if y is None:
            if q is None:
                q = source_positions(out_shape, matrix, translation, displacement, x.device)
            mode, fill = modes[name]
            y = sample(x, q, mode, fill)
        out[name] = y
    return out
