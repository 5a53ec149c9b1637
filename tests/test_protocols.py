"""`gfpose evaluate --protocol`: the paper's measurements (gfpose_cli/protocols.py) on a user's mocap."""
from __future__ import annotations

import json

import numpy as np

from gfpose_cli import io
from gfpose_cli.evaluation import metrics, protocols

from .conftest import FIXTURES, needs_fixtures
from .test_cli import run

pytestmark = needs_fixtures


def test_noise_is_calibrated_to_the_papers_before_values() -> None:
    poses = io.read(FIXTURES / "cmu_131_03_hop.bvh").positions[::8].astype(np.float64)
    poses = poses - poses[:, :1]
    for kind in ("gaussian", "uniform"):
        for before in protocols.DENOISE_BEFORE_MM:
            sigma = protocols.calibrated_sigma(poses, kind, before, 0)
            noisy = protocols._noise(poses, kind, sigma, np.random.default_rng(99))
            assert abs(metrics.mpjpe(noisy, poses, "procrustes") * 1000 - before) < 0.05 * before


def test_protocols_on_a_users_take_are_reproducible(capsys) -> None:
    args = ["evaluate", "--protocol", "lift,complete", "--data", str(FIXTURES / "cmu_12_01_walk.bvh"),
            "--frames", "12", "--hypotheses", "3", "--json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    rows = json.loads(out)
    names = [r["name"] for r in rows]
    assert "lift GT 2D, S=1, P1" in names and "complete 3D, right_arm missing, S=3 min" in names
    assert all(np.isfinite(r["value"]) and r["value"] > 0 for r in rows)
    one = {r["name"]: r for r in rows}
    # the best of three completions is never worse than the first one alone
    assert one["complete 3D, left_leg missing, S=3 min"]["value"] <= one["complete 3D, left_leg missing, S=1"]["value"]
    assert one["lift GT 2D, S=1, P1"]["paper"] == "35.6"
    for r in rows:  # a row meets its target exactly when its value is within the target's number
        assert r["meets"] == (None if r["limit"] is None else r["value"] <= r["limit"]), r["name"]
    assert any(r["limit"] is not None for r in rows)
    code, again, _ = run(args, capsys)
    assert code == 0 and json.loads(again) == rows


def test_unknown_protocol_and_missing_data_are_one_line_errors(capsys) -> None:
    code, _, err = run(["evaluate", "--protocol", "lift,teleport", "--data", str(FIXTURES / "cmu_12_01_walk.bvh")], capsys)
    assert code == 2 and "teleport" in err and "Traceback" not in err
    code, _, err = run(["evaluate", "--protocol", "lift"], capsys)
    assert code == 2 and "--data" in err


def test_a_stopped_run_resumes_from_its_kept_rows(tmp_path) -> None:
    """bench/accuracy.py's long runs keep each (protocol, set) of rows (protocols.RowStore): a second run
    with the same key measures nothing again and gives the same rows; another key reads none of them."""
    from gfpose_cli.tasks import SamplerOptions

    poses = io.read(FIXTURES / "cmu_12_01_walk.bvh").positions[::20].astype(np.float64)
    sets = {"walk": poses[:8], "walk2": poses[8:16]}
    runners = protocols.runners_for(["lift", "lift-missing"], None, SamplerOptions(steps=4, seed=0))
    said: list[str] = []
    first = protocols.measure(["lift", "lift-missing"], sets, runners, 3, 0, progress=said.append,
                              done=protocols.RowStore(tmp_path, "key 1"))
    assert not any("kept" in m for m in said)
    said.clear()
    again = protocols.measure(["lift", "lift-missing"], sets, runners, 3, 0, progress=said.append,
                              done=protocols.RowStore(tmp_path, "key 1"))
    assert len(said) == 4 and all("kept from an earlier run" in m for m in said)
    assert [(r.name, r.value, r.target, r.meets) for r in again] == [(r.name, r.value, r.target, r.meets) for r in first]
    said.clear()
    protocols.measure(["lift"], {"walk": sets["walk"]}, runners, 3, 0, progress=said.append,
                      done=protocols.RowStore(tmp_path, "key 2"))
    assert said == ["lift on walk (8 poses)"]
