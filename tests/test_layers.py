"""The layer contract (.importlinter, docs/ARCHITECTURE.md) holds, and it catches a forbidden import."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install '.[test]')")


def lint(package_parent: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([LINT, "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=package_parent,
                          capture_output=True, text=True, env=env, timeout=300)


def test_the_package_keeps_its_layers() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module,line,broken", [
    ("core/skeleton.py", "from gfpose_cli.model import sde  # noqa", "gfpose_cli.core is not allowed to import gfpose_cli.model"),
    ("io/npz.py", "from gfpose_cli.tasks import Runner  # noqa", "gfpose_cli.io is not allowed to import gfpose_cli.tasks"),
    ("io/csv.py", "import torch  # noqa", "need no torch BROKEN"),
])
def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    copy = tmp_path / "gfpose_cli"
    shutil.copytree(ROOT / "gfpose_cli", copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert broken in " ".join(result.stdout.split()), result.stdout
