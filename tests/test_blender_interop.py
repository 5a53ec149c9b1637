"""BVH files read by Blender's own importer: same joints, same frame count, same world positions.

Blender is an independent implementation of BVH forward kinematics (rotation orders, channel
composition, offsets); agreement within 1 mm checks our reader and both of our BVH writers.
Skips when Blender is not installed (CI installs the Debian package when it can).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.io import bvh as bvh_io
from gfpose_cli.kinematics.rotations import kabsch

from .conftest import FIXTURES, needs_fixtures

BLENDER = shutil.which("blender")
SCRIPT = Path(__file__).parent / "blender" / "bvh_positions.py"
pytestmark = [needs_fixtures, pytest.mark.skipif(BLENDER is None, reason="Blender is not installed")]


def blender_positions(path: Path, frames: list[int], tmp_path: Path) -> dict:
    out = tmp_path / "blender.json"
    cmd = [BLENDER, "-b", "--factory-startup", "--python", str(SCRIPT), "--", str(path), str(out), *map(str, frames)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(out.read_text())


def assert_same_as_blender(path: Path, tmp_path: Path) -> float:
    """Our FK vs Blender's at three frames, up to Blender's fixed axis convention; returns max mm."""
    skel = bvh_io.read_skeleton(path)
    F = skel.motion.shape[0]
    frames = [0, F // 2, F - 1]
    got = blender_positions(path, frames, tmp_path)
    joints = [n for n, c in zip(skel.names, skel.channels) if c]
    assert got["frame_count"] == F
    assert set(got["joints"]) == set(joints)
    ours = bvh_io.forward_kinematics(skel)[frames][:, [skel.names.index(n) for n in joints]]
    theirs = np.array([got["joints"][n] for n in joints]).transpose(1, 0, 2)  # (frames, joints, 3)
    # the importer turns the file's axes into Blender's; find that one fixed rotation
    R = kabsch(ours.reshape(1, -1, 3), theirs.reshape(1, -1, 3))[0]
    assert np.allclose(np.abs(R), np.round(np.abs(R)), atol=1e-6)  # an axis swap, nothing else
    scale = io.read(path).provenance.units_to_m
    error_mm = float(np.abs(ours @ R.T - theirs).max()) * scale * 1000
    assert error_mm < 1.0
    return error_mm


@pytest.mark.parametrize("name", ["cmu_12_01_walk", "cmu_131_03_hop", "fair_wave_hello"])
def test_our_forward_kinematics_matches_blender(name: str, tmp_path: Path) -> None:
    assert_same_as_blender(FIXTURES / f"{name}.bvh", tmp_path)


def test_fresh_17_joint_bvh_opens_in_blender(tmp_path: Path) -> None:
    take = io.read(FIXTURES / "cmu_131_03_hop.bvh")
    io.write(take, tmp_path / "j17.bvh", into_source=False)
    assert_same_as_blender(tmp_path / "j17.bvh", tmp_path)


def test_written_back_bvh_opens_in_blender(tmp_path: Path) -> None:
    take = io.read(FIXTURES / "fair_wave_hello.bvh")
    edited = take.positions + np.random.default_rng(1).normal(0, 0.01, take.positions.shape).astype(np.float32)
    io.write(take.with_positions(edited, take.mask), tmp_path / "edited.bvh")
    assert_same_as_blender(tmp_path / "edited.bvh", tmp_path)
