"""`gfpose render`: before/after pictures open as images with the frames asked for."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.take import Take

from .conftest import synthetic_poses
from .test_cli import run

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture()
def takes(tmp_path: Path) -> tuple[Path, Path]:
    poses = synthetic_poses(60, seed=1) + np.linspace(0, 1, 60)[:, None, None].astype(np.float32)  # walks along
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    io.write(Take(positions=poses, fps=30.0), a)
    io.write(Take(positions=poses + 0.01, fps=30.0), b)
    return a, b


def test_gif_and_filmstrip(tmp_path: Path, capsys, takes: tuple[Path, Path]) -> None:
    a, b = takes
    gif = tmp_path / "ab.gif"
    code, _, err = run(["render", str(a), "--compare", str(b), "-o", str(gif), "--fps", "10", "--end", "1"], capsys)
    assert code == 0, err
    with Image.open(gif) as im:
        assert im.n_frames == 10 and im.size[0] > im.size[1]  # two panels side by side
    png = tmp_path / "strip.png"
    code, _, err = run(["render", str(a), "-o", str(png), "--panels", "4", "--quiet"], capsys)
    assert code == 0, err
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 2 * im.size[1]
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left


def test_render_refuses_what_it_cannot_draw(tmp_path: Path, capsys, takes: tuple[Path, Path]) -> None:
    a, _ = takes
    code, _, err = run(["render", str(a), "-o", str(tmp_path / "x.jpg")], capsys)
    assert code == 2 and ".gif, .mp4 or .png" in err and not (tmp_path / "x.jpg").exists()
    kp = tmp_path / "kp.npz"
    io.write(Take(positions=np.random.default_rng(0).uniform(0, 500, (10, 17, 2)).astype(np.float32), fps=30.0), kp)
    code, _, err = run(["render", str(a), "--compare", str(kp), "-o", str(tmp_path / "y.gif")], capsys)
    assert code == 2 and "two 3D takes or two 2D takes" in err and not (tmp_path / "y.gif").exists()
    code, _, err = run(["render", str(a), "-o", str(tmp_path / "z.gif"), "--start", "9"], capsys)
    assert code == 2 and "nothing to draw" in err


def test_a_long_take_is_animated_for_its_first_minute_unless_end_says_more(tmp_path: Path, capsys) -> None:
    """A 10-minute take rendered to GIF was 18,000 drawn frames (a quarter of an hour, a file nobody opens):
    a GIF or MP4 now stops a minute after --start, saying so; --end draws what it asks for."""
    pytest.importorskip("matplotlib")
    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    there_and_back = np.concatenate([np.arange(walk.n_frames), np.arange(walk.n_frames)[::-1]])
    long = Take(positions=walk.positions[np.resize(there_and_back, 30 * 100)], fps=30.0)  # 100 s
    io.write(long, tmp_path / "long.npz")
    code, out, err = run(["render", str(tmp_path / "long.npz"), "-o", str(tmp_path / "a.gif"), "--fps", "1"], capsys)
    assert code == 0, err
    assert "60 frames" in out + err and "seconds 0-60 of 100 (pass --end to draw more)" in out + err
    code, out, err = run(["render", str(tmp_path / "long.npz"), "-o", str(tmp_path / "b.gif"), "--fps", "1",
                          "--start", "20", "--end", "95"], capsys)
    assert code == 0 and "pass --end" not in out + err
