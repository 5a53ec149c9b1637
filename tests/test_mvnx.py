"""Xsens MVNX files: MVN's segments read as the 17 joints through the xsens-mvn preset.

The MVNX is written here as MVN Analyze lays it out (namespace, 23 segments with their points,
calibration frames before the take, orientation and position per frame) from a real capture's joints
(the Vicon Plug-in Gait trial of tests/data/vendors): each segment at the joint it starts from, the
Head segment turned so its pTopOfHead point lies on the neck-to-head line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS

from .test_writeback import run

TRIAL = Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d"
J = {n: i for i, n in enumerate(JOINTS)}
SEGMENTS = ["Pelvis", "L5", "L3", "T12", "T8", "Neck", "Head", "RightShoulder", "RightUpperArm", "RightForeArm",
            "RightHand", "LeftShoulder", "LeftUpperArm", "LeftForeArm", "LeftHand", "RightUpperLeg", "RightLowerLeg",
            "RightFoot", "RightToe", "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToe"]


def _quat_z_to(d: np.ndarray) -> np.ndarray:
    """(F, 4) w, x, y, z turning +Z onto the unit directions d (F, 3)."""
    z = np.array([0.0, 0.0, 1.0])
    q = np.concatenate([(1.0 + d @ z)[:, None], np.cross(z, d)], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def write_mvnx(path: Path, take, *, normal: bool = True) -> float:
    """An MVNX of the take's joints; returns the head-top distance used (2 x median neck-to-head)."""
    ok = take.mask.all(1)
    P = {j: take.positions[ok, J[j]].astype(np.float64) for j in JOINTS}
    up = np.array([0.0, 0.0, 1.0])
    seg = {"Pelvis": 0.5 * (P["RHip"] + P["LHip"]), "L5": P["Pelvis"] + 0.05 * up, "L3": P["Spine"] - 0.08 * up,
           "T12": P["Spine"] - 0.03 * up, "T8": P["Spine"] + 0.03 * up, "Neck": P["Thorax"], "Head": P["Neck"]}
    for side, s in (("Right", "R"), ("Left", "L")):
        seg.update({f"{side}Shoulder": P["Thorax"] + 0.3 * (P[f"{s}Shoulder"] - P["Thorax"]),
                    f"{side}UpperArm": P[f"{s}Shoulder"], f"{side}ForeArm": P[f"{s}Elbow"], f"{side}Hand": P[f"{s}Wrist"],
                    f"{side}UpperLeg": P[f"{s}Hip"], f"{side}LowerLeg": P[f"{s}Knee"], f"{side}Foot": P[f"{s}Ankle"],
                    f"{side}Toe": P[f"{s}Ankle"] + np.array([0.15, 0.0, -0.05])})
    d = P["Head"] - P["Neck"]
    top = 2.0 * float(np.median(np.linalg.norm(d, axis=1)))
    q_head = _quat_z_to(d / np.linalg.norm(d, axis=1, keepdims=True))
    F = int(ok.sum())
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<mvnx version="4" xmlns="http://www.xsens.com/mvn/mvnx">',
           '<mvn version="2024.0.0" build="1"/>', "<comment></comment>",
           '<subject label="Suit" torsoColor="#ea6852" frameRate="120" segmentCount="23" recDate="" '
           'originalFilename="take.mvn" configuration="FullBody" userScenario="" processingQuality="HD">',
           "<comment></comment>", "<segments>"]
    for k, name in enumerate(SEGMENTS):
        out.append(f'<segment label="{name}" id="{k + 1}"><points>')
        out.append(f'<point label="p{name}Origin"><pos_b>0 0 0</pos_b></point>')
        if name == "Head":
            out.append(f'<point label="pTopOfHead"><pos_b>0 0 {top:.6f}</pos_b></point>')
        out.append("</points></segment>")
    out += ["</segments>", '<frames segmentCount="23" sensorCount="17" jointCount="22">']
    zeros = " ".join("0" for _ in range(3 * len(SEGMENTS)))
    ident = " ".join("1 0 0 0" for _ in SEGMENTS)
    for kind in ("identity", "tpose", "tpose-isb"):
        out.append(f'<frame time="0" type="{kind}"><orientation>{ident}</orientation><position>{zeros}</position></frame>')
    for f in range(F if normal else 0):
        oris = [q_head[f] if name == "Head" else np.array([1.0, 0, 0, 0]) for name in SEGMENTS]
        out.append(f'<frame time="{f * 8}" index="{f}" tc="00:00:00:{f:02d}" ms="{f * 8}" type="normal">'
                   "<orientation>" + " ".join(f"{v:.9f}" for q in oris for v in q) + "</orientation>"
                   "<position>" + " ".join(f"{v:.6f}" for name in SEGMENTS for v in seg[name][f]) + "</position>"
                   "</frame>")
    out += ["</frames>", "</subject>", "</mvnx>"]
    path.write_text("\n".join(out))
    return top


@pytest.fixture(scope="module")
def trial():
    return io.read(TRIAL)


def test_an_mvnx_reads_as_the_joints_its_segments_start_from(tmp_path, trial):
    f = tmp_path / "take.mvnx"
    write_mvnx(f, trial)
    take = io.read(f)
    assert take.provenance.map == "xsens-mvn" and take.provenance.format == "mvnx"
    assert take.fps == pytest.approx(120.0)
    assert any("3 calibration frames" in n for n in take.provenance.notes)
    ok = trial.mask.all(1)
    assert take.n_frames == ok.sum() and take.mask.all()
    want = trial.positions[ok]
    for joint in JOINTS:
        err = np.linalg.norm(take.positions[:, J[joint]] - want[:, J[joint]], axis=-1)
        # the head's centre halfway to the top of the head: within the spread of the neck-to-head length
        assert err.max() < (0.006 if joint == "Head" else 2e-6), (joint, err.max())
    # an MVNX is read, never written into: a task's output is another format
    out = tmp_path / "out.bvh"
    assert run(["convert", str(f), "-o", str(out)]) == 0 and out.exists()


def test_mvnx_files_gfpose_cannot_read_are_refused(tmp_path, trial):
    f = tmp_path / "calib.mvnx"
    write_mvnx(f, trial, normal=False)
    with pytest.raises(InputError, match="no frames of the take"):
        io.read(f)
    g = tmp_path / "cut.mvnx"
    write_mvnx(g, trial)
    g.write_text(g.read_text()[:5000])
    with pytest.raises(InputError, match="not a readable MVNX file"):
        io.read(g)
    h = tmp_path / "bad.mvnx"
    write_mvnx(h, trial)
    text = h.read_text()
    h.write_text(text.replace("<position>", "<position>x ", 4))
    with pytest.raises(InputError, match="not a number"):
        io.read(h)
    with pytest.raises(InputError, match="holds one performer's segments; drop"):
        io.read(f, subject="Suit")
