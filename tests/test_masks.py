"""Hierarchical masks: strategy parsing and the drop rates they produce."""
from __future__ import annotations

import pytest
import torch

from gfpose_cli.model.masks import MaskStrategy, parse_strategy, sample_mask
from gfpose_cli.core.skeleton import PARTS


def test_parse_digits_and_T() -> None:
    assert parse_strategy("HPJ-001") == [MaskStrategy(0.0, 0.0, 0.1)]
    assert parse_strategy("HPJ-T00") == [MaskStrategy(1.0, 0.0, 0.0)]
    mix = parse_strategy("HPJ-001+HPJ-020")
    assert [s.name for s in mix] == ["HPJ-001", "HPJ-020"]


@pytest.mark.parametrize("bad", ["HPJ-01", "HPX-001", "HPJ-00A", ""])
def test_parse_rejects_bad_strings(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_strategy(bad)


def test_rates_match_probabilities() -> None:
    g = torch.Generator().manual_seed(0)
    n = 40000
    joint = sample_mask(n, parse_strategy("HPJ-003"), g)
    assert abs(float(1 - joint.mean()) - 0.3) < 0.01
    part = sample_mask(n, parse_strategy("HPJ-020"), g)
    arm = list(PARTS["left_arm"])
    dropped = part[:, arm].sum(1) == 0
    assert abs(float(dropped.float().mean()) - 0.2) < 0.01
    assert bool(((part[:, arm].sum(1) == 0) | (part[:, arm].sum(1) == 3)).all()), "parts drop as a whole"
    human = sample_mask(n, parse_strategy("HPJ-500"), g)
    none_seen = human.sum(1) == 0
    assert abs(float(none_seen.float().mean()) - 0.5) < 0.01
    assert bool(((human.sum(1) == 0) | (human.sum(1) == 17)).all())
    assert float(sample_mask(100, parse_strategy("HPJ-T00"), g).sum()) == 0.0


def test_mixture_uses_each_strategy() -> None:
    g = torch.Generator().manual_seed(1)
    m = sample_mask(40000, parse_strategy("HPJ-T00+HPJ-000"), g)
    assert abs(float((m.sum(1) == 0).float().mean()) - 0.5) < 0.01
