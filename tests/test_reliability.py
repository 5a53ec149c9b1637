"""Faults and long jobs: batches go on past bad files, kill -9 resumes to identical outputs, a full
disk leaves nothing behind, the same run gives the same bytes, inputs are never touched."""
from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.model import checkpoint
from gfpose_cli.core.take import Take

from .conftest import FIXTURES, needs_fixtures, synthetic_poses
from .test_cli import FAST, run

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--width", "32", "--blocks", "1", "--batch-size", "64", "--warmup", "2", "--no-holdout", "--device", "cpu", "-q"]


def gfpose(args: list[str], limits=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real console entry point in a child process (what a shell loop runs)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gfpose_cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limits, check=False)


def popen(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "gfpose_cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting for the job to make progress"
        time.sleep(0.05)


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files a writer might leave behind."""
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name or p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """A tiny prior (trained a few steps here) so long jobs run in seconds."""
    folder = tmp_path_factory.mktemp("tiny")
    io.write(Take(positions=synthetic_poses(300)), folder / "poses.npz")
    done = gfpose(["train", str(folder / "poses.npz"), "--task", "prior", *TINY, "--steps", "3",
                   "-o", str(folder / "state.pt"), "--export", str(folder / "prior.pt")])
    assert done.returncode == 0, done.stderr
    return folder / "prior.pt"


def test_batch_goes_on_past_a_bad_file_and_fail_fast_stops(tmp_path: Path, capsys) -> None:
    good = Take(positions=synthetic_poses(6))
    io.write(good, tmp_path / "a.npz")
    (tmp_path / "b.npz").write_bytes(b"not an npz at all")
    io.write(good, tmp_path / "c.npz")
    inputs = [str(tmp_path / n) for n in ("a.npz", "b.npz", "c.npz")]
    code, _, err = run(["denoise", *inputs, "-o", str(tmp_path / "all"), *FAST], capsys)
    assert code == 2
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["a.npz", "c.npz"]
    assert "2 ok, 1 failed" in err and "b.npz" in err and "Traceback" not in err
    code, _, err = run(["denoise", *inputs, "-o", str(tmp_path / "ff"), "--fail-fast", *FAST], capsys)
    assert code == 2 and "1 not started (--fail-fast)" in err
    assert sorted(p.name for p in (tmp_path / "ff").iterdir()) == ["a.npz"]


def test_inputs_of_several_folders_with_one_name_are_not_written_over_each_other(tmp_path: Path, capsys) -> None:
    """day1/take01 and day2/take01 into one -o folder: the second failed as "output exists" (and with --force
    would have replaced the first); each output now keeps its input's folder. Two inputs of one folder that
    would still meet (take01.bvh and take01.npz, both to CSV) are refused before anything is written."""
    vendors = Path(__file__).parent / "data" / "vendors"
    for day, name in (("day1", "dme__blender_rendering_example.bvh"), ("day2", "bvhpy__test_mocapbank.bvh")):
        (tmp_path / day).mkdir()
        (tmp_path / day / "take01.bvh").write_bytes((vendors / name).read_bytes())
    inputs = [str(tmp_path / "day1" / "take01.bvh"), str(tmp_path / "day2" / "take01.bvh")]
    code, _, err = run(["convert", *inputs, "-o", str(tmp_path / "out"), "--format", "npz"], capsys)
    assert code == 0, err
    assert "each output keeps its input's folder" in err
    one, two = io.read(tmp_path / "out" / "day1" / "take01.npz"), io.read(tmp_path / "out" / "day2" / "take01.npz")
    assert one.n_frames == io.read(inputs[0]).n_frames and two.n_frames == io.read(inputs[1]).n_frames
    io.write(io.read(inputs[0]), tmp_path / "day1" / "take01.npz")
    code, _, err = run(["convert", inputs[0], str(tmp_path / "day1" / "take01.npz"), "-o", str(tmp_path / "csv"),
                        "--format", "csv"], capsys)
    assert code == 2 and "would both be written to" in err and not (tmp_path / "csv").exists()


def test_output_dash_is_refused_not_made_a_folder(tmp_path: Path, capsys, monkeypatch) -> None:
    """`-o -` (standard output, in Unix habit) made a folder named "-" and wrote into it."""
    monkeypatch.chdir(tmp_path)
    take = Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh"
    code, _, err = run(["convert", str(take), "-o", "-"], capsys)
    assert code == 2 and "not standard output" in err and not (tmp_path / "-").exists()


def test_a_batch_names_the_flags_a_failed_file_needs(tmp_path: Path, capsys) -> None:
    """A file refused inside a batch is worded for the command line like a single file's refusal
    (`pass it with --map`), not with the Python parameter's name (`pass it with map`)."""
    unlabelled = Path(__file__).parent / "data" / "vendors" / "btk__FP1.c3d"
    code, _, alone = run(["convert", str(unlabelled), "-o", str(tmp_path / "one.npz")], capsys)
    assert code == 2 and "pass it with --map" in alone
    good = tmp_path / "a.npz"
    io.write(Take(positions=synthetic_poses(6)), good)
    code, _, err = run(["convert", str(good), str(unlabelled), "-o", str(tmp_path / "all")], capsys)
    flat = " ".join(err.split())  # the table folds long cells
    assert code == 2 and "1 ok, 1 failed" in err
    assert "with --map" in flat and "with map" not in flat


@pytest.mark.parametrize("ext", ["npz", "csv", "bvh", "c3d"])
def test_same_run_gives_the_same_bytes(tmp_path: Path, capsys, ext: str) -> None:
    outputs = []
    for name in ("first", "second"):
        code, _, err = run(["generate", "--n", "6", "--seed", "3", "-o", str(tmp_path / f"{name}.{ext}"), *FAST], capsys)
        assert code == 0, err
        outputs.append((tmp_path / f"{name}.{ext}").read_bytes())
        time.sleep(1.1)  # a writer that stamps the time (numpy's savez does) would differ now
    assert outputs[0] == outputs[1]


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("ext", ["npz", "c3d", "bvh"])
def test_a_full_disk_leaves_no_partial_output(tmp_path: Path, ext: str, tiny_weights: Path) -> None:
    """The OS refuses to grow any file past 20 kB, as a full disk would; the job fails in one line."""
    out = tmp_path / "out"
    out.mkdir()
    done = gfpose(["generate", "--n", "400", "--weights", str(tiny_weights), "--steps", "2",
                   "-o", str(out / f"g.{ext}")], limits=_limit_file_size(20_000))
    assert done.returncode == 1, done.stderr
    assert "could not be written" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(out.iterdir()) == []


def test_kill_9_during_generate_then_resume_gives_identical_output(tmp_path: Path, tiny_weights: Path) -> None:
    common = ["generate", "--n", "177200", "--weights", str(tiny_weights), "--steps", "2", "--batch-size", "2048", "-q"]
    whole = gfpose([*common, "-o", str(tmp_path / "whole.npz")])
    assert whole.returncode == 0, whole.stderr
    state = tmp_path / ".killed.npz.gfpose-resume"
    job = popen([*common, "-o", str(tmp_path / "killed.npz")])
    wait_for(lambda: len(list(state.glob("chunk_*.npy"))) >= 10, job)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (tmp_path / "killed.npz").exists() and leftovers(tmp_path) == []
    kept = len(list(state.glob("chunk_*.npy")))
    assert 10 <= kept < 87  # 177,200 poses are 87 chunks of 2,048
    resumed = gfpose([*common[:-1], "-o", str(tmp_path / "killed.npz")])
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {kept} finished chunks" in resumed.stderr
    assert (tmp_path / "killed.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()
    assert not state.exists(), "resume state is removed once the output is written"


def test_sigterm_during_generate_says_how_to_resume(tmp_path: Path, tiny_weights: Path) -> None:
    common = ["generate", "--n", "60000", "--weights", str(tiny_weights), "--steps", "2", "--batch-size", "1000", "-q"]
    state = tmp_path / ".g.npz.gfpose-resume"
    job = popen([*common, "-o", str(tmp_path / "g.npz")])
    wait_for(lambda: len(list(state.glob("chunk_*.npy"))) >= 2, job)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert not (tmp_path / "g.npz").exists() and leftovers(tmp_path) == []
    assert gfpose([*common, "-o", str(tmp_path / "g.npz")]).returncode == 0
    assert not state.exists()


def test_resume_state_of_another_job_is_not_mixed_in(tmp_path: Path, tiny_weights: Path) -> None:
    # 50 chunks: long enough that the first chunk file is seen before the job ends and removes them
    common = ["generate", "--n", "50000", "--weights", str(tiny_weights), "--steps", "2", "--batch-size", "1000", "-q"]
    state = tmp_path / ".g.npz.gfpose-resume"
    job = popen([*common, "--seed", "1", "-o", str(tmp_path / "g.npz")])
    wait_for(lambda: len(list(state.glob("chunk_*.npy"))) >= 1, job)
    job.send_signal(signal.SIGKILL)
    job.wait()
    other = gfpose([*common, "--seed", "2", "-o", str(tmp_path / "g.npz")])
    assert other.returncode == 2 and "interrupted job with other settings" in other.stderr
    forced = gfpose([*common, "--seed", "2", "--force", "-o", str(tmp_path / "g.npz")])
    assert forced.returncode == 0, forced.stderr
    fresh = gfpose([*common, "--seed", "2", "-o", str(tmp_path / "fresh.npz")])
    assert fresh.returncode == 0
    assert (tmp_path / "g.npz").read_bytes() == (tmp_path / "fresh.npz").read_bytes()


def test_kill_9_during_train_then_resume_gives_identical_weights(tmp_path: Path) -> None:
    io.write(Take(positions=synthetic_poses(500)), tmp_path / "poses.npz")
    common = ["train", str(tmp_path / "poses.npz"), "--task", "lift", *TINY, "--steps", "300"]
    whole = gfpose([*common, "--checkpoint-every", "1e9", "-o", str(tmp_path / "whole.pt")])
    assert whole.returncode == 0, whole.stderr
    killed = tmp_path / "killed.pt"
    job = popen([*common, "--checkpoint-every", "0.3", "-o", str(killed)])

    def mid_run_checkpoint() -> bool:
        try:
            return 0 < checkpoint.read(killed)["step"] < 250
        except Exception:  # noqa: BLE001 - not written yet
            return False
    wait_for(mid_run_checkpoint, job)
    job.send_signal(signal.SIGKILL)
    job.wait()
    stopped_at = checkpoint.read(killed)["step"]
    assert 0 < stopped_at < 300 and leftovers(tmp_path) == []
    resumed = gfpose([*common, "--checkpoint-every", "1e9", "--resume", str(killed), "-o", str(killed)])
    assert resumed.returncode == 0, resumed.stderr
    a, b = checkpoint.read(tmp_path / "whole.pt"), checkpoint.read(killed)
    assert a["step"] == b["step"] == 300
    for key in a["ema"]:
        assert np.array_equal(a["ema"][key].numpy(), b["ema"][key].numpy()), f"{key} differs after resuming at {stopped_at}"


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@needs_fixtures
def test_inputs_are_byte_identical_after_every_subcommand(tmp_path: Path, capsys) -> None:
    c3d, bvh = FIXTURES / "cmu_85_02.c3d", FIXTURES / "cmu_12_01_walk.bvh"
    before = {p: _digest(p) for p in (c3d, bvh)}
    io.write(Take(positions=synthetic_poses(5)), tmp_path / "truth.npz")
    for src in (c3d, bvh):
        stem = src.stem
        for argv in (["denoise", str(src), "-o", str(tmp_path / f"d_{stem}{src.suffix}"), *FAST],
                     ["complete", str(src), "-o", str(tmp_path / f"c_{stem}{src.suffix}"), *FAST],
                     ["convert", str(src), "-o", str(tmp_path / f"v_{stem}.npz"), "-q"],
                     ["maps", str(src)],
                     ["train", str(src), *TINY, "--steps", "1", "-o", str(tmp_path / f"t_{stem}.pt")]):
            code, _, err = run(argv, capsys)
            assert code == 0, (argv[0], err)
        code, _, err = run(["evaluate", str(tmp_path / f"v_{stem}.npz"), str(src)], capsys)
        assert code == 0, err
    assert {p: _digest(p) for p in (c3d, bvh)} == before
