"""Shared fixtures: paths to ../shared (tests using it skip cleanly without it) and synthetic poses."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli.kinematics.rotations import axis_rotation

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
DATA = SHARED / "data"

needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is not present")
needs_data = pytest.mark.skipif(not (DATA / "cmu-bvh.tar.xz").exists(), reason="../shared/data archives are not present")

# rest offsets (metres, Z up) of one body in the 17-joint skeleton
REST = np.array([
    [0, 0, 0], [-0.13, 0, 0], [0, 0, -0.44], [0, 0, -0.44], [0.13, 0, 0], [0, 0, -0.44], [0, 0, -0.44],
    [0, 0, 0.23], [0, 0, 0.25], [0, 0.02, 0.11], [0, 0, 0.12],
    [0.16, 0, -0.02], [0, 0, -0.28], [0, 0, -0.25], [-0.16, 0, -0.02], [0, 0, -0.28], [0, 0, -0.25],
])
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)


def synthetic_poses(n: int, seed: int = 0) -> np.ndarray:
    """Poses (n, 17, 3) of one body with random but human-like joint rotations (Z up, root at 0)."""
    rng = np.random.default_rng(seed)
    spread = np.array([0.1, 0.1, 0.1, 0.6, 0.1, 0.6, 0.6, 0.2, 0.15, 0.3, 0.3, 0.6, 0.9, 0.5, 0.6, 0.9, 0.5])
    angles = rng.normal(0, 1, (n, 17, 2)) * spread[None, :, None]
    angles[:, [2, 5], 0] = -np.abs(angles[:, [2, 5], 0])  # knees bend one way
    yaw = rng.uniform(0, 2 * np.pi, n)
    world_R = np.zeros((n, 17, 3, 3))
    pos = np.zeros((n, 17, 3))
    for j, p in enumerate(PARENTS):
        local = axis_rotation(0, angles[:, j, 0]) @ axis_rotation(1, angles[:, j, 1])
        if p < 0:
            world_R[:, j] = axis_rotation(2, yaw) @ local
        else:
            world_R[:, j] = world_R[:, p] @ local
            pos[:, j] = pos[:, p] + np.einsum("nij,j->ni", world_R[:, p], REST[j])
    return pos.astype(np.float32)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the fuzz suite's case count and seed in every run, passing or not."""
    from .test_fuzz import FUZZ_SUMMARY

    for line in config.stash.get(FUZZ_SUMMARY, []):
        terminalreporter.write_line(line)


def occluded_c3d(src: Path, out: Path, markers: tuple[str, ...], frames: slice) -> tuple[list[int], np.ndarray]:
    """A copy of the C3D src with the named markers (by label, after any `Subject:` prefix) invalid in
    frames, as a capture program writes an occlusion (NaN, residual -1); their columns and the file's own
    point coordinates (3, N, F)."""
    import ezc3d

    c = ezc3d.c3d(str(src))
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    cols = [i for i, name in enumerate(labels) if name.split(":")[-1] in markers]
    truth = np.array(c["data"]["points"][:3])
    points = np.array(c["data"]["points"])
    points[:3, cols, frames] = np.nan
    c["data"]["points"] = points
    residuals = np.array(c["data"]["meta_points"]["residuals"])
    residuals[:, cols, frames] = -1.0
    c["data"]["meta_points"]["residuals"] = residuals
    c.write(str(out))
    return cols, truth
