"""The command line end to end on NPZ and CSV with the shipped weights, including error paths."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gfpose_cli import io
from gfpose_cli.cli import app, main
from gfpose_cli.core.take import Take

from .conftest import synthetic_poses

COMMANDS = ("train", "lift", "complete", "denoise", "generate", "evaluate")
FAST = ["--steps", "5", "--quiet"]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run `gfpose argv` as the console script does; return (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_the_six_subcommands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name,start,end", [
    ("denoise", "C3D, TRC and BVH inputs written", "then the 17 joints."),
    ("evaluate", "With --protocol P --data MOCAP", "denoising at the paper's noise levels"),
    ("complete", "On a 3D take, each gap", "then bone lengths are held"),
])
def test_help_paragraphs_flow_instead_of_breaking_at_the_source_lines(name: str, start: str, end: str) -> None:
    """Typer's rich help keeps a docstring's line breaks: at 80 columns every long source line showed
    broken in two. Reflowed, a paragraph that fits the terminal is one line."""
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "250"})
    line = next(x for x in result.output.splitlines() if start in x)
    assert end in line


@pytest.mark.parametrize("name", COMMANDS)
def test_each_help_shows_defaults_and_an_example(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example:" in result.output
    if name != "evaluate":
        assert "default" in result.output


@pytest.fixture
def truth(tmp_path: Path) -> Take:
    take = Take(positions=synthetic_poses(20, seed=4), fps=30.0)
    io.write(take, tmp_path / "truth.npz")
    return take


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_generate_then_evaluate(tmp_path: Path, capsys, ext: str) -> None:
    code, _, _ = run(["generate", "--n", "50", "-o", str(tmp_path / f"g.{ext}"), *FAST], capsys)
    assert code == 0
    generated = io.read(tmp_path / f"g.{ext}")
    assert generated.positions.shape == (50, 17, 3) and np.isfinite(generated.positions).all()
    io.write(Take(positions=generated.positions), tmp_path / "same.npz")
    code, out, _ = run(["evaluate", str(tmp_path / f"g.{ext}"), str(tmp_path / "same.npz"), "--json"], capsys)
    assert code == 0 and json.loads(out)["mpjpe_mm"] < 1e-3


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_lift_keeps_hypotheses_and_evaluates(tmp_path: Path, capsys, truth: Take, ext: str) -> None:
    kp = Take(positions=truth.positions[..., :2] * 400 + 500)  # orthographic-ish view
    kp.positions[3, 13] = np.nan
    io.write(Take(positions=kp.positions), tmp_path / f"kp.{ext}")
    code, _, err = run(["lift", str(tmp_path / f"kp.{ext}"), "-o", str(tmp_path / f"l.{ext}"), "-s", "3", *FAST], capsys)
    assert code == 0, err
    lifted = io.read(tmp_path / f"l.{ext}")
    assert lifted.positions.shape == (20, 3, 17, 3)
    code, _, _ = run(["lift", str(tmp_path / f"kp.{ext}"), "-o", str(tmp_path / f"m.{ext}"), "-s", "3",
                      "--aggregate", "median", *FAST], capsys)
    assert code == 0 and io.read(tmp_path / f"m.{ext}").positions.shape == (20, 17, 3)
    code, out, _ = run(["evaluate", str(tmp_path / f"l.{ext}"), str(tmp_path / "truth.npz"), "--json"], capsys)
    scores = json.loads(out)
    assert code == 0 and scores["hypotheses"] == 3 and scores["min_mpjpe_mm"] <= scores["mpjpe_mm"] + 1e-6


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_complete_fills_only_missing_joints(tmp_path: Path, capsys, truth: Take, ext: str) -> None:
    partial = truth.positions.copy()
    partial[:, [5, 6]] = np.nan  # left knee and ankle
    io.write(Take(positions=partial), tmp_path / f"p.{ext}")
    code, _, err = run(["complete", str(tmp_path / f"p.{ext}"), "-o", str(tmp_path / f"c.{ext}"), *FAST], capsys)
    assert code == 0, err
    filled = io.read(tmp_path / f"c.{ext}").positions
    assert np.isfinite(filled).all()
    assert np.allclose(filled[:, :5], truth.positions[:, :5], atol=1e-5)
    assert not np.allclose(filled[:, 5:7], 0.0)


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_denoise_moves_noisy_poses(tmp_path: Path, capsys, truth: Take, ext: str) -> None:
    noisy = truth.positions + np.random.default_rng(0).normal(0, 0.02, truth.positions.shape).astype(np.float32)
    io.write(Take(positions=noisy), tmp_path / f"n.{ext}")
    # these poses are unrelated frames, not a take: the paper's per-frame denoiser applies
    code, _, err = run(["denoise", str(tmp_path / f"n.{ext}"), "-o", str(tmp_path / f"d.{ext}"), "--per-frame",
                        "--t0", "0.1", *FAST], capsys)
    assert code == 0, err
    out = io.read(tmp_path / f"d.{ext}").positions
    assert out.shape == noisy.shape and not np.allclose(out, noisy)
    # the root: the pelvis as the noisy pelvis and hips together place it (the hips' midpoint weighed twice),
    # nearer the truth than the noisy pelvis alone
    placed = (noisy[:, 0] + noisy[:, 1] + noisy[:, 4]) / 3
    assert np.allclose(out[:, 0], placed, atol=1e-5)
    truth_root = truth.positions[:, 0]
    assert np.linalg.norm(out[:, 0] - truth_root, axis=-1).mean() < np.linalg.norm(noisy[:, 0] - truth_root, axis=-1).mean()


def test_several_inputs_go_to_a_folder(tmp_path: Path, capsys, truth: Take) -> None:
    for name in ("a", "b"):
        io.write(truth, tmp_path / f"{name}.npz")
    code, _, err = run(["denoise", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o", str(tmp_path / "clean"), *FAST], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == ["a.npz", "b.npz"]


def test_seed_makes_output_deterministic(tmp_path: Path, capsys) -> None:
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        run(["generate", "--n", "8", "--seed", seed, "-o", str(tmp_path / f"{name}.npz"), *FAST], capsys)
    a, b, c = (io.read(tmp_path / f"{n}.npz").positions for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_error_paths_exit_2_with_one_line(tmp_path: Path, capsys, truth: Take) -> None:
    code, _, err = run(["denoise", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "x.npz")], capsys)
    assert code == 2 and "missing.npz" in err and "Traceback" not in err
    code, _, err = run(["denoise", str(tmp_path / "truth.npz"), "-o", str(tmp_path / "truth.npz")], capsys)
    assert code == 2 and "overwrite its input" in err
    io.write(truth, tmp_path / "exists.npz")
    before = (tmp_path / "exists.npz").read_bytes()
    code, _, err = run(["denoise", str(tmp_path / "truth.npz"), "-o", str(tmp_path / "exists.npz")], capsys)
    assert code == 2 and "--force" in err and (tmp_path / "exists.npz").read_bytes() == before
    (tmp_path / "broken.pt").write_bytes(b"garbage")
    code, _, err = run(["generate", "--n", "2", "--weights", str(tmp_path / "broken.pt"), "-o", str(tmp_path / "g.npz")], capsys)
    assert code == 2 and "broken.pt" in err and not (tmp_path / "g.npz").exists()
    from gfpose_cli.tasks import shipped_weights
    code, _, err = run(["lift", str(tmp_path / "truth.npz"), "-o", str(tmp_path / "l.npz"), "--weights", str(shipped_weights("prior"))], capsys)
    assert code == 2 and "'prior' model" in err
    code, _, err = run(["lift", str(tmp_path / "truth.npz"), "-o", str(tmp_path / "l.npz")], capsys)
    assert code == 2 and "2D keypoints" in err
    code, _, err = run(["generate", "--n", "2", "--no-such-option", "-o", str(tmp_path / "g.npz")], capsys)
    assert code == 2 and "no-such-option" in err.replace("\n", " ").lower() and "internal error" not in err
    partial = truth.positions.copy()
    partial[4, 7] = np.nan
    io.write(Take(positions=partial), tmp_path / "gap.npz")
    # the per-frame denoiser needs every joint (a take's smoother leaves gaps as gaps)
    code, _, err = run(["denoise", str(tmp_path / "gap.npz"), "-o", str(tmp_path / "d.npz"), "--per-frame"], capsys)
    assert code == 2 and "frame 4" in err and "Spine" in err


def test_inputs_are_not_modified(tmp_path: Path, capsys, truth: Take) -> None:
    before = (tmp_path / "truth.npz").read_bytes()
    for command, out in (("denoise", "d.npz"), ("complete", "c.npz")):
        code, _, err = run([command, str(tmp_path / "truth.npz"), "-o", str(tmp_path / out), *FAST], capsys)
        assert code == 0 and (tmp_path / out).exists(), err
    assert (tmp_path / "truth.npz").read_bytes() == before


def test_train_resume_and_use_the_checkpoint(tmp_path: Path, capsys, truth: Take) -> None:
    io.write(Take(positions=synthetic_poses(400)), tmp_path / "poses.npz")
    common = ["train", str(tmp_path / "poses.npz"), "--task", "prior", "--width", "32", "--blocks", "1",
              "--batch-size", "32", "--no-holdout", "-q", "--device", "cpu", "-o", str(tmp_path / "m.pt")]
    code, _, err = run([*common, "--steps", "3"], capsys)
    assert code == 0, err
    before = (tmp_path / "m.pt").read_bytes()
    code, _, err = run([*common, "--steps", "3"], capsys)  # a second run must not wipe the first
    assert code == 2 and "--resume" in err and (tmp_path / "m.pt").read_bytes() == before
    code, _, err = run([*common, "--steps", "6", "--resume", str(tmp_path / "m.pt"), "--export", str(tmp_path / "ship.pt")], capsys)
    assert code == 0, err
    code, _, err = run(["generate", "--n", "4", "--weights", str(tmp_path / "ship.pt"), "-o", str(tmp_path / "g.npz"), *FAST], capsys)
    assert code == 0, err


def test_generate_takes_its_own_default_steps_and_yields_to_given_ones(tmp_path: Path, capsys) -> None:
    """Unconditional generate runs dpm2m with tasks.GENERATE_STEPS (15, where the quality guard holds)
    unless --steps is given; the other tasks keep the sampler's 25."""
    from gfpose_cli import tasks

    assert tasks.GENERATE_STEPS["dpm2m"] < 25
    code, _, _ = run(["generate", "--n", "24", "--seed", "3", "--batch-size", "8", "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 0
    code, _, _ = run(["generate", "--n", "24", "--seed", "3", "--batch-size", "8", "--steps", "25",
                      "-o", str(tmp_path / "s25.npz")], capsys)
    assert code == 0
    default, given = io.read(tmp_path / "d.npz").positions, io.read(tmp_path / "s25.npz").positions

    def direct(steps: int) -> np.ndarray:
        runner = tasks.Runner.for_task("prior", None, tasks.SamplerOptions(seed=3, steps=steps, batch_size=8))
        return tasks.generate(runner, 24).positions

    assert np.allclose(default, direct(tasks.GENERATE_STEPS["dpm2m"]), atol=1e-6)
    assert np.allclose(given, direct(25), atol=1e-6)
    assert not np.allclose(default, given, atol=1e-4)
    assert tasks.generate_options(tasks.SamplerOptions(sampler="pc")).steps == 1000  # other samplers: their own


def test_file_commands_start_without_torch(tmp_path: Path) -> None:
    """convert, maps and render need no model: a shell loop over hundreds of takes should not pay torch's
    import (about 1.2 s of the 2.5 s a convert took) for each file."""
    import subprocess
    import sys

    src = Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d"
    script = (
        "import sys\n"
        "from gfpose_cli.cli import main\n"
        "for argv in sys.argv[1:]:\n"
        "    try:\n"
        "        main(argv.split('|'))\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, (argv, e.code)\n"
        "print('torch' in sys.modules)\n"
    )
    out = tmp_path / "take.npz"
    argvs = [f"convert|{src}|-o|{out}|-q", f"maps|{src}", f"render|{out}|-o|{tmp_path / 'take.png'}|-q"]
    done = subprocess.run([sys.executable, "-c", script, *argvs], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout
    assert out.exists() and (tmp_path / "take.png").exists()


def test_commands_take_the_reading_options_their_refusals_name(tmp_path, capsys) -> None:
    """A refusal names the option that fixes it (--force-read, --units, --map): `lift --skeleton` and `train`
    lacked --force-read, `evaluate` --map and --units, so following the advice gave "No such option"."""
    from pathlib import Path

    import numpy as np

    from gfpose_cli import io
    from gfpose_cli.core.take import Take

    walk_bvh = Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh"
    walk = io.read(walk_bvh)
    np.savez(tmp_path / "cm.npz", poses=(walk.positions * 100).astype(np.float32), fps=np.float32(walk.fps))
    pixels = walk.positions[:30, :, [0, 2]] * np.array([400.0, -400.0]) + 500.0
    io.write(Take(positions=pixels.astype(np.float32), fps=30.0), tmp_path / "kp.npz")
    lift = ["lift", str(tmp_path / "kp.npz"), "--skeleton", str(tmp_path / "cm.npz"), "-o", str(tmp_path / "l.npz")]
    code, _, err = run(lift, capsys)
    assert code == 2 and "--units cm" in err and "--force-read" in err
    code, _, err = run([*lift, "--units", "cm"], capsys)
    assert code == 0, err
    io.write(walk, tmp_path / "walk.npz")
    code, out, err = run(["evaluate", str(tmp_path / "walk.npz"), str(walk_bvh), "--map", "mixamo", "--units", "acclaim",
                          "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["mpjpe_mm"] < 1e-3
    code, _, err = run(["train", str(tmp_path / "cm.npz"), "--steps", "1", "--width", "16", "--blocks", "1",
                        "--batch-size", "8", "--no-holdout", "--device", "cpu", "--force-read", "-q",
                        "-o", str(tmp_path / "m.pt")], capsys)
    assert code == 0, err


def test_an_error_naming_a_damaged_file_s_labels_stays_one_line(tmp_path: Path, capsys) -> None:
    """A C3D whose second performer's labels hold a line break and control bytes (fuzz case 751: a
    repeated block of a Vicon file's parameters): the refusal naming its subjects was several lines;
    control characters are shown as escapes."""
    import ezc3d

    src = Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d"
    c = ezc3d.c3d(str(src))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    body = [k for k, n in enumerate(labels) if n in ("LASI", "RASI", "LPSI", "RPSI", "LKNE", "RKNE")]
    labels = [f"A:{n}" for n in labels] + [f"B\n\x1b[2J:{labels[k]}" for k in body]
    points = np.asarray(c["data"]["points"])
    c["data"]["points"] = np.concatenate([points, points[:, body]], axis=1)
    c["parameters"]["POINT"]["LABELS"]["value"] = labels
    del c["data"]["meta_points"]  # ezc3d makes them anew for the new number of points
    c.write(str(tmp_path / "two.c3d"))
    code, _, err = run(["convert", str(tmp_path / "two.c3d"), "-o", str(tmp_path / "x.npz")], capsys)
    assert code == 2 and "several subjects" in err, err
    assert len(err.strip().splitlines()) == 1 and "\\n" in err and "\x1b" not in err


def test_a_task_given_the_wrong_kind_of_take_says_which_it_is_and_what_reads_it(tmp_path: Path, capsys, truth: Take) -> None:
    # lift of a mocap file said "lift needs 2D keypoints (frames, 17, 2), got (524, 17, 3)"; a TRC of 2D
    # keypoints was refused as "C3D and BVH outputs need 3D poses"
    io.write(truth, tmp_path / "take.npz")
    code, _, err = run(["lift", str(tmp_path / "take.npz"), "-o", str(tmp_path / "out.npz")], capsys)
    assert code == 2 and "this take is 3D already (denoise, complete and convert read it" in err
    flat = Take(positions=truth.positions[..., :2] * 500 + 500, mask=truth.mask, fps=truth.fps)
    io.write(flat, tmp_path / "kp.npz")
    code, _, err = run(["convert", str(tmp_path / "kp.npz"), "-o", str(tmp_path / "kp.trc")], capsys)
    assert code == 2 and "kp.trc: TRC outputs hold 3D poses; these are 2D keypoints" in err
    assert not (tmp_path / "kp.trc").exists()
    code, _, err = run(["denoise", str(tmp_path / "kp.npz"), "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 2 and "these are 2D keypoints (lift them first)" in err


@pytest.mark.parametrize("task", ["lift", "complete"])
def test_hypotheses_kept_for_a_one_pose_output_are_refused_before_any_sampling(task: str, tmp_path: Path, capsys,
                                                                                truth: Take, monkeypatch) -> None:
    # `lift -s 50 -o take.bvh` sampled the whole take, then refused to write it
    from gfpose_cli import tasks

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before refusing")

    for name in ("lift", "lift_take", "complete"):
        monkeypatch.setattr(tasks, name, no_sampling)
    flat = Take(positions=truth.positions[..., :2] * 500 + 500, mask=truth.mask, fps=truth.fps)
    io.write(flat, tmp_path / "kp.npz")
    for out in ("take.bvh", "take.trc", "take.c3d"):
        code, _, err = run([task, str(tmp_path / "kp.npz"), "-s", "3", "-o", str(tmp_path / out)], capsys)
        assert code == 2 and "hold one pose per frame; pass --aggregate mean" in err and "all 3 hypotheses" in err
        assert not (tmp_path / out).exists()
