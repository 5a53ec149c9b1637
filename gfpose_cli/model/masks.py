"""Hierarchical condition masking M = M_human * M_part * M_joint (the GFPose paper).

A strategy string `HPJ-hpj` gives the drop probabilities in tenths (T = 1.0): HPJ-001 drops each
joint with p=0.1, HPJ-020 each body part with p=0.2, HPJ-T00 always drops the whole condition.
Several strategies joined by '+' are mixed, each sample drawing one of them uniformly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from gfpose_cli.core.skeleton import N_JOINTS, PARTS

_DIGIT = {**{str(d): d / 10 for d in range(10)}, "T": 1.0, "t": 1.0}


@dataclass(frozen=True)
class MaskStrategy:
    p_human: float
    p_part: float
    p_joint: float

    @property
    def name(self) -> str:
        enc = lambda p: "T" if p >= 1.0 else str(round(p * 10))  # noqa: E731
        return f"HPJ-{enc(self.p_human)}{enc(self.p_part)}{enc(self.p_joint)}"


def parse_strategy(spec: str) -> list[MaskStrategy]:
    """Parse 'HPJ-001' or a mix 'HPJ-001+HPJ-020' into strategies."""
    out = []
    for part in spec.split("+"):
        m = re.fullmatch(r"\s*HPJ-([0-9Tt])([0-9Tt])([0-9Tt])\s*", part, flags=re.IGNORECASE)
        if not m:
            raise ValueError(f"bad mask strategy {part.strip()!r}: expected HPJ-xyz with digits 0-9 or T, e.g. HPJ-001")
        out.append(MaskStrategy(*(_DIGIT[c] for c in m.groups())))
    return out


_PART_INDEX = torch.zeros(len(PARTS), N_JOINTS)
for _i, _joints in enumerate(PARTS.values()):
    _PART_INDEX[_i, list(_joints)] = 1.0


def sample_mask(batch: int, strategies: list[MaskStrategy], generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """Draw a (batch, 17) float mask (1 = condition kept) from a mix of strategies."""
    probs = torch.tensor([[s.p_human, s.p_part, s.p_joint] for s in strategies], device=device)
    which = torch.randint(len(strategies), (batch,), generator=generator, device=device)
    p = probs[which]  # (B, 3)
    keep_human = (torch.rand(batch, 1, generator=generator, device=device) >= p[:, :1]).float()
    keep_part = (torch.rand(batch, len(PARTS), generator=generator, device=device) >= p[:, 1:2]).float()
    keep_part_joint = (keep_part @ _PART_INDEX.to(device)).clamp(max=1.0)
    keep_joint = (torch.rand(batch, N_JOINTS, generator=generator, device=device) >= p[:, 2:3]).float()
    return keep_human * keep_part_joint * keep_joint
