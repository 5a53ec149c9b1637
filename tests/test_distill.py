"""Few-step students (issue 25, item 1): `gfpose train --distill-from TEACHER` trains a network that
reaches the teacher's samples in k solver steps; the student checkpoint records its teacher, and
every command samples it with its own k and temperature unless told otherwise."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gfpose_cli import tasks
from gfpose_cli.core.errors import InputError, ParameterError
from gfpose_cli.model import checkpoint
from gfpose_cli.training.distill import DistillConfig, Distiller
from gfpose_cli.training.distributed import DistContext
from gfpose_cli.training.trainer import TrainConfig, Trainer

from .conftest import synthetic_poses

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def small_teacher(tmp_path: Path, task: str = "prior") -> Path:
    cfg = TrainConfig(task=task, steps=4, batch_size=64, width=32, blocks=1, warmup=2, ema=0.9, seed=1, checkpoint_every_s=1e9)
    poses = torch.from_numpy(synthetic_poses(400))
    Trainer(cfg, poses, poses[:80], {"test": True}, "cpu").run(tmp_path / f"teacher-{task}.pt")
    return tmp_path / f"teacher-{task}.pt"


def distiller(teacher: Path, steps: int, *, task: str = "prior", k: int = 2, pool: int = 1000, seed: int = 0,
              lr: float = 1e-3) -> Distiller:
    cfg = TrainConfig(task=task, steps=steps, batch_size=64, lr=lr, warmup=1, ema=0.9, seed=seed, checkpoint_every_s=1e9)
    poses = torch.from_numpy(synthetic_poses(300, seed=2))
    return Distiller(cfg, poses, poses[:60], {"test": True}, "cpu", None, DistContext(), teacher=checkpoint.read(teacher),
                     teacher_path=teacher, distill=DistillConfig(student_steps=k, temperature=0.8, pool=pool, chunk=512))


def test_a_student_of_the_shipped_prior_comes_closer_to_its_samples() -> None:
    """A 2-step student starts as the teacher (whose own 2-step samples are far from its 25-step ones)
    and, trained on the teacher's samples, comes closer to them on held-out starting points."""
    d = distiller(WEIGHTS / "prior.pt", steps=15, pool=2000, lr=5e-5)
    before = d.validate()
    d.cfg.batch_size = 256
    for _ in range(15):
        d.train_step()
    after = d.validate()
    assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("task", ["prior", "lift"])
def test_student_resume_is_bit_for_bit_and_records_its_teacher(tmp_path: Path, task: str) -> None:
    teacher = small_teacher(tmp_path, task)
    straight = distiller(teacher, steps=4, task=task)
    straight.run(tmp_path / "a.pt", export=tmp_path / "ship.pt")
    first = distiller(teacher, steps=2, task=task)
    first.run(tmp_path / "b.pt")
    resumed = distiller(teacher, steps=4, task=task)
    resumed.load_state(checkpoint.read(tmp_path / "b.pt"), tmp_path / "b.pt")
    resumed.run(tmp_path / "b.pt")
    a, b = checkpoint.read(tmp_path / "a.pt"), checkpoint.read(tmp_path / "b.pt")
    for key in a["ema"]:
        assert torch.equal(a["ema"][key], b["ema"][key]), key
    ship = checkpoint.read(tmp_path / "ship.pt")
    record = ship["distill"]
    assert record["student_steps"] == 2 and record["teacher_steps"] == 25 and record["temperature"] == 0.8
    assert record["teacher_sha256"] == __import__("hashlib").sha256(teacher.read_bytes()).hexdigest()
    assert ship["data_summary"]["distill"] == record and ship["task"] == task
    # a run of another teacher is not resumed into this one
    (tmp_path / "other").mkdir()
    other = distiller(small_teacher(tmp_path / "other", task), steps=4, task=task)
    assert other.teacher_record["teacher_sha256"] != record["teacher_sha256"]
    with pytest.raises(InputError, match="another teacher"):
        other.load_state(checkpoint.read(tmp_path / "b.pt"), tmp_path / "b.pt")


def test_a_student_samples_with_its_own_steps_and_temperature(tmp_path: Path) -> None:
    """The runner takes the student's k and temperature by default, the caller's when given; the
    solver it was trained for is the only one it runs with; its samples are seeded as any model's."""
    teacher = small_teacher(tmp_path)
    distiller(teacher, steps=2).run(tmp_path / "s.pt", export=tmp_path / "student.pt")
    runner = tasks.Runner.for_task("prior", tmp_path / "student.pt", tasks.SamplerOptions(precision="fp32"))
    assert runner.opts.steps == 2 and runner.temperature == 0.8
    mine = tasks.Runner.for_task("prior", tmp_path / "student.pt", tasks.SamplerOptions(steps=5, temperature=0.5, precision="fp32"))
    assert mine.opts.steps == 5 and mine.temperature == 0.5
    with pytest.raises(ParameterError, match="2-step student of teacher-prior.pt, trained for the dpm2m solver"):
        tasks.Runner.for_task("prior", tmp_path / "student.pt", tasks.SamplerOptions(sampler="pc"))
    a = tasks.generate(runner, 50).positions
    b = tasks.generate(tasks.Runner.for_task("prior", tmp_path / "student.pt", tasks.SamplerOptions(precision="fp32")), 50).positions
    assert np.array_equal(a, b) and np.isfinite(a).all()


def test_distillation_refuses_what_cannot_teach(tmp_path: Path) -> None:
    from gfpose_cli.training import session

    teacher = small_teacher(tmp_path)
    distiller(teacher, steps=1).run(tmp_path / "s.pt", export=tmp_path / "student.pt")
    poses = _pose_set()
    with pytest.raises(InputError, match="cannot teach a 'lift' student; pass --task prior"):
        session.build_trainer(TrainConfig(task="lift"), poses, torch.device("cpu"), distill_from=teacher)
    with pytest.raises(InputError, match="is itself a student"):
        session.build_trainer(TrainConfig(task="prior"), poses, torch.device("cpu"), distill_from=tmp_path / "student.pt")
    with pytest.raises(InputError, match=r"pass \S*distill.from or \S*init.from, not both"):
        session.build_trainer(TrainConfig(task="prior"), poses, torch.device("cpu"), distill_from=teacher, init_from=teacher)
    with pytest.raises(ParameterError, match="fewer than the teacher's 25"):
        DistillConfig(student_steps=25)


def _pose_set():
    from gfpose_cli.training import data as data_mod, session

    poses = synthetic_poses(200).astype(np.float32)
    ps = data_mod.PoseSet(poses=poses, root=np.zeros((len(poses), 3), np.float32), take=np.zeros(len(poses), np.int64),
                          takes=["t"], subjects=["user:s"])
    return session.TrainingData(train=ps, held=ps.subset(np.zeros(len(poses), bool)), summary={}, skipped=[])
