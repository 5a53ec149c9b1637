"""The shipped checkpoints: what they record, and that they still score what bench/results says.

Guards against silently shipping worse weights: the quick accuracy rows are recomputed on the
same held-out frames, cameras and seeds as bench/accuracy.py --quick and compared with the
committed table (read from the file, not copied here).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import __version__
from gfpose_cli.evaluation import metrics
from gfpose_cli.model.checkpoint import load_model
from gfpose_cli.core.skeleton import PARTS
from gfpose_cli.core.take import Take
from gfpose_cli.tasks import Runner, SamplerOptions, complete, lift, shipped_weights

from .conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "accuracy-quick.md"
#: a recomputed row may differ from the committed one by float order on another CPU: a little slack,
#: far less than any real regression
MARGIN = 1.03


def committed_rows() -> dict[str, float]:
    rows = {}
    for line in RESULTS.read_text().splitlines():
        m = re.match(r"\| (.+?) \| (mm|%|m) \| ([0-9.]+) \|$", line)
        if m:
            rows[m.group(1)] = float(m.group(3))
    return rows


@pytest.mark.parametrize("name,task", [("prior", "prior"), ("lift", "lift"), ("complete3d", "complete3d"),
                                       ("prior-bones", "prior"), ("lift-bones", "lift")])
def test_checkpoint_records_what_made_it(name: str, task: str) -> None:
    path = shipped_weights(name)
    model = load_model(path, task)
    meta = model.meta
    assert model.task == task and meta["step"] > 0 and meta["code_version"].startswith(f"{__version__}+")
    summary = meta["data_summary"]
    assert summary["holdout"] and summary["train_poses"] > 50_000
    held = " ".join(map(str, summary["held_out_subjects"]))
    assert "mm" in held and all(s in held for s in ("02", "09", "12"))  # data.HELD_OUT never trained on
    assert meta["train_config"]["task"] == task and meta["history"][-1]["step"] == meta["step"]
    assert sum(p.stat().st_size for p in path.parent.glob("*.pt")) < 60e6  # every shipped file together


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="../shared/data is not present")
def test_quick_accuracy_rows_hold() -> None:
    from gfpose_cli.evaluation.protocols import camera_views
    from gfpose_cli.training import data

    rows = committed_rows()
    opts = SamplerOptions(batch_size=8192, seed=0)
    lifter = Runner.for_task("lift", None, opts)
    filler = Runner.for_task("complete3d", None, opts)
    archives = data.PoseSet.concat([data.load_archive(SHARED / "data" / name) for name in ("cmu-bvh.tar.xz", "hdm05-amc.tar.xz")])
    for fam, poses in data.held_out_sample(archives, 200, 0, ("cmu", "hdm05")).items():
        cam3d, kp = camera_views(poses, 0)
        joints = list(PARTS["left_leg"])
        mask = np.ones(poses.shape[:2], bool)
        mask[:, joints] = False
        partial = Take(positions=np.where(mask[..., None], poses, np.nan), mask=mask)
        # a draw (the paper's S=1) and the point estimate one hypothesis is by default, each against its row
        for draw, kind in ((True, ""), (False, " point estimate (default)")):
            one = lift(lifter, Take(positions=kp), hypotheses=1, draw=draw).positions[:, 0]
            p1 = metrics.mpjpe(one, cam3d) * 1000
            assert p1 <= rows[f"lift GT 2D, S=1{kind}, P1 ({fam})"] * MARGIN, (fam, kind, p1)
            filled = complete(filler, partial, hypotheses=1, temporal=False, draw=draw).positions
            err = float(metrics.per_joint_error(filled, poses, "none")[:, joints].mean() * 1000)
            label = f"complete 3D, left_leg missing, S=1{kind} ({fam})"
            assert err <= rows[label] * MARGIN, (fam, kind, err)
