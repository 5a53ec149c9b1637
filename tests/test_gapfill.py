"""Gap filling along a take (gapfill.py): the model's answer weighted by the error it makes on this
take, fused with smooth motion. Real CMU walk (held-out subject 12), gaps cut on purpose."""
from __future__ import annotations

import numpy as np
import pytest

from gfpose_cli.signal import gapfill, temporal
from gfpose_cli import io, tasks
from gfpose_cli.core.skeleton import PARTS
from gfpose_cli.core.take import Take

from .conftest import FIXTURES, needs_fixtures, occluded_c3d

pytestmark = needs_fixtures
LEG = list(PARTS["left_leg"])


@pytest.fixture(scope="module")
def walk30() -> tuple[np.ndarray, float]:
    take = io.read(FIXTURES / "cmu_12_01_walk.bvh")
    return take.positions[::4].astype(np.float64), take.fps / 4


def cut(clean: np.ndarray, joints: list[int], start: int, n: int) -> np.ndarray:
    mask = np.ones(clean.shape[:2], bool)
    mask[start : start + n, joints] = False
    return mask


def filled_error_mm(out: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm(out - clean, axis=-1)[~mask].mean() * 1000)


def model_from(truth: np.ndarray, offset_m: float, spread_m: float, seed: int = 0) -> gapfill.SampleFn:
    """A stand-in completion model: the truth (every joint) moved by a fixed offset plus noise."""
    rng = np.random.default_rng(seed)

    def sample(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
        base = truth[frames][:, None] + np.array([offset_m, 0.0, 0.0])
        return base + rng.normal(0, spread_m, (len(frames), gapfill.HYPOTHESES, *truth.shape[1:]))
    return sample


def test_a_biased_model_is_corrected_by_what_it_gets_wrong_next_to_the_gap(walk30) -> None:
    clean, fps = walk30
    mask = cut(clean, LEG, 40, 60)  # 2 s without the left leg
    usable = tasks.completable_frames(mask)
    out, filled = gapfill.fill(clean, mask, usable, fps, model_from(clean, 0.05, 0.01), hold_bones=False)
    assert filled.all()
    err = filled_error_mm(out, clean, mask)
    spline = filled_error_mm(temporal.spline_fill(np.where(mask[..., None], clean, 0), mask), clean, mask)
    assert err < 15.0, err  # the model alone is 50 mm off; its bias was measured at the gap's ends
    assert err < spline / 3


def test_a_useless_model_gets_little_weight(walk30) -> None:
    clean, fps = walk30
    mask = cut(clean, [13], 50, 15)  # half a second without the left wrist
    usable = tasks.completable_frames(mask)
    far = model_from(clean, 0.0, 0.4)  # hypotheses scattered 40 cm around the truth
    out, _ = gapfill.fill(clean, mask, usable, fps, far, hold_bones=False)
    good, _ = gapfill.fill(clean, mask, usable, fps, model_from(clean, 0.0, 0.002), hold_bones=False)
    assert filled_error_mm(good, clean, mask) < 5.0
    assert filled_error_mm(out, clean, mask) < 60.0  # a smooth bridge, not the 400 mm scatter


def test_observed_samples_are_kept_and_unplaceable_frames_left_missing(walk30) -> None:
    clean, fps = walk30
    mask = cut(clean, [13, 16], 30, 20)
    mask[35:38, :] = False  # three frames with nothing seen: no pelvis, cannot be placed
    usable = tasks.completable_frames(mask)
    out, filled = gapfill.fill(clean, mask, usable, fps, model_from(clean, 0.0, 0.01))
    assert np.array_equal(out[mask], clean[mask])
    assert not filled[35:38].any() and np.isnan(out[35:38]).all()
    assert filled[30:35].all() and filled[38:50].all()
    assert np.isfinite(out[filled]).all()


def test_the_real_model_beats_the_spline_and_the_per_frame_fill_on_a_one_second_leg_gap(walk30) -> None:
    clean, fps = walk30
    runner = tasks.Runner.for_task("complete3d", None, tasks.SamplerOptions(seed=0))
    errs: dict[str, list[float]] = {"ours": [], "spline": [], "per frame": []}
    for start in (35, 60, 85):  # the take is 131 frames at 30 Hz
        window = clean[: start + 45]
        mask = cut(window, LEG, start, 30)
        take = Take(positions=np.where(mask[..., None], window, np.nan).astype(np.float32), mask=mask, fps=fps)
        out = tasks.complete(runner, take, hypotheses=1)
        assert out.report.temporal and out.mask.all()
        assert np.allclose(out.positions[mask], window[mask], atol=1e-6)
        errs["ours"].append(filled_error_mm(out.positions, window, mask))
        errs["spline"].append(filled_error_mm(temporal.spline_fill(np.where(mask[..., None], window, 0), mask), window, mask))
        errs["per frame"].append(filled_error_mm(tasks.complete(runner, take, hypotheses=1, temporal=False).positions, window, mask))
    mean = {k: float(np.mean(v)) for k, v in errs.items()}
    assert mean["ours"] < mean["spline"] and mean["ours"] < mean["per frame"], mean


def test_a_gap_follows_the_nearest_seen_ancestor(walk30) -> None:
    clean, fps = walk30
    rigid = clean.copy()
    rigid[:, 13] = rigid[:, 12] + np.array([0.0, 0.05, -0.24])  # a wrist held still relative to its elbow
    mask = cut(rigid, [13], 40, 30)  # one second without it
    usable = tasks.completable_frames(mask)
    assert gapfill.reference_joint(mask[38:72], 13) == 12
    # a model that knows nothing (hypotheses scattered 2 m): the smooth path alone decides
    out, _ = gapfill.fill(rigid, mask, usable, fps, model_from(rigid, 0.0, 2.0), hold_bones=False)
    spline = temporal.spline_fill(np.where(mask[..., None], rigid, 0), mask)
    assert filled_error_mm(out, rigid, mask) < 5.0  # the elbow's path carries the wrist through the gap
    assert filled_error_mm(spline, rigid, mask) > 20.0  # in room coordinates the same gap is a curve


PELVIS = [0, 1, 4]  # Pelvis, RHip, LHip: the frame cannot be placed without one of pelvis or both hips


def test_a_pelvis_unseen_for_a_while_is_carried_by_the_trunk(walk30) -> None:
    """Pelvis and hips hidden for 0.5-1.5 s of the real walk: such frames were left as they were (the model
    cannot place them); carried by the spine, thorax and shoulders and fused with smooth motion they come
    closer than a cubic spline, and frames whose spine is hidden too are still left, and counted."""
    clean, fps = walk30
    runner = tasks.Runner.for_task("complete3d", None, tasks.SamplerOptions(seed=0))
    ours, spline = [], []
    for start, n in ((30, 15), (50, 30), (70, 45)):
        mask = cut(clean, PELVIS, start, n)
        take = Take(positions=np.where(mask[..., None], clean, np.nan).astype(np.float32), mask=mask, fps=fps)
        out = tasks.complete(runner, take, hypotheses=1)
        assert out.mask.all() and out.report.pelvis_carried == n and out.report.frames_left == 0
        assert np.array_equal(out.positions[mask], clean[mask].astype(np.float32))
        ours.append(filled_error_mm(out.positions, clean, mask))
        spline.append(filled_error_mm(temporal.spline_fill(np.where(mask[..., None], clean, 0), mask), clean, mask))
    assert np.mean(ours) < 0.8 * np.mean(spline) and max(ours) < 60, (ours, spline)
    mask = cut(clean, PELVIS + [7], 50, 30)  # the spine hidden with them: nothing carries the pelvis
    take = Take(positions=np.where(mask[..., None], clean, np.nan).astype(np.float32), mask=mask, fps=fps)
    out = tasks.complete(runner, take, hypotheses=1)
    assert out.report.pelvis_carried == 0 and out.report.frames_left == 30 and not out.mask[50:80, PELVIS].any()


def test_complete_fills_a_c3d_whose_pelvis_markers_drop_out(tmp_path, capsys) -> None:
    """The real CMU C3D with its four waist markers occluded for half a second (a performer bending over):
    `gfpose complete` fills them, closer than a cubic spline through each marker, and says how."""
    import ezc3d

    from gfpose_cli.cli import main

    waist, truth = occluded_c3d(FIXTURES / "cmu_85_02.c3d", tmp_path / "gappy.c3d", ("LFWT", "RFWT", "LBWT", "RBWT"),
                                slice(400, 460))
    try:
        main(["complete", str(tmp_path / "gappy.c3d"), "-o", str(tmp_path / "filled.c3d")])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    assert "the unseen pelvis of 60 frames carried by the trunk" in capsys.readouterr().err
    filled = np.array(ezc3d.c3d(str(tmp_path / "filled.c3d"))["data"]["points"][:3])
    ours = np.linalg.norm(filled[:, waist, 400:460] - truth[:, waist, 400:460], axis=0)
    seen = np.ones(truth.shape[2], bool)
    seen[400:460] = False
    frames = np.arange(truth.shape[2])
    from scipy.interpolate import CubicSpline

    spline = [np.linalg.norm(CubicSpline(frames[seen], truth[:, i, seen].T)(frames[~seen]) - truth[:, i, ~seen].T, axis=1)
              for i in waist]
    assert np.isfinite(ours).all() and ours.mean() < 0.85 * np.mean(spline), (ours.mean(), np.mean(spline))
